#include "references_model.h"

#include <QColor>
#include <QGuiApplication>
#include <QLocale>
#include <QPalette>

#include <algorithm>
#include <map>

namespace weft::ui {

namespace {
constexpr double kFadeSeconds = 3.0;
}

ReferencesModel::ReferencesModel(QObject* parent)
    : KeyedTableModel(
        ColumnCount, { Qt::DisplayRole, Qt::ToolTipRole, Qt::ForegroundRole, FadeRole }, parent)
{
}

void ReferencesModel::apply(const TelemetrySnapshot& snap)
{
    using Key = ReferenceRow::Key;
    std::map<Key, ReferenceRow> next;
    for (auto& p : snap.processes) {
        if (p.state == WorkerState::Exited)
            continue;
        for (auto& e : p.latest.store) {
            if (next.size() >= kMaxRows)
                break;
            Key k { p.pid, e.id.whence, e.id.n };
            next[k] = ReferenceRow { k, e, 1.0, false };
        }
    }
    for (auto& f : snap.recently_freed) {
        Key k { f.owner, f.info.id.whence, f.info.id.n };
        if (next.count(k) || next.size() >= kMaxRows)
            continue;
        const double fade = std::clamp(1.0 - (snap.time - f.freed_at) / kFadeSeconds, 0.0, 1.0);
        if (fade <= 0)
            continue;
        ReferenceRow r { k, f.info, std::round(fade * 10) / 10, true };
        r.info.state = "freed";
        next[k] = r;
    }
    std::vector<ReferenceRow> rows;
    rows.reserve(next.size());
    for (auto& [key, row] : next)
        rows.push_back(std::move(row));
    setRows(std::move(rows));
}

std::uint64_t ReferencesModel::changedColumns(const ReferenceRow& a, const ReferenceRow& b) const
{
    std::uint64_t c = 0;
    const auto mark = [&](bool differs, Column col) { c |= std::uint64_t(differs) << col; };
    mark(a.info.bytes != b.info.bytes, Bytes);
    mark(a.info.holders != b.info.holders, Holders);
    mark(int(a.info.age_seconds) != int(b.info.age_seconds), Age);
    mark(a.info.state != b.info.state || a.info.length != b.info.length, State);
    // A fading row changes colour in every column.
    if (a.fade != b.fade || a.freed != b.freed)
        c |= (std::uint64_t(1) << ColumnCount) - 1;
    return c;
}

QVariant ReferencesModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const ReferenceRow& r = row(index.row());
    const auto& e = r.info;
    switch (role) {
    case FadeRole:
        return r.fade;
    case Qt::DisplayRole:
        switch (index.column()) {
        case Id:
            return QStringLiteral("(%1, %2)").arg(e.id.whence).arg(e.id.n);
        case Owner:
            return std::get<0>(r.id);
        case Kind:
            return e.kind == RefKind::Future ? tr("Future") : tr("RemoteChannel");
        case Bytes:
            return e.kind == RefKind::Channel ? tr("%1 of %2").arg(e.length).arg(e.capacity)
                                              : QLocale().formattedDataSize(qint64(e.bytes), 1,
                                                  QLocale::DataSizeTraditionalFormat);
        case Holders: {
            QStringList hs;
            for (auto [pid, n] : e.holders)
                hs << (n == 1 ? QString::number(pid) : QStringLiteral("%1×%2").arg(pid).arg(n));
            return hs.isEmpty() ? tr("none") : hs.join(QStringLiteral(", "));
        }
        case Age:
            return QStringLiteral("%1 s").arg(e.age_seconds, 0, 'f', 1);
        case State:
            return QString::fromStdString(e.state);
        }
        break;
    case Qt::ForegroundRole:
        if (r.freed) {
            QColor c = QGuiApplication::palette().color(QPalette::Text);
            c.setAlphaF(float(0.2 + 0.6 * r.fade));
            return c;
        }
        break;
    case Qt::ToolTipRole:
        if (index.column() == Holders)
            return tr("Processes holding a reference (count per process). The owner frees the "
                      "value when none is left.");
        break;
    case Qt::TextAlignmentRole:
        if (index.column() == Bytes || index.column() == Age || index.column() == Owner)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        break;
    default:
        break;
    }
    return {};
}

QVariant ReferencesModel::headerData(int section, Qt::Orientation o, int role) const
{
    if (o != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Id:
        return tr("Reference");
    case Owner:
        return tr("Owner");
    case Kind:
        return tr("Kind");
    case Bytes:
        return tr("Size");
    case Holders:
        return tr("Holders");
    case Age:
        return tr("Age");
    case State:
        return tr("State");
    }
    return {};
}

} // namespace weft::ui
