#include "workers_model.h"

#include <QColor>
#include <QLocale>

#include <algorithm>
#include <map>

namespace weft::ui {

QString WorkersModel::stateName(RowState s)
{
    switch (s) {
    case RowState::Starting:
        return tr("starting");
    case RowState::Idle:
        return tr("idle");
    case RowState::Busy:
        return tr("busy");
    case RowState::Exiting:
        return tr("exiting");
    case RowState::Dead:
        return tr("dead");
    }
    return {};
}

WorkersModel::WorkersModel(QObject* parent)
    : KeyedTableModel(ColumnCount, { Qt::DisplayRole, Qt::ToolTipRole, Qt::ForegroundRole }, parent)
{
}

void WorkersModel::apply(const TelemetrySnapshot& snap)
{
    std::vector<WorkerRow> next;
    next.reserve(snap.processes.size());
    for (const auto& p : snap.processes) { // by pid, the master first
        WorkerRow r;
        r.pid = p.pid;
        r.host = p.pid == 1 ? tr("master") : QString::fromStdString(p.host);
        r.osPid = p.os_pid;
        r.reason = QString::fromStdString(p.exit_reason);
        const auto& s = p.latest;
        // Sampled: what the process reports; otherwise what it was started with.
        const bool sampled = s.pools[0].threads > 0;
        r.threadsDefault = sampled ? s.pools[0].threads : p.threads.default_threads;
        r.threadsInteractive = sampled ? s.pools[1].threads : p.threads.interactive;
        switch (p.state) {
        case WorkerState::Starting:
            r.state = RowState::Starting;
            break;
        case WorkerState::Exiting:
            r.state = RowState::Exiting;
            break;
        case WorkerState::Exited:
            r.state = RowState::Dead;
            break;
        case WorkerState::Running:
            r.running = s.pools[0].busy + s.pools[1].busy;
            r.queued = s.pools[0].runnable + s.pools[1].runnable;
            r.state = r.running > 0 || r.queued > 0 ? RowState::Busy : RowState::Idle;
            break;
        }
        if (r.state != RowState::Dead) {
            r.cpu = s.cpu_percent;
            r.blocked = s.pools[0].blocked + s.pools[1].blocked;
        }
        r.rss = s.rss_bytes;
        next.push_back(std::move(r));
    }
    std::sort(next.begin(), next.end(), [](auto& a, auto& b) { return a.key() < b.key(); });
    setRows(std::move(next));
}

std::uint64_t WorkersModel::changedColumns(const WorkerRow& a, const WorkerRow& b) const
{
    std::uint64_t c = 0;
    const auto mark = [&](bool differs, Column col) { c |= std::uint64_t(differs) << col; };
    mark(a.host != b.host || a.osPid != b.osPid, Host);
    mark(a.state != b.state || a.reason != b.reason, State);
    mark(a.threadsDefault != b.threadsDefault || a.threadsInteractive != b.threadsInteractive,
        Threads);
    mark(a.cpu != b.cpu, Cpu);
    mark(a.rss != b.rss, Memory);
    mark(a.running != b.running, Running);
    mark(a.queued != b.queued || a.blocked != b.blocked, Queued);
    return c;
}

weft::Pid WorkersModel::pidAt(int row) const
{
    return row >= 0 && row < rowCount() ? this->row(row).pid : 0;
}

int WorkersModel::rowOf(weft::Pid pid) const
{
    const auto& rs = rows();
    auto it = std::lower_bound(
        rs.begin(), rs.end(), pid, [](const WorkerRow& r, weft::Pid p) { return r.pid < p; });
    return it != rs.end() && it->pid == pid ? int(it - rs.begin()) : -1;
}

WorkersModel::RowState WorkersModel::stateAt(int row) const
{
    return rows().at(std::size_t(row)).state;
}

QVariant WorkersModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const WorkerRow& r = row(index.row());
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case Pid:
            return r.pid == 1 ? tr("1 (master)") : QString::number(r.pid);
        case Host:
            return r.osPid > 0 ? QStringLiteral("%1 · os pid %2").arg(r.host).arg(r.osPid) : r.host;
        case State:
            return r.state == RowState::Dead && !r.reason.isEmpty() ? tr("dead: %1").arg(r.reason)
                                                                    : stateName(r.state);
        case Threads:
            return QStringLiteral("%1+%2").arg(r.threadsDefault).arg(r.threadsInteractive);
        case Cpu:
            return QStringLiteral("%1 %").arg(r.cpu, 0, 'f', 0);
        case Memory:
            return QLocale().formattedDataSize(
                qint64(r.rss), 1, QLocale::DataSizeTraditionalFormat);
        case Running:
            return r.running;
        case Queued:
            return r.blocked ? QStringLiteral("%1 (+%2 waiting)").arg(r.queued).arg(r.blocked)
                             : QString::number(r.queued);
        }
        break;
    case Qt::ToolTipRole:
        if (index.column() == State && !r.reason.isEmpty())
            return r.reason;
        if (index.column() == Threads)
            return tr("%1 default + %2 interactive threads")
                .arg(r.threadsDefault)
                .arg(r.threadsInteractive);
        if (index.column() == Queued)
            return tr("%1 tasks ready to run, %2 waiting (fetch, take, sleep)")
                .arg(r.queued)
                .arg(r.blocked);
        break;
    case Qt::TextAlignmentRole:
        if (index.column() >= Threads)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        break;
    case Qt::ForegroundRole:
        if (index.column() == State) {
            switch (r.state) {
            case RowState::Busy:
                return QColor(0x2e, 0x9d, 0x4f);
            case RowState::Dead:
                return QColor(0xd0, 0x3b, 0x3b);
            case RowState::Exiting:
            case RowState::Starting:
                return QColor(0xc7, 0x8a, 0x12);
            case RowState::Idle:
                break;
            }
        }
        break;
    default:
        break;
    }
    return {};
}

QVariant WorkersModel::headerData(int section, Qt::Orientation o, int role) const
{
    if (o != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Pid:
        return tr("Process");
    case Host:
        return tr("Host");
    case State:
        return tr("State");
    case Threads:
        return tr("Threads");
    case Cpu:
        return tr("CPU");
    case Memory:
        return tr("Memory");
    case Running:
        return tr("Running");
    case Queued:
        return tr("Queued");
    }
    return {};
}

} // namespace weft::ui
