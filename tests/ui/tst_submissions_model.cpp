// The submissions list under QAbstractItemModelTester: progress, results, errors.

#include "submissions_model.h"

#include <QAbstractItemModelTester>
#include <QtTest>

using namespace weft;
using namespace weft::ui;

class TestSubmissionsModel : public QObject {
    Q_OBJECT
private slots:
    void submissions_model_tracks_progress()
    {
        SubmissionsModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        m.added(7, "pmap square over 1:10");
        m.progressed(7, 3, 10);
        QCOMPARE(m.data(m.index(0, SubmissionsModel::Progress)).toString(), QString("3 / 10"));
        QCOMPARE(m.data(m.index(0, 0), SubmissionsModel::ProgressRole).toDouble(), 0.3);
        m.finished(7, false, "RemoteException: boom");
        QCOMPARE(m.data(m.index(0, 0), SubmissionsModel::OkRole).toBool(), false);
        QCOMPARE(m.data(m.index(0, SubmissionsModel::Result)).toString(),
            QString("RemoteException: boom"));
        m.progressed(99, 1, 1); // unknown id: ignored
        QCOMPARE(m.rowCount(), 1);
    }
};

QTEST_MAIN(TestSubmissionsModel)
#include "tst_submissions_model.moc"
