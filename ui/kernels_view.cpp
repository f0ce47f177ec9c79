#include "kernels_view.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace weft::ui {

QString processRanges(QList<Pid> pids)
{
    std::sort(pids.begin(), pids.end());
    QStringList parts;
    for (qsizetype i = 0; i < pids.size();) {
        qsizetype j = i;
        while (j + 1 < pids.size() && pids[j + 1] == pids[j] + 1)
            ++j;
        parts << (j > i + 1 ? QStringLiteral("%1–%2").arg(pids[i]).arg(pids[j])
                            : QString::number(pids[i]));
        if (j == i + 1)
            parts << QString::number(pids[j]);
        i = j + 1;
    }
    return parts.join(QStringLiteral(", "));
}

KernelsView::KernelsView(QWidget* parent)
    : QWidget(parent)
    , m_table(new QTableWidget(0, 5))
    , m_errors(new QLabel)
{
    m_table->setObjectName(QStringLiteral("kernelsTable"));
    m_table->setHorizontalHeaderLabels(
        { tr("Kernel"), tr("Library"), tr("Signature"), tr("Processes"), tr("Description") });
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setAlternatingRowColors(true);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(0, Qt::AscendingOrder);
    m_errors->setObjectName(QStringLiteral("kernelLoadErrors"));
    m_errors->setWordWrap(true);
    m_errors->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_errors->setStyleSheet(QStringLiteral("color: #b3261e;"));
    m_errors->hide();
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_errors);
}

void KernelsView::setCatalog(const KernelCatalog& catalog, const QList<Pid>& processes)
{
    m_table->setSortingEnabled(false);
    m_table->setRowCount(static_cast<int>(catalog.kernels.size()));
    int row = 0;
    for (const auto& e : catalog.kernels) {
        const auto& k = e.kernel;
        const bool everywhere = std::all_of(
            processes.begin(), processes.end(), [&](Pid p) { return e.processes.contains(p); });
        const QString where = everywhere && processes.size() > 1
            ? tr("all %1").arg(processes.size())
            : processRanges(e.processes);
        const QStringList cells { QString::fromStdString(k.name),
            k.library.empty() ? tr("(built in)") : QString::fromStdString(k.library),
            QString::fromStdString(k.signature), where, QString::fromStdString(k.description) };
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            item->setToolTip(
                c == 3 ? tr("Processes: %1").arg(processRanges(e.processes)) : cells[c]);
            m_table->setItem(row, c, item);
        }
        ++row;
    }
    m_table->setSortingEnabled(true);
    m_table->resizeColumnsToContents();
    m_errors->setVisible(!catalog.errors.isEmpty());
    m_errors->setText(catalog.errors.isEmpty()
            ? QString()
            : tr("Not loaded everywhere:\n%1").arg(catalog.errors.join(QLatin1Char('\n'))));
}

} // namespace weft::ui
