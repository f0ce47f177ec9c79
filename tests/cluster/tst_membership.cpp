// Ids and membership with real worker processes: addprocs, rmprocs, never-reused ids, lifecycle
// callbacks, and no orphans.

#include "cluster_fixture.h"

#include <mutex>

using namespace weft;

class TestMembership : public QObject {
    Q_OBJECT
private slots:
    void noWorkersMeansMasterIsTheWorker()
    {
        Cluster c(test::options());
        QCOMPARE(c.myid(), Pid(1));
        QCOMPARE(c.workers(), std::vector<Pid> { 1 });
        QCOMPARE(c.procs(), std::vector<Pid> { 1 });
        QCOMPARE(c.nworkers(), std::size_t(1));
        QCOMPARE(c.remotecall_fetch("myid", 1).as_int(), 1);
        QCOMPARE(c.spawn("add", 2, 3).fetch().as_int(), 5);
    }

    void addAndRemove()
    {
        // Declared before the cluster: its destructor still reports workers exiting.
        std::mutex m;
        std::vector<Pid> added, exiting;
        std::vector<std::pair<Pid, std::string>> exited;
        Cluster c(test::options());
        c.on_worker_added([&](const WorkerInfo& w) {
            std::lock_guard g(m);
            added.push_back(w.pid);
        });
        c.on_worker_exiting([&](Pid p) {
            std::lock_guard g(m);
            exiting.push_back(p);
        });
        c.on_worker_exited([&](Pid p, const std::string& why) {
            std::lock_guard g(m);
            exited.emplace_back(p, why);
        });

        auto pids = c.addprocs(3);
        QCOMPARE(pids, (std::vector<Pid> { 2, 3, 4 }));
        QCOMPARE(c.workers(), (std::vector<Pid> { 2, 3, 4 }));
        QCOMPARE(c.procs(), (std::vector<Pid> { 1, 2, 3, 4 }));
        QCOMPARE(c.nworkers(), std::size_t(3));
        QCOMPARE(c.nprocs(), std::size_t(4));
        for (Pid p : pids)
            QCOMPARE(c.remotecall_fetch("myid", p).as_int(), std::int64_t(p));
        {
            std::lock_guard g(m);
            std::sort(added.begin(), added.end());
            QCOMPARE(added, pids);
        }

        const auto before = test::os_pids(c);
        c.rmprocs({ 3 });
        QCOMPARE(c.workers(), (std::vector<Pid> { 2, 4 }));
        {
            std::lock_guard g(m);
            QCOMPARE(exiting, std::vector<Pid> { 3 });
            QCOMPARE(exited.size(), std::size_t(1));
            QCOMPARE(exited[0].first, Pid(3));
            QVERIFY2(exited[0].second.find("removed by rmprocs") != std::string::npos,
                exited[0].second.c_str());
        }
        // Ids are never reused.
        QCOMPARE(c.addprocs(1), std::vector<Pid> { 5 });
        QCOMPARE(c.workers(), (std::vector<Pid> { 2, 4, 5 }));
        // Workers learn about each other: worker 2 can call worker 5, which joined after it.
        QCOMPARE(c.remotecall_fetch("relay", 2, 5, "myid", List {}).as_int(), 5);
        QCOMPARE(c.remotecall_fetch("relay", 5, 2, "myid", List {}).as_int(), 2);

        for (const auto& w : c.worker_info()) {
            QCOMPARE(w.host, std::string("localhost"));
            QCOMPARE(w.state, w.pid == 3 ? WorkerState::Exited : WorkerState::Running);
        }
        (void)before;
    }

    void threadsArePerWorker()
    {
        Cluster c(test::options());
        c.addprocs(1, Threads { 2, 1 });
        auto info = c.worker_info();
        QCOMPARE(info.size(), std::size_t(1));
        QCOMPARE(info[0].threads.default_threads, 2);
        QCOMPARE(info[0].threads.interactive, 1);
    }

    void tcpTransport()
    {
        Cluster c(test::options(Transport::Tcp));
        auto pids = c.addprocs(2);
        QVERIFY(c.worker_info()[0].address.rfind("tcp:127.0.0.1:", 0) == 0);
        QCOMPARE(c.remotecall_fetch("add", pids[1], 40, 2).as_int(), 42);
    }

    void parallelStartupOf16()
    {
        Cluster c(test::options());
        const auto t0 = std::chrono::steady_clock::now();
        auto pids = c.addprocs(16);
        const auto took = std::chrono::steady_clock::now() - t0;
        QCOMPARE(pids.size(), std::size_t(16));
        qInfo("addprocs(16) took %.1f ms", std::chrono::duration<double, std::milli>(took).count());
        for (Pid p : pids)
            QCOMPARE(c.remotecall_fetch("myid", p).as_int(), std::int64_t(p));
    }

    void badWorkerPathFailsClearly()
    {
        auto o = test::options();
        o.worker_path = "/nonexistent/weft-worker";
        Cluster c(o);
        try {
            c.addprocs(2);
            QFAIL("expected ConnectionError");
        } catch (const ConnectionError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find("2 of 2 workers failed to start") != std::string::npos, e.what());
            QVERIFY2(msg.find("/nonexistent/weft-worker") != std::string::npos, e.what());
        }
        QCOMPARE(c.workers(), std::vector<Pid> { 1 });
    }

    void noOrphansAfterTheCluster()
    {
        std::vector<int> pids;
        {
            Cluster c(test::options());
            c.addprocs(4);
            pids = test::os_pids(c);
            QCOMPARE(pids.size(), std::size_t(4));
            c.remotecall("sleep_ms", 2, 60000); // busy when the cluster goes
        }
        QVERIFY(test::all_gone(pids));
    }
};

QTEST_GUILESS_MAIN(TestMembership)
#include "tst_membership.moc"
