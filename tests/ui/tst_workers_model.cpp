// The workers table under QAbstractItemModelTester, fed synthetic snapshots: rows appear, change
// and go with the right signals, membership and samples from the one snapshot.

#include "snapshot_builders.h"
#include "workers_model.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest>

using namespace weft;
using namespace weft::ui;
using namespace weft::ui::test;

class TestWorkersModel : public QObject {
    Q_OBJECT
private slots:
    void workers_model_diffs_by_pid()
    {
        WorkersModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        TelemetrySnapshot s;
        s.processes = { process(1, 0), process(2, 0) };
        m.apply(s);
        QCOMPARE(m.rowCount(), 2);
        QCOMPARE(m.stateAt(1), WorkersModel::RowState::Idle);

        QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
        QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
        s.processes = { process(1, 0), process(2, 2), process(3, 0) };
        m.apply(s);
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(changed.count(), 1); // only worker 2 changed
        QCOMPARE(m.rowOf(3), 2);
        QCOMPARE(m.stateAt(1), WorkersModel::RowState::Busy);
        QCOMPARE(m.data(m.index(1, WorkersModel::Threads)).toString(), QString("2+1"));
        QCOMPARE(m.data(m.index(1, WorkersModel::Running)).toInt(), 2);

        // A dead worker stays, with its reason.
        s.processes[1].state = WorkerState::Exited;
        s.processes[1].exit_reason = "killed by signal 9 (SIGKILL)";
        m.apply(s);
        QCOMPARE(m.stateAt(1), WorkersModel::RowState::Dead);
        QVERIFY(m.data(m.index(1, WorkersModel::State)).toString().contains("SIGKILL"));
        QCOMPARE(m.data(m.index(1, WorkersModel::Running)).toInt(), 0);

        // Unchanged input: no signals.
        changed.clear();
        m.apply(s);
        QCOMPARE(changed.count(), 0);

        // A worker that is starting (a member of the cluster, no sample yet).
        ProcessHistory starting;
        starting.pid = 4;
        starting.host = "localhost";
        starting.state = WorkerState::Starting;
        starting.threads = { 3, 1 };
        s.processes.push_back(starting);
        m.apply(s);
        QCOMPARE(m.stateAt(m.rowOf(4)), WorkersModel::RowState::Starting);
        QCOMPARE(m.data(m.index(m.rowOf(4), WorkersModel::Threads)).toString(), QString("3+1"));
    }
};

QTEST_MAIN(TestWorkersModel)
#include "tst_workers_model.moc"
