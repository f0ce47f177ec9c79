#pragma once
// Worker output ("From worker N: ...") and engine events, newest at the bottom, bounded.

#include <QPlainTextEdit>

namespace weft::ui {

class LogPane final : public QPlainTextEdit {
    Q_OBJECT
public:
    enum class Kind { Output, Event, Error };
    explicit LogPane(QWidget* parent = nullptr);
    void append(Kind kind, const QString& text);
    static constexpr int kMaxLines = 10000;
};

} // namespace weft::ui
