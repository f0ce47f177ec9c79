// Bounds on what a user may ask for: a request beyond what this machine can give fails at once
// with an error naming the limit, and a failed start leaves nothing behind. (`weft --workers
// 100000` froze the window inside the engine and leaked 3 descriptors per failed start;
// `--threads 100000` made each worker allocate more than 4 GiB.)

#include "cluster_fixture.h"

#include <QProcess>

#include <filesystem>

using namespace weft;

namespace {
int open_fds()
{
    int n = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}
} // namespace

class TestLimits : public QObject {
    Q_OBJECT
private slots:
    void tooManyWorkersFailAtOnceNamingTheLimit()
    {
        Cluster c(test::options());
        const int before = open_fds();
        try {
            c.addprocs(100000);
            QFAIL("expected addprocs(100000) to fail");
        } catch (const std::invalid_argument& e) {
            qInfo("%s", e.what());
            const std::string why = e.what();
            QVERIFY2(why.find("addprocs(100000)") != std::string::npos, e.what());
            QVERIFY2(why.find("file descriptors") != std::string::npos
                    || why.find("MiB available") != std::string::npos,
                e.what());
        }
        QVERIFY(c.worker_info().empty()); // nothing was started
        QVERIFY(open_fds() <= before);
        QCOMPARE(c.addprocs(1).size(), std::size_t(1)); // and a sane request still works
    }

    void tooManyThreadsFailAtOnce()
    {
        Cluster c(test::options());
        for (const Threads t :
            { Threads { 100000, 0 }, Threads { 1, 100000 }, Threads { 0, 0 }, Threads { 1, -1 } }) {
            try {
                c.addprocs(1, t);
                QFAIL("expected the threads to be refused");
            } catch (const std::invalid_argument& e) {
                QVERIFY2(std::string(e.what()).find("addprocs: ") == 0, e.what());
            }
        }
        QVERIFY(c.worker_info().empty());
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, [] {
            auto o = test::options();
            o.master_threads = { 100000, 0 };
            Cluster bad(o);
        }());
    }

    void failedStartsLeakNothing_data()
    {
        QTest::addColumn<QString>("path");
        QTest::newRow("no such program") << QString("/nonexistent/weft-worker");
        QTest::newRow("a program that exits at once") << QString("/bin/false");
    }
    void failedStartsLeakNothing()
    {
        QFETCH(QString, path);
        auto o = test::options();
        o.worker_path = path.toStdString();
        Cluster c(o);
        const int before = open_fds();
        for (int round = 0; round < 3; ++round)
            QVERIFY_THROWS_EXCEPTION(Error, c.addprocs(4));
        // Every descriptor of the failed workers is closed once they are known to be gone (fewer
        // than before is fine: something else may have closed one meanwhile).
        QTRY_VERIFY_WITH_TIMEOUT(open_fds() <= before, 30000);
    }

    void commandLineRefusesTheSame()
    {
        QProcess cli;
        cli.start(WEFT_CLI_PATH, { "demo", "100000" });
        QVERIFY(cli.waitForFinished(-1));
        QCOMPARE(cli.exitCode(), 1);
        QVERIFY2(cli.readAllStandardError().contains("addprocs(100000)"), "weft-cli");

        QProcess worker;
        worker.start(WEFT_WORKER_PATH, { "--threads", "100000" });
        QVERIFY(worker.waitForFinished(-1));
        QCOMPARE(worker.exitCode(), 2);
        QVERIFY(worker.readAllStandardError().contains("at most"));
    }
};

QTEST_GUILESS_MAIN(TestLimits)
#include "tst_limits.moc"
