#include "log_pane.h"

#include <QScrollBar>
#include <QTextCharFormat>
#include <QTime>

namespace weft::ui {

LogPane::LogPane(QWidget* parent)
    : QPlainTextEdit(parent)
{
    setReadOnly(true);
    setMaximumBlockCount(kMaxLines);
    setLineWrapMode(QPlainTextEdit::NoWrap);
    QFont mono(QStringLiteral("monospace"));
    mono.setStyleHint(QFont::TypeWriter);
    setFont(mono);
    setPlaceholderText(tr("Worker output and cluster events appear here."));
}

void LogPane::append(Kind kind, const QString& text)
{
    QScrollBar* bar = verticalScrollBar();
    const bool atEnd = bar->value() == bar->maximum();
    QTextCharFormat fmt;
    if (kind == Kind::Error)
        fmt.setForeground(QColor(0xd0, 0x3b, 0x3b));
    else if (kind == Kind::Event)
        fmt.setForeground(palette().color(QPalette::PlaceholderText));
    QTextCursor c(document());
    c.movePosition(QTextCursor::End);
    if (!document()->isEmpty())
        c.insertBlock();
    c.insertText(QTime::currentTime().toString(QStringLiteral("HH:mm:ss  ")) + text, fmt);
    if (atEnd)
        bar->setValue(bar->maximum());
}

} // namespace weft::ui
