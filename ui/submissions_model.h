#pragma once
// The work submitted from the GUI: what, progress, result or error, how long. GUI thread.

#include <QAbstractTableModel>
#include <QElapsedTimer>

namespace weft::ui {

class SubmissionsModel final : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Number, What, Progress, Result, Time, ColumnCount };
    enum Role { ProgressRole = Qt::UserRole + 1, OkRole, DoneRole };

    using QAbstractTableModel::QAbstractTableModel;

    void added(int id, const QString& what);
    void progressed(int id, qint64 done, qint64 total);
    void finished(int id, bool ok, const QString& result);
    [[nodiscard]] int rowOf(int id) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    struct Row {
        int id = 0;
        QString what;
        qint64 done = 0, total = 0;
        bool finished = false, ok = true;
        QString result;
        QElapsedTimer clock;
        qint64 elapsedMs = 0;
    };
    QList<Row> m_rows;
};

} // namespace weft::ui
