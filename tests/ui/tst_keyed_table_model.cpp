// The keyed-diff table model on its own: what a diff tells the views (coalesced ranges, changed
// columns only, a reset when most rows changed), checked against a plain model of the rows, with
// random diffs under QAbstractItemModelTester.

#include "keyed_table_model.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest>

#include <random>

using namespace weft::ui;

namespace {

struct Row {
    int id = 0;
    int a = 0, b = 0; // columns 1 and 2 (column 0 shows the id)
    [[nodiscard]] int key() const { return id; }
    bool operator==(const Row&) const = default;
};

class Model final : public KeyedTableModel<Row> {
public:
    Model()
        : KeyedTableModel(3, { Qt::DisplayRole })
    {
    }
    void apply(std::vector<Row> rows) { setRows(std::move(rows)); }
    QVariant data(const QModelIndex& i, int role) const override
    {
        if (role != Qt::DisplayRole || !i.isValid())
            return {};
        const Row& r = row(i.row());
        return i.column() == 0 ? r.id : i.column() == 1 ? r.a : r.b;
    }
    std::uint64_t changedColumns(const Row& x, const Row& y) const override
    {
        return (std::uint64_t(x.a != y.a) << 1) | (std::uint64_t(x.b != y.b) << 2);
    }
};

std::vector<Row> rows(std::initializer_list<int> ids)
{
    std::vector<Row> out;
    for (int id : ids)
        out.push_back({ id, 0, 0 });
    return out;
}

} // namespace

class TestKeyedTableModel : public QObject {
    Q_OBJECT
private slots:
    void contiguous_ranges_are_one_signal_each()
    {
        Model m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        m.apply(rows({ 1, 2, 3, 4, 5, 6, 7, 8 }));
        QSignalSpy removed(&m, &QAbstractItemModel::rowsRemoved);
        QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
        // 2, 3 go (one range), 6 goes (another); 9, 10, 11 come (one range at the end).
        m.apply(rows({ 1, 4, 5, 7, 8, 9, 10, 11 }));
        QCOMPARE(removed.count(), 2);
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(inserted.at(0).at(1).toInt(), 5);
        QCOMPARE(inserted.at(0).at(2).toInt(), 7);
        QCOMPARE(m.lastApply().resets, 0);
        const std::vector<int> ids { 1, 4, 5, 7, 8, 9, 10, 11 };
        for (int r = 0; r < m.rowCount(); ++r)
            QCOMPARE(m.data(m.index(r, 0), Qt::DisplayRole).toInt(), ids[std::size_t(r)]);
    }

    void changed_rows_signal_their_columns()
    {
        Model m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        m.apply(rows({ 1, 2, 3, 4, 5 }));
        QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
        auto next = rows({ 1, 2, 3, 4, 5 });
        next[1].a = 1; // rows 1 and 2: one run, column 1
        next[2].a = 1;
        next[4].b = 7; // row 4: column 2
        m.apply(next);
        QCOMPARE(changed.count(), 2);
        const auto first = changed.at(0);
        QCOMPARE(first.at(0).value<QModelIndex>(), m.index(1, 1));
        QCOMPARE(first.at(1).value<QModelIndex>(), m.index(2, 1));
        QCOMPARE(first.at(2).value<QList<int>>(), QList<int> { Qt::DisplayRole });
        QCOMPARE(changed.at(1).at(0).value<QModelIndex>(), m.index(4, 2));
        QCOMPARE(changed.at(1).at(1).value<QModelIndex>(), m.index(4, 2));
        changed.clear();
        m.apply(next); // unchanged: nothing
        QCOMPARE(changed.count(), 0);
    }

    void most_rows_changed_is_a_reset()
    {
        Model m;
        std::vector<Row> a, b;
        for (int i = 0; i < 100; ++i) {
            a.push_back({ i, 0, 0 });
            b.push_back({ i + 80, 0, 0 }); // 80 go, 80 come
        }
        m.apply(a);
        QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
        m.apply(b);
        QCOMPARE(reset.count(), 1);
        QCOMPARE(m.rowCount(), 100);
        QCOMPARE(m.data(m.index(0, 0), Qt::DisplayRole).toInt(), 80);
    }

    // Random diffs against the plain list they describe; the tester checks every signal.
    void random_diffs_match_the_rows()
    {
        const auto seed = std::random_device {}();
        qInfo("seed %u", seed);
        std::mt19937 g(seed);
        Model m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        for (int round = 0; round < 300; ++round) {
            std::vector<Row> next;
            const int keep = std::uniform_int_distribution<int>(0, 100)(g);
            for (int id = 0; id < 60; ++id)
                if (std::uniform_int_distribution<int>(0, 100)(g) < keep)
                    next.push_back({ id, int(g() % 3), int(g() % 3) });
            m.apply(next);
            QCOMPARE(m.rowCount(), int(next.size()));
            for (int r = 0; r < m.rowCount(); ++r) {
                QCOMPARE(m.data(m.index(r, 0), Qt::DisplayRole).toInt(), next[std::size_t(r)].id);
                QCOMPARE(m.data(m.index(r, 1), Qt::DisplayRole).toInt(), next[std::size_t(r)].a);
                QCOMPARE(m.data(m.index(r, 2), Qt::DisplayRole).toInt(), next[std::size_t(r)].b);
            }
        }
    }
};

QTEST_MAIN(TestKeyedTableModel)
#include "tst_keyed_table_model.moc"
