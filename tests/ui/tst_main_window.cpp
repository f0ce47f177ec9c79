// End to end, as a user would: open the main window on a real cluster, add workers through the
// dialog, submit a pmap through the submit panel, watch the table, charts and timeline fill, kill
// a worker, close the window. Screenshots land in the build tree.

#include "add_workers_dialog.h"
#include "app_options.h"
#include "engine_bridge.h"
#include "log_pane.h"
#include "main_window.h"
#include "pool_chart.h"
#include "submissions_model.h"
#include "submit_panel.h"
#include "time_bound.h"
#include "time_series_chart.h"
#include "timeline_view.h"
#include "workers_model.h"

#include <QAction>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QtTest>

#include <signal.h>

using namespace weft;
using namespace weft::ui;

namespace {

int countState(const WorkersModel& m, WorkersModel::RowState s)
{
    int n = 0;
    for (int r = 0; r < m.rowCount(); ++r)
        n += m.pidAt(r) != 1 && m.stateAt(r) == s;
    return n;
}

bool allGone(const std::vector<int>& pids)
{
    for (int p : pids)
        if (::kill(p, 0) == 0)
            return false;
    return true;
}

// The OS pids of the workers the bridge's latest snapshot lists.
std::vector<int> workerOsPids(const EngineBridge& b)
{
    std::vector<int> out;
    if (auto s = b.latest())
        for (auto& p : s->processes)
            if (p.pid != 1 && p.os_pid > 0)
                out.push_back(p.os_pid);
    return out;
}

QString shotPath(const char* name)
{
    return QStringLiteral(QT_TESTCASE_BUILDDIR "/") + QString::fromLatin1(name);
}

} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
    std::unique_ptr<EngineBridge> bridge_;
    std::unique_ptr<MainWindow> window_;
    std::vector<int> osPids_;

private slots:
    // The window with 4 workers, from nothing to every worker reporting: within 2 s.
    void startup_with_four_workers()
    {
        QElapsedTimer t;
        t.start();
        auto bridge = std::make_unique<EngineBridge>(test::app_options());
        MainWindow w(*bridge);
        w.show();
        bridge->addLocalWorkers(4, { 1, 1 });
        QTRY_VERIFY_WITH_TIMEOUT(
            countState(*w.workersModel(), WorkersModel::RowState::Idle) == 4, 5000);
        const auto ms = t.elapsed();
        qInfo("startup.window_4: %lld ms from launch to 4 workers reporting in the window", ms);
        QVERIFY2(
            weft::test::within_time_bound(ms, 2000), qPrintable(QString("took %1 ms").arg(ms)));
        const auto pids = workerOsPids(*bridge);
        QCOMPARE(pids.size(), std::size_t(4));
        bridge.reset();
        QVERIFY(allGone(pids));
    }

    // `weft --workers 100000` froze the window inside the engine. Now the request fails at once
    // with the limit in the message, and the window stays live (the failure reaches it through
    // its event loop, which this very wait runs).
    void absurd_worker_count_fails_at_once()
    {
        auto bridge = std::make_unique<EngineBridge>(test::app_options());
        MainWindow w(*bridge);
        w.show();
        QString shown;
        QTimer poll;
        connect(&poll, &QTimer::timeout, this, [&] {
            if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
                shown = box->text();
                box->accept();
            }
        });
        poll.start(20);
        QSignalSpy failed(bridge.get(), &EngineBridge::addWorkersFailed);
        bridge->addLocalWorkers(100000, { 1, 0 });
        QTRY_VERIFY_WITH_TIMEOUT(!shown.isEmpty(), 60000);
        QCOMPARE(failed.count(), 1);
        QVERIFY2(shown.contains("addprocs(100000)"), qPrintable(shown));
        QVERIFY(w.logPane()->toPlainText().contains("Adding workers failed"));
        QVERIFY(workerOsPids(*bridge).empty());
    }

    // With View > Sampling Rate > Off the table used to stop: a worker that joined or died never
    // showed. The engine now publishes a snapshot at every change of membership, sampled or not.
    void joins_and_deaths_show_with_sampling_off()
    {
        auto o = test::app_options();
        o.telemetry_interval = std::chrono::milliseconds(0);
        auto bridge = std::make_unique<EngineBridge>(o);
        MainWindow w(*bridge);
        w.show();
        QSignalSpy snapshots(bridge.get(), &EngineBridge::snapshotReady);
        bridge->addLocalWorkers(2, { 1, 0 });
        auto& m = *w.workersModel();
        // Rows appear while the workers start, and turn idle once they join.
        QTRY_VERIFY_WITH_TIMEOUT(m.rowOf(2) >= 0 && m.rowOf(3) >= 0, 60000);
        QTRY_COMPARE_WITH_TIMEOUT(m.stateAt(m.rowOf(3)), WorkersModel::RowState::Idle, 60000);
        bridge->killWorker(3);
        QTRY_VERIFY_WITH_TIMEOUT(m.stateAt(m.rowOf(3)) == WorkersModel::RowState::Dead, 60000);
        QVERIFY(m.data(m.index(m.rowOf(3), WorkersModel::State)).toString().contains("SIGKILL"));
        QCOMPARE(m.stateAt(m.rowOf(2)), WorkersModel::RowState::Idle);
        // Nothing was sampled: membership alone did it.
        QVERIFY(snapshots.count() > 0);
        const auto last = bridge->latest();
        for (auto& p : last->processes)
            QVERIFY2(p.points.size() == 0,
                qPrintable(QString("process %1 has %2 samples").arg(p.pid).arg(p.points.size())));
        const auto pids = workerOsPids(*bridge);
        QCOMPARE(pids.size(), std::size_t(2));
        bridge.reset();
        QVERIFY(allGone(pids));
    }

    void add_workers_through_the_dialog()
    {
        bridge_ = std::make_unique<EngineBridge>(test::app_options());
        window_ = std::make_unique<MainWindow>(*bridge_);
        window_->show();
        QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
        bool filled = false;
        QTimer poll;
        connect(&poll, &QTimer::timeout, this, [&] {
            auto* dlg = qobject_cast<AddWorkersDialog*>(QApplication::activeModalWidget());
            if (!dlg || filled)
                return;
            filled = true;
            auto* count = dlg->findChild<QSpinBox*>("workerCount");
            count->selectAll();
            QTest::keyClicks(count, "2");
            auto* threads = dlg->findChild<QSpinBox*>("defaultThreads");
            threads->selectAll();
            QTest::keyClicks(threads, "2");
            QTest::mouseClick(
                dlg->findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok), Qt::LeftButton);
        });
        poll.start(20);
        window_->findChild<QAction*>("actionAddLocalWorkers")->trigger();
        poll.stop();
        QVERIFY(filled);
        auto& m = *window_->workersModel();
        QTRY_VERIFY_WITH_TIMEOUT(countState(m, WorkersModel::RowState::Idle) == 2, 10000);
        QCOMPARE(m.rowCount(), 3); // the master and two workers
        QCOMPARE(m.data(m.index(m.rowOf(2), WorkersModel::Threads)).toString(), QString("2+1"));
        QVERIFY(window_->logPane()->toPlainText().contains("Workers 2, 3 joined"));
        osPids_ = workerOsPids(*bridge_);
        QCOMPARE(osPids_.size(), std::size_t(2));
    }

    void bad_input_is_explained_not_submitted()
    {
        auto* panel = window_->submitPanel();
        auto* pattern = panel->findChild<QComboBox*>("pattern");
        pattern->setCurrentIndex(pattern->findData(int(Pattern::Pmap)));
        auto* args = panel->findChild<QLineEdit*>("arguments");
        args->clear();
        QTest::keyClicks(args, "1:x");
        QTest::mouseClick(panel->findChild<QPushButton*>("submit"), Qt::LeftButton);
        auto* err = panel->findChild<QLabel*>("inputError");
        QVERIFY(err->isVisible());
        QVERIFY(err->text().contains("not a number"));
        QCOMPARE(window_->submissionsModel()->rowCount(), 0);
    }

    void pmap_through_the_submit_panel()
    {
        auto* panel = window_->submitPanel();
        auto* kernel = panel->findChild<QComboBox*>("kernel");
        QTRY_VERIFY(kernel->findText("work_ms") >= 0);
        kernel->setCurrentIndex(kernel->findText("work_ms"));
        auto* args = panel->findChild<QLineEdit*>("arguments");
        args->clear();
        QTest::keyClicks(args, "[150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150]");
        QTest::mouseClick(panel->findChild<QPushButton*>("submit"), Qt::LeftButton);
        auto& subs = *window_->submissionsModel();
        QCOMPARE(subs.rowCount(), 1);

        // While it runs: both workers busy in the table, threads busy in the pool chart.
        auto& m = *window_->workersModel();
        QTRY_VERIFY_WITH_TIMEOUT(countState(m, WorkersModel::RowState::Busy) == 2, 30000);
        QTRY_VERIFY_WITH_TIMEOUT(window_->poolChart()->busyThreads() >= 2, 30000);
        QVERIFY(window_->grab().save(shotPath("main_window.png")));
        window_->views()->setCurrentWidget(window_->timeline());
        QTRY_VERIFY_WITH_TIMEOUT(window_->timeline()->spansInView() > 0, 30000);
        QVERIFY(window_->grab().save(shotPath("main_window_timeline.png")));

        QTRY_VERIFY_WITH_TIMEOUT(
            subs.data(subs.index(0, 0), SubmissionsModel::DoneRole).toBool(), 10000);
        QVERIFY(subs.data(subs.index(0, 0), SubmissionsModel::OkRole).toBool());
        QCOMPARE(
            subs.data(subs.index(0, SubmissionsModel::Progress)).toString(), QString("12 / 12"));
        QVERIFY(
            subs.data(subs.index(0, SubmissionsModel::Result)).toString().startsWith("[150, 150"));

        // The charts and the timeline received the run.
        QTRY_VERIFY(window_->loadChart()->pointCount() > 10);
        QTRY_VERIFY(window_->timeline()->spansInView() >= 12);
        const auto labels = window_->timeline()->rowLabels();
        QVERIFY(labels.contains("Worker 2 · localhost"));
        QVERIFY(labels.contains("thread 1 · default"));
        const auto finishedWork = [&] {
            auto snap = bridge_->latest();
            int n = 0;
            snap->spans.for_each([&](const TaskSpan& s) {
                n += s.finished && snap->kernel_names[s.kernel] == "work_ms";
            });
            return n;
        };
        QTRY_COMPARE(finishedWork(), 12); // the samples taken after the last item arrive too
    }

    // What File ▸ Export writes, for the run so far.
    void exports_write_what_the_window_shows()
    {
        QTemporaryDir dir;
        for (int tab = 0; tab < window_->views()->count(); ++tab) {
            window_->views()->setCurrentIndex(tab);
            const QString png = dir.filePath(QString("chart-%1.png").arg(tab));
            QVERIFY(window_->saveCurrentChart(png));
            QImage img(png);
            QVERIFY2(img.width() > 200 && img.height() > 100, qPrintable(png));
        }
        QString error;
        QVERIFY2(window_->saveSeries(dir.filePath("series.csv"), &error), qPrintable(error));
        QFile csv(dir.filePath("series.csv"));
        QVERIFY(csv.open(QIODevice::ReadOnly));
        QVERIFY(csv.readAll().count('\n') > 10);
        QVERIFY(QFile::exists(dir.filePath("series-channels.csv")));
        QVERIFY2(window_->saveTrace(dir.filePath("trace.json"), &error), qPrintable(error));
        QFile trace(dir.filePath("trace.json"));
        QVERIFY(trace.open(QIODevice::ReadOnly));
        QVERIFY(trace.readAll().contains("\"work_ms\""));
        QVERIFY(!window_->saveTrace("/nonexistent-dir/t.json", &error));
        QVERIFY(error.contains("/nonexistent-dir/t.json"));
        window_->views()->setCurrentIndex(0);
    }

    void interrupt_ends_the_running_call()
    {
        auto* panel = window_->submitPanel();
        auto* pattern = panel->findChild<QComboBox*>("pattern");
        pattern->setCurrentIndex(pattern->findData(int(Pattern::RemoteCall)));
        auto* kernel = panel->findChild<QComboBox*>("kernel");
        kernel->setCurrentIndex(kernel->findText("sleep_ms"));
        auto* worker = panel->findChild<QComboBox*>("worker");
        worker->setCurrentIndex(worker->findData(2u));
        // sleep_ms(int64): a field for its one parameter.
        QCOMPARE(panel->parameterFields().size(), 1);
        auto* args = panel->parameterFields()[0];
        args->clear();
        QTest::keyClicks(args, "20000");
        QTest::mouseClick(panel->findChild<QPushButton*>("submit"), Qt::LeftButton);
        auto& subs = *window_->submissionsModel();
        const int row = subs.rowCount() - 1;
        // The call is under way on worker 2 (its pool shows the task, asleep in sleep_ms)
        // before it is interrupted.
        const auto tasksOn2 = [&] {
            auto s = bridge_->latest();
            for (auto& p : s->processes)
                if (p.pid == 2)
                    return p.latest.pools[0].busy + p.latest.pools[0].blocked;
            return std::uint64_t(0);
        };
        QTRY_VERIFY_WITH_TIMEOUT(tasksOn2() >= 1, 30000);
        auto& m = *window_->workersModel();
        window_->findChild<QTableView*>("workersView")->selectRow(m.rowOf(2));
        auto* interrupt = window_->findChild<QAction*>("actionInterruptWorkers");
        QVERIFY(interrupt->isEnabled());
        interrupt->trigger();
        QTRY_VERIFY_WITH_TIMEOUT(
            subs.data(subs.index(row, 0), SubmissionsModel::DoneRole).toBool(), 30000);
        QVERIFY(!subs.data(subs.index(row, 0), SubmissionsModel::OkRole).toBool());
        QVERIFY(subs.data(subs.index(row, SubmissionsModel::Result))
                    .toString()
                    .contains("InterruptException"));
        QCOMPARE(m.stateAt(m.rowOf(2)) == WorkersModel::RowState::Dead, false);
    }

    void killed_worker_shows_dead_with_reason()
    {
        auto& m = *window_->workersModel();
        auto* view = window_->findChild<QTableView*>("workersView");
        view->selectRow(m.rowOf(3));
        auto* kill = window_->findChild<QAction*>("actionKillWorker");
        QVERIFY(kill->isEnabled());
        kill->trigger();
        QTRY_VERIFY_WITH_TIMEOUT(m.stateAt(m.rowOf(3)) == WorkersModel::RowState::Dead, 30000);
        QVERIFY(m.data(m.index(m.rowOf(3), WorkersModel::State)).toString().contains("SIGKILL"));
        QTRY_VERIFY(window_->logPane()->toPlainText().contains("Worker 3 exited"));
        // The rest keeps working: a call submitted through the bridge, as the window does.
        QSignalSpy finished(bridge_.get(), &EngineBridge::submissionFinished);
        SubmitRequest r;
        r.pattern = Pattern::RemoteCall;
        r.kernel = "myid";
        r.worker = 2;
        const int id = bridge_->submit(r);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
        QCOMPARE(finished.at(0).at(0).toInt(), id);
        QVERIFY(finished.at(0).at(1).toBool());
        QCOMPARE(finished.at(0).at(2).toString(), QString("worker 2: 2"));
    }

    void closing_the_window_ends_the_cluster()
    {
        QSignalSpy done(bridge_.get(), &EngineBridge::shutDownFinished);
        window_->close();
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 10000);
        QVERIFY(!window_->isVisible());
        QTRY_VERIFY_WITH_TIMEOUT(allGone(osPids_), 5000);
        window_.reset();
        bridge_.reset();
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
