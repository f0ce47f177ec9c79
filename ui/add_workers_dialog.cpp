#include "add_workers_dialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QThread>

namespace weft::ui {

AddWorkersDialog::AddWorkersDialog(QWidget* parent)
    : QDialog(parent)
    , m_count(new QSpinBox)
    , m_default(new QSpinBox)
    , m_interactive(new QSpinBox)
{
    setWindowTitle(tr("Add local workers"));
    m_count->setObjectName(QStringLiteral("workerCount"));
    m_count->setRange(1, 128);
    m_count->setValue(std::clamp(QThread::idealThreadCount(), 1, 8));
    m_default->setObjectName(QStringLiteral("defaultThreads"));
    m_default->setRange(1, 256);
    m_default->setValue(1);
    m_interactive->setObjectName(QStringLiteral("interactiveThreads"));
    m_interactive->setRange(0, 64);
    m_interactive->setValue(1);
    auto* form = new QFormLayout(this);
    auto* intro = new QLabel(tr("Worker processes on this machine. Each runs tasks on a "
                                "<i>default</i> thread pool and an <i>interactive</i> one."));
    intro->setWordWrap(true);
    form->addRow(intro);
    form->addRow(tr("&Workers:"), m_count);
    form->addRow(tr("&Default threads each:"), m_default);
    form->addRow(tr("&Interactive threads each:"), m_interactive);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Add"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(buttons);
}

int AddWorkersDialog::count() const
{
    return m_count->value();
}

Threads AddWorkersDialog::threads() const
{
    return { m_default->value(), m_interactive->value() };
}

} // namespace weft::ui
