#pragma once
// One row per process of the cluster (the master first): its state, threads, load and memory,
// all from the engine's snapshot, which carries membership (starting, joined, exiting, exited
// with its reason) as well as samples. Exited workers stay, with how they ended. GUI thread.

#include "keyed_table_model.h"
#include "weft/telemetry.h"

#include <QString>

#include <tuple>

namespace weft::ui {

struct WorkerRow {
    enum class State { Starting, Idle, Busy, Exiting, Dead };
    weft::Pid pid = 0;
    QString host;
    int osPid = 0;
    State state = State::Starting;
    QString reason;
    int threadsDefault = 0, threadsInteractive = 0;
    double cpu = 0;
    quint64 rss = 0;
    int running = 0;
    quint64 queued = 0;
    quint64 blocked = 0;
    // Rows are grouped by host: the master, the workers on its machine, then each other host's
    // workers (a worker's host never changes).
    [[nodiscard]] std::tuple<int, QString, weft::Pid> key() const
    {
        const int group = pid == 1 ? 0 : (host == QLatin1String("localhost") ? 1 : 2);
        return { group, group == 2 ? host : QString(), pid };
    }
    bool operator==(const WorkerRow&) const = default;
};

class WorkersModel final : public KeyedTableModel<WorkerRow> {
    Q_OBJECT
public:
    enum Column { Pid, Host, State, Threads, Cpu, Memory, Running, Queued, ColumnCount };
    using RowState = WorkerRow::State;

    explicit WorkersModel(QObject* parent = nullptr);

    void apply(const TelemetrySnapshot& snapshot);

    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

    [[nodiscard]] weft::Pid pidAt(int row) const;
    [[nodiscard]] int rowOf(weft::Pid pid) const;
    [[nodiscard]] RowState stateAt(int row) const;
    static QString stateName(RowState s);

private:
    std::uint64_t changedColumns(const WorkerRow& a, const WorkerRow& b) const override;
};

} // namespace weft::ui
