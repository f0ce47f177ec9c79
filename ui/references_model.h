#pragma once
// The distributed reference table: every value each process owns, who holds it, how big and how
// old, plus entries freed in the last seconds (they fade out). Keyed by (owner, id). GUI thread.

#include "weft/telemetry.h"

#include <QAbstractTableModel>

#include <tuple>

namespace weft::ui {

class ReferencesModel final : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Id, Owner, Kind, Bytes, Holders, Age, State, ColumnCount };
    enum Role { FadeRole = Qt::UserRole + 1 }; // 1 = live, falls to 0 as a freed entry fades

    using QAbstractTableModel::QAbstractTableModel;
    void apply(const TelemetrySnapshot& snapshot);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

    static constexpr std::size_t kMaxRows = 2000;

private:
    using Key = std::tuple<Pid, Pid, std::uint64_t>; // owner, whence, n
    struct Row {
        Key key;
        StoreEntryInfo info;
        double fade = 1;
        bool freed = false;
        bool operator==(const Row& o) const
        {
            return key == o.key && fade == o.fade && freed == o.freed
                && info.holders == o.info.holders && info.state == o.info.state
                && info.bytes == o.info.bytes && int(info.age_seconds) == int(o.info.age_seconds)
                && info.length == o.info.length;
        }
    };
    std::vector<Row> m_rows; // sorted by key
};

} // namespace weft::ui
