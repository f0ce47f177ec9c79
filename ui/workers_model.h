#pragma once
// One row per process of the cluster (the master first): its state, threads, load and memory.
// Applying a snapshot diffs by pid into row inserts and dataChanged; exited workers stay, with
// how they ended. GUI thread.

#include "weft/telemetry.h"

#include <QAbstractTableModel>

namespace weft::ui {

class WorkersModel final : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Pid, Host, State, Threads, Cpu, Memory, Running, Queued, ColumnCount };
    enum Role { PidRole = Qt::UserRole + 1, StateRole, CpuRole, BusyRole };
    enum class RowState { Starting, Idle, Busy, Exiting, Dead };

    using QAbstractTableModel::QAbstractTableModel;

    void apply(const TelemetrySnapshot& snapshot, const std::vector<WorkerInfo>& workers);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

    [[nodiscard]] weft::Pid pidAt(int row) const;
    [[nodiscard]] int rowOf(weft::Pid pid) const;
    [[nodiscard]] RowState stateAt(int row) const;
    static QString stateName(RowState s);

private:
    struct Row {
        weft::Pid pid = 0;
        QString host;
        int osPid = 0;
        RowState state = RowState::Starting;
        QString reason;
        int threadsDefault = 0, threadsInteractive = 0;
        double cpu = 0;
        quint64 rss = 0;
        int running = 0;
        quint64 queued = 0;
        quint64 blocked = 0;
        bool operator==(const Row&) const = default;
    };
    std::vector<Row> m_rows; // sorted by pid
};

} // namespace weft::ui
