#include "submissions_model.h"

#include <QColor>

namespace weft::ui {

void SubmissionsModel::added(int id, const QString& what)
{
    beginInsertRows({}, int(m_rows.size()), int(m_rows.size()));
    Row r;
    r.id = id;
    r.what = what;
    r.clock.start();
    m_rows.push_back(r);
    endInsertRows();
}

int SubmissionsModel::rowOf(int id) const
{
    for (int i = 0; i < m_rows.size(); ++i)
        if (m_rows[i].id == id)
            return i;
    return -1;
}

void SubmissionsModel::progressed(int id, qint64 done, qint64 total)
{
    const int row = rowOf(id);
    if (row < 0 || m_rows[row].finished)
        return;
    auto& r = m_rows[row];
    r.done = std::max(r.done, done);
    r.total = total;
    r.elapsedMs = r.clock.elapsed();
    emit dataChanged(index(row, Progress), index(row, Time));
}

void SubmissionsModel::finished(int id, bool ok, const QString& result)
{
    const int row = rowOf(id);
    if (row < 0)
        return;
    auto& r = m_rows[row];
    r.finished = true;
    r.ok = ok;
    r.result = result;
    if (ok)
        r.done = r.total = std::max<qint64>(r.total, 1);
    r.elapsedMs = r.clock.elapsed();
    emit dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

int SubmissionsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int SubmissionsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant SubmissionsModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row& r = m_rows[index.row()];
    const double fraction = r.total > 0 ? double(r.done) / double(r.total) : 0.0;
    switch (role) {
    case ProgressRole:
        return fraction;
    case OkRole:
        return r.ok;
    case DoneRole:
        return r.finished;
    case Qt::DisplayRole:
        switch (index.column()) {
        case Number:
            return r.id;
        case What:
            return r.what;
        case Progress:
            return r.total > 0 ? QStringLiteral("%1 / %2").arg(r.done).arg(r.total) : tr("started");
        case Result:
            return r.finished ? r.result : tr("running…");
        case Time:
            return QStringLiteral("%1 s").arg(double(r.elapsedMs) / 1000.0, 0, 'f', 2);
        }
        break;
    case Qt::ToolTipRole:
        if (index.column() == Result && r.finished)
            return r.result;
        break;
    case Qt::ForegroundRole:
        if (index.column() == Result && r.finished && !r.ok)
            return QColor(0xd0, 0x3b, 0x3b);
        break;
    default:
        break;
    }
    return {};
}

QVariant SubmissionsModel::headerData(int section, Qt::Orientation o, int role) const
{
    if (o != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Number:
        return tr("#");
    case What:
        return tr("Submitted");
    case Progress:
        return tr("Progress");
    case Result:
        return tr("Result");
    case Time:
        return tr("Time");
    }
    return {};
}

} // namespace weft::ui
