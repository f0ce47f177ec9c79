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

void ReferencesModel::apply(const TelemetrySnapshot& snap)
{
    std::map<Key, Row> next;
    for (auto& p : snap.processes) {
        if (p.state == WorkerState::Exited)
            continue;
        for (auto& e : p.latest.store) {
            if (next.size() >= kMaxRows)
                break;
            Key k { p.pid, e.id.whence, e.id.n };
            next[k] = Row { k, e, 1.0, false };
        }
    }
    for (auto& f : snap.recently_freed) {
        Key k { f.owner, f.info.id.whence, f.info.id.n };
        if (next.count(k) || next.size() >= kMaxRows)
            continue;
        const double fade = std::clamp(1.0 - (snap.time - f.freed_at) / kFadeSeconds, 0.0, 1.0);
        if (fade <= 0)
            continue;
        Row r { k, f.info, std::round(fade * 10) / 10, true };
        r.info.state = "freed";
        next[k] = r;
    }
    for (int i = int(m_rows.size()) - 1; i >= 0; --i) {
        if (!next.count(m_rows[std::size_t(i)].key)) {
            beginRemoveRows({}, i, i);
            m_rows.erase(m_rows.begin() + i);
            endRemoveRows();
        }
    }
    for (auto& [key, row] : next) {
        auto it = std::lower_bound(m_rows.begin(), m_rows.end(), key,
            [](const Row& r, const Key& k) { return r.key < k; });
        const int at = int(it - m_rows.begin());
        if (it == m_rows.end() || it->key != key) {
            beginInsertRows({}, at, at);
            m_rows.insert(it, row);
            endInsertRows();
        } else if (!(*it == row)) {
            *it = row;
            emit dataChanged(index(at, 0), index(at, ColumnCount - 1));
        }
    }
}

int ReferencesModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ReferencesModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ReferencesModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row& r = m_rows[std::size_t(index.row())];
    const auto& e = r.info;
    switch (role) {
    case FadeRole:
        return r.fade;
    case Qt::DisplayRole:
        switch (index.column()) {
        case Id:
            return QStringLiteral("(%1, %2)").arg(e.id.whence).arg(e.id.n);
        case Owner:
            return std::get<0>(r.key);
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
