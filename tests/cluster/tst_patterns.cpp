// pmap, distributed_reduce and everywhere on real workers: order, dynamic scheduling, batches,
// errors, and a worker dying mid-run.

#include "cluster_fixture.h"
#include "pattern_kernels.h"
#include "time_bound.h"

#include <QtTest>

#include <set>
#include <signal.h>

using namespace weft;

class TestPatterns : public QObject {
    Q_OBJECT
    std::unique_ptr<Cluster> c_;

private slots:
    void initTestCase() { c_ = test::start_cluster(3); }
    void cleanupTestCase() { QVERIFY(test::stop_cluster(c_)); }

    void pmap_keeps_input_order_data()
    {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("batch");
        QTest::newRow("one per call") << 50 << 1;
        QTest::newRow("batches of 7") << 50 << 7;
        QTest::newRow("one batch") << 10 << 100;
        QTest::newRow("empty") << 0 << 1;
    }
    void pmap_keeps_input_order()
    {
        QFETCH(int, n);
        QFETCH(int, batch);
        List items;
        for (int i = 0; i < n; ++i)
            items.emplace_back(std::int64_t(i));
        PmapOptions o;
        o.batch_size = static_cast<std::size_t>(batch);
        std::size_t last_done = 0;
        std::mutex m;
        o.on_progress = [&](std::size_t done, std::size_t total) {
            std::lock_guard g(m);
            QCOMPARE(total, std::size_t(n));
            last_done = std::max(last_done, done);
        };
        auto out = pmap(*c_, "square", items, o);
        QCOMPARE(out.size(), std::size_t(n));
        for (int i = 0; i < n; ++i)
            QCOMPARE(out[static_cast<std::size_t>(i)].as_int(), std::int64_t(i) * i);
        QCOMPARE(last_done, std::size_t(n));
    }

    // Unequal items: the worker that drew the long one takes no more while the others finish the
    // short ones (dynamic scheduling), so the run takes about as long as the long item.
    void pmap_balances_unequal_work()
    {
        List items { std::int64_t(400) };
        for (int i = 0; i < 20; ++i)
            items.emplace_back(std::int64_t(20));
        QElapsedTimer t;
        t.start();
        auto out = pmap(*c_, "sleep_ms", items);
        const auto ms = t.elapsed();
        QCOMPARE(out.size(), items.size());
        // Static chunks of 7 would put 400 + 6*20 = 520 ms on one worker.
        QVERIFY2(test::within_time_bound(ms, 500), qPrintable(QString("took %1 ms").arg(ms)));
        QVERIFY(ms >= 400);
    }

    void pmap_uses_every_worker()
    {
        List items;
        for (int i = 0; i < 30; ++i)
            items.emplace_back(std::int64_t(5));
        auto out = pmap(*c_, "sleep_ms", items);
        QCOMPARE(out.size(), items.size());
        std::set<Pid> seen;
        // myid ignores its arguments, so each item reports the worker that ran it.
        for (auto& v : pmap(*c_, "myid", items))
            seen.insert(static_cast<Pid>(v.as_int()));
        QCOMPARE(seen.size(), std::size_t(3));
    }

    void pmap_errors_reach_the_caller()
    {
        List items { std::int64_t(1), std::string("not a number"), std::int64_t(3) };
        try {
            pmap(*c_, "square", items);
            QFAIL("expected a RemoteException");
        } catch (const RemoteException& e) {
            QVERIFY(e.origin() >= 2);
        }
        try {
            pmap(*c_, "no_such_kernel", items);
            QFAIL("expected KernelNotFound");
        } catch (const KernelNotFound& e) {
            // The same typed error remotecall gives; nothing names pmap's internal kernel.
            QCOMPARE(QString::fromStdString(e.kernel()), QString("no_such_kernel"));
            QVERIFY(QString(e.what()).contains("'no_such_kernel' is not loaded on worker"));
            QVERIFY(!QString(e.what()).contains("weft."));
        }
        try {
            pmap(*c_, "fail", List { std::string("boom") });
            QFAIL("expected a RemoteException");
        } catch (const RemoteException& e) {
            for (const auto& line : e.captured().backtrace)
                QVERIFY2(line.find("weft.") == std::string::npos, line.c_str());
        }
        // The cluster keeps working.
        QCOMPARE(pmap(*c_, "square", List { std::int64_t(4) })[0].as_int(), std::int64_t(16));
    }

    // A worker killed in the middle: its batch is redone elsewhere and nothing is lost.
    void pmap_survives_a_dying_worker()
    {
        auto [pid, os] = test::add_worker(*c_);
        List items;
        for (int i = 0; i < 40; ++i)
            items.emplace_back(std::int64_t(25));
        // Killed once the run is under way (some items done), not after a guessed delay.
        PmapOptions o;
        std::atomic<bool> killed { false };
        o.on_progress = [&, os = os](std::size_t done, std::size_t) {
            if (done >= 5 && !killed.exchange(true))
                ::kill(os, SIGKILL);
        };
        auto out = pmap(*c_, "sleep_ms", items, o);
        QVERIFY(killed);
        QCOMPARE(out.size(), items.size());
        for (auto& v : out)
            QCOMPARE(v.kind(), Value::Kind::Int64);
        QTRY_VERIFY(!std::ranges::count(c_->workers(), pid));
        QCOMPARE(c_->nworkers(), std::size_t(3));
    }

    void distributed_reduce_counts_heads()
    {
        const std::int64_t n = 200000;
        auto heads = distributed_reduce(*c_, "+", "coin_flip", 0, n).as_int();
        QVERIFY2(std::abs(heads - n / 2) < n / 50, qPrintable(QString::number(heads)));
        QCOMPARE(distributed_reduce(*c_, "max", "square", -5, 4).as_int(), std::int64_t(25));
        QCOMPARE(distributed_reduce(*c_, "add", "square", 1, 4).as_int(), std::int64_t(14));
        // Fewer items than workers.
        QCOMPARE(distributed_reduce(*c_, "+", "square", 3, 4).as_int(), std::int64_t(9));
        QVERIFY_THROWS_EXCEPTION(KernelNotFound, distributed_reduce(*c_, "nope", "square", 0, 9));
    }

    // Julia's splitrange: the first chunks take the remainder (1:11 over 2 is 6, 5; over 3 it is
    // 4, 4, 3).
    void distributed_reduce_splits_like_julia()
    {
        using R = std::vector<std::pair<std::int64_t, std::int64_t>>;
        QCOMPARE(detail::split_range(1, 12, 2), (R { { 1, 7 }, { 7, 12 } }));
        QCOMPARE(detail::split_range(1, 12, 3), (R { { 1, 5 }, { 5, 9 }, { 9, 12 } }));
        QCOMPARE(detail::split_range(0, 2, 3), (R { { 0, 1 }, { 1, 2 } }));
        QCOMPARE(distributed_reduce(*c_, "+", "square", 1, 12).as_int(), std::int64_t(506));
    }

    void everywhere_collects_every_failure()
    {
        try {
            everywhere(*c_, "fail", List { std::string("everyone fails") });
            QFAIL("expected a CompositeException");
        } catch (const CompositeException& e) {
            QCOMPARE(e.entries().size(), c_->procs().size());
            for (const auto& entry : e.entries())
                QVERIFY(entry.message.find("everyone fails") != std::string::npos);
            QVERIFY(QString(e.what()).contains("processes failed"));
        }
    }

    void everywhere_runs_on_every_process()
    {
        auto out = everywhere(*c_, "myid");
        const auto ps = c_->procs();
        QCOMPARE(out.size(), ps.size());
        for (Pid p : ps)
            QCOMPARE(out.at(p).as_int(), std::int64_t(p));
        QVERIFY(out.count(1));
    }

    // With no workers, process 1 is the worker.
    void patterns_without_workers()
    {
        Cluster solo(test::options());
        auto out = pmap(solo, "square", List { std::int64_t(2), std::int64_t(3) });
        QCOMPARE(out[1].as_int(), std::int64_t(9));
        QCOMPARE(distributed_reduce(solo, "+", "square", 0, 4).as_int(), std::int64_t(14));
    }
};

QTEST_GUILESS_MAIN(TestPatterns)
#include "tst_patterns.moc"
