// Threads and tasks inside workers: the data-race lesson, pools, and local tasks.

#include "cluster_fixture.h"
#include "time_bound.h"
#include "weft/telemetry.h"

#include <set>

using namespace weft;
using namespace std::chrono_literals;

class TestThreads : public QObject {
    Q_OBJECT
private:
    std::unique_ptr<Cluster> c;

private slots:
    void initTestCase()
    {
        c = std::make_unique<Cluster>(test::options());
        c->addprocs(1, Threads { 4, 1 });
    }
    void cleanupTestCase() { c.reset(); }

    void threadInfo()
    {
        const Value info = c->remotecall_fetch("thread_info", 2);
        auto v = info.as_array().view<std::int64_t>();
        QCOMPARE(v[0], std::int64_t(4));
        QCOMPARE(v[1], std::int64_t(1));
        QVERIFY(v[2] >= 1 && v[2] <= 4);
    }

    void raceLosesUpdatesWhileAtomicsAndChunksAreExact()
    {
        // Enough work per thread that the four threads overlap even on a loaded machine.
        const std::int64_t n = 40'000'000, exact = n * (n + 1) / 2;
        QCOMPARE(c->remotecall_fetch("sum_atomic", 2, n).as_int(), exact);
        QCOMPARE(c->remotecall_fetch("sum_chunks", 2, n).as_int(), exact);
        // Four threads updating one counter without synchronisation lose updates.
        int lossy = 0;
        for (int attempt = 0; attempt < 10 && lossy == 0; ++attempt) {
            const auto got = c->remotecall_fetch("sum_race", 2, n).as_int();
            QVERIFY(got <= exact);
            lossy += got < exact;
        }
        QVERIFY2(lossy > 0, "sum_race never lost an update on 4 threads");
    }

    void fillThreadIdUsesSeveralThreads()
    {
        auto a = c->remotecall_fetch("fill_threadid", 2, 10000).as_array();
        std::set<std::int64_t> ids(a.view<std::int64_t>().begin(), a.view<std::int64_t>().end());
        for (auto id : ids)
            QVERIFY(id >= 1 && id <= 4);
        // :static gives block t to thread t: four blocks of 2,500, in thread order.
        QCOMPARE(ids, (std::set<std::int64_t> { 1, 2, 3, 4 }));
        const auto v = a.view<std::int64_t>();
        for (std::size_t i = 0; i < v.size(); ++i)
            QCOMPARE(v[i], std::int64_t(1 + i / 2500));
    }

    void interactivePoolAnswersWhileDefaultIsSaturated()
    {
        std::vector<Future> busy;
        for (int i = 0; i < 6; ++i)
            busy.push_back(c->remotecall("busy_ms", 2, 800));
        // Every default thread of worker 2 is busy now (its pool says so).
        const auto saturated = [&] {
            const auto snap = c->telemetry(); // alive for the loop
            for (auto& p : snap->processes)
                if (p.pid == 2)
                    return p.latest.pools[0].threads > 0
                        && p.latest.pools[0].busy == p.latest.pools[0].threads;
            return false;
        };
        QTRY_VERIFY_WITH_TIMEOUT(saturated(), 60000);
        CallOptions o;
        o.pool = Pool::Interactive;
        const auto t0 = std::chrono::steady_clock::now();
        QCOMPARE(
            c->remotecall_fetch_args("thread_info", 2, {}, o).as_array().view<std::int64_t>()[2],
            std::int64_t(5));
        const double ms
            = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                  .count();
        qInfo("interactive call answered in %.2f ms with the default pool saturated", ms);
        QVERIFY(test::within_time_bound(static_cast<long long>(ms), 50));
        fetch_all(busy);
    }

    void localTasksOnTheMaster()
    {
        auto t = spawn_task(*c, [] { return 6 * 7; });
        QCOMPARE(t.fetch(), 42);
        auto failing = spawn_task(*c, []() -> int { throw std::runtime_error("inside a task"); });
        QVERIFY_EXCEPTION_THROWN(failing.fetch(), std::runtime_error);
        std::atomic<int> n { 0 };
        parallel_for(
            *c, 0, 1000, [&](std::int64_t) { ++n; }, Schedule::Dynamic);
        QCOMPARE(n.load(), 1000);
        QVERIFY_EXCEPTION_THROWN(nthreads(), InvalidStateException); // not inside a task
        QCOMPARE(nthreads(*c), 2);
    }

    void fiberAwareMutex()
    {
        Mutex m;
        std::int64_t counter = 0;
        std::vector<TaskHandle<void>> ts;
        for (int t = 0; t < 8; ++t)
            ts.push_back(spawn_task(*c, [&] {
                for (int i = 0; i < 1000; ++i) {
                    std::lock_guard g(m);
                    ++counter;
                    if (i % 100 == 0)
                        weft::sleep(10us); // suspends while holding the lock
                }
            }));
        for (auto& t : ts)
            t.wait();
        QCOMPARE(counter, std::int64_t(8000));
    }
};

QTEST_GUILESS_MAIN(TestThreads)
#include "tst_threads.moc"
