#pragma once
// The distributed reference table: every value each process owns, who holds it, how big and how
// old, plus entries freed in the last seconds (they fade out). Keyed by (owner, id). GUI thread.

#include "keyed_table_model.h"
#include "weft/telemetry.h"

#include <tuple>

namespace weft::ui {

struct ReferenceRow {
    using Key = std::tuple<Pid, Pid, std::uint64_t>; // owner, whence, n
    Key id;
    StoreEntryInfo info;
    double fade = 1;
    bool freed = false;
    [[nodiscard]] const Key& key() const { return id; }
    bool operator==(const ReferenceRow& o) const
    {
        return id == o.id && fade == o.fade && freed == o.freed && info.holders == o.info.holders
            && info.state == o.info.state && info.bytes == o.info.bytes
            && int(info.age_seconds) == int(o.info.age_seconds) && info.length == o.info.length;
    }
};

class ReferencesModel final : public KeyedTableModel<ReferenceRow> {
    Q_OBJECT
public:
    enum Column { Id, Owner, Kind, Bytes, Holders, Age, State, ColumnCount };
    enum Role { FadeRole = Qt::UserRole + 1 }; // 1 = live, falls to 0 as a freed entry fades

    explicit ReferencesModel(QObject* parent = nullptr);
    void apply(const TelemetrySnapshot& snapshot);

    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

    static constexpr std::size_t kMaxRows = 2000;

private:
    std::uint64_t changedColumns(const ReferenceRow& a, const ReferenceRow& b) const override;
};

} // namespace weft::ui
