// The reference table under QAbstractItemModelTester: entries per owner, holders, and freed
// entries that fade out.

#include "references_model.h"
#include "snapshot_builders.h"

#include <QAbstractItemModelTester>
#include <QtTest>

using namespace weft;
using namespace weft::ui;
using namespace weft::ui::test;

class TestReferencesModel : public QObject {
    Q_OBJECT
private slots:
    void references_model_fades_freed_entries()
    {
        ReferencesModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        TelemetrySnapshot s;
        s.time = 10;
        auto p = process(2, 0);
        StoreEntryInfo a, b;
        a.id = { 1, 5 };
        a.bytes = 800;
        a.holders = { { 1, 1 }, { 3, 2 } };
        a.state = "ready";
        b.id = { 1, 6 };
        b.kind = RefKind::Channel;
        b.length = 2;
        b.capacity = 10;
        b.state = "open";
        p.latest.store = { a, b };
        s.processes = { p };
        m.apply(s);
        QCOMPARE(m.rowCount(), 2);
        QCOMPARE(m.data(m.index(0, ReferencesModel::Holders)).toString(), QString("1, 3×2"));
        QCOMPARE(m.data(m.index(1, ReferencesModel::Bytes)).toString(), QString("2 of 10"));

        // a is freed: it stays a moment, fading, then goes.
        s.processes[0].latest.store = { b };
        s.recently_freed = { FreedEntry { 2, a, 9.5 } };
        m.apply(s);
        QCOMPARE(m.rowCount(), 2);
        QCOMPARE(m.data(m.index(0, ReferencesModel::State)).toString(), QString("freed"));
        const double fade = m.data(m.index(0, 0), ReferencesModel::FadeRole).toDouble();
        QVERIFY(fade > 0 && fade < 1);
        s.time = 20;
        m.apply(s);
        QCOMPARE(m.rowCount(), 1);
    }
};

QTEST_MAIN(TestReferencesModel)
#include "tst_references_model.moc"
