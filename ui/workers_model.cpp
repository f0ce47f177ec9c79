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

void WorkersModel::apply(const TelemetrySnapshot& snap, const std::vector<WorkerInfo>& workers)
{
    std::map<weft::Pid, Row> next;
    for (auto& w : workers) {
        Row r;
        r.pid = w.pid;
        r.host = QString::fromStdString(w.host);
        r.osPid = w.os_pid;
        r.threadsDefault = w.threads.default_threads;
        r.threadsInteractive = w.threads.interactive;
        // Running but not sampled (yet, or sampling is off): idle as far as anyone knows.
        r.state = w.state == WorkerState::Exited ? RowState::Dead
            : w.state == WorkerState::Exiting    ? RowState::Exiting
            : w.state == WorkerState::Running    ? RowState::Idle
                                                 : RowState::Starting;
        r.reason = QString::fromStdString(w.exit_reason);
        next[w.pid] = r;
    }
    // The master is always a row, sampled or not.
    if (!workers.empty() && !next.count(1)) {
        Row r;
        r.pid = 1;
        r.host = tr("master");
        r.state = RowState::Idle;
        next[1] = r;
    }
    for (auto& p : snap.processes) {
        auto& r = next[p.pid];
        r.pid = p.pid;
        if (r.host.isEmpty())
            r.host = p.pid == 1 ? tr("master") : QString::fromStdString(p.host);
        const auto& s = p.latest;
        const bool sampled = s.pools[0].threads > 0;
        if (sampled) {
            r.threadsDefault = s.pools[0].threads;
            r.threadsInteractive = s.pools[1].threads;
        }
        r.cpu = s.cpu_percent;
        r.rss = s.rss_bytes;
        r.running = s.pools[0].busy + s.pools[1].busy;
        r.queued = s.pools[0].runnable + s.pools[1].runnable;
        r.blocked = s.pools[0].blocked + s.pools[1].blocked;
        if (!p.exit_reason.empty())
            r.reason = QString::fromStdString(p.exit_reason);
        if (p.state == WorkerState::Exited)
            r.state = RowState::Dead;
        else if (p.state == WorkerState::Exiting && r.state != RowState::Dead)
            r.state = RowState::Exiting;
        else if (sampled && r.state != RowState::Dead && r.state != RowState::Exiting)
            r.state = (r.running > 0 || r.queued > 0) ? RowState::Busy : RowState::Idle;
        if (r.state == RowState::Dead) {
            r.cpu = 0;
            r.running = 0;
            r.queued = 0;
        }
    }
    // Rows leave only if their pid vanished entirely (it never does today; ids are not reused).
    for (int i = int(m_rows.size()) - 1; i >= 0; --i) {
        if (!next.count(m_rows[std::size_t(i)].pid)) {
            beginRemoveRows({}, i, i);
            m_rows.erase(m_rows.begin() + i);
            endRemoveRows();
        }
    }
    for (auto& [pid, row] : next) {
        auto it = std::lower_bound(
            m_rows.begin(), m_rows.end(), pid, [](const Row& r, weft::Pid p) { return r.pid < p; });
        const int at = int(it - m_rows.begin());
        if (it == m_rows.end() || it->pid != pid) {
            beginInsertRows({}, at, at);
            m_rows.insert(it, row);
            endInsertRows();
        } else if (!(*it == row)) {
            *it = row;
            emit dataChanged(index(at, 0), index(at, ColumnCount - 1));
        }
    }
}

int WorkersModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int WorkersModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

weft::Pid WorkersModel::pidAt(int row) const
{
    return row >= 0 && row < int(m_rows.size()) ? m_rows[std::size_t(row)].pid : 0;
}

int WorkersModel::rowOf(weft::Pid pid) const
{
    for (std::size_t i = 0; i < m_rows.size(); ++i)
        if (m_rows[i].pid == pid)
            return int(i);
    return -1;
}

WorkersModel::RowState WorkersModel::stateAt(int row) const
{
    return m_rows.at(std::size_t(row)).state;
}

QVariant WorkersModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row& r = m_rows[std::size_t(index.row())];
    switch (role) {
    case PidRole:
        return r.pid;
    case StateRole:
        return int(r.state);
    case CpuRole:
        return r.cpu;
    case BusyRole:
        return r.state == RowState::Busy;
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
