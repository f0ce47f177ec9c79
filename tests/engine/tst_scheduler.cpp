// Tasks on pools: a waiting task frees its thread, sleeps suspend, pools are separate.

#include "completion.h"
#include "scheduler.h"

#include <QtTest>

#include <atomic>

using namespace weft;
using namespace weft::detail;
using namespace std::chrono_literals;

class TestScheduler : public QObject {
    Q_OBJECT
private slots:
    void spawnRunsAndCompletes()
    {
        Scheduler s(2, 0);
        Completion done;
        s.pool(PoolKind::Default).spawn([&] { done.set(Value(int64_t(current_thread_index()))); });
        const auto tid = done.wait().as_int();
        QVERIFY(tid >= 1 && tid <= 2);
    }

    void waitingTaskFreesItsThread()
    {
        // One thread, two tasks: the first waits for a value only the second can produce.
        Scheduler s(1, 0);
        Completion handoff, result;
        s.pool(PoolKind::Default).spawn([&] { result.set(Value(handoff.wait().as_int() + 1)); });
        s.pool(PoolKind::Default).spawn([&] { handoff.set(Value(41)); });
        QCOMPARE(result.wait().as_int(), 42);
    }

    void sleepSuspendsInsteadOfBlocking()
    {
        Scheduler s(1, 0);
        std::atomic<int> done { 0 };
        Completion all;
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 50; ++i)
            s.pool(PoolKind::Default).spawn([&] {
                sleep_for(100ms);
                if (++done == 50)
                    all.set(Value());
            });
        all.wait();
        const auto elapsed = std::chrono::steady_clock::now() - t0;
        // 50 sleeps of 100 ms on one thread finish together, not one after another.
        QVERIFY2(
            elapsed < 1s, std::to_string(std::chrono::duration<double>(elapsed).count()).c_str());
    }

    void interactivePoolServesWhileDefaultIsBusy()
    {
        Scheduler s(1, 1);
        std::atomic<bool> stop { false };
        s.pool(PoolKind::Default).spawn([&] {
            while (!stop)
                std::this_thread::yield();
        });
        Completion quick;
        const auto t0 = std::chrono::steady_clock::now();
        s.pool(PoolKind::Interactive).spawn([&] { quick.set(Value(true)); });
        quick.wait();
        QVERIFY(std::chrono::steady_clock::now() - t0 < 50ms);
        stop = true;
    }

    void blockedTasksAreCounted()
    {
        Scheduler s(1, 0);
        Completion gate;
        for (int i = 0; i < 10; ++i)
            s.pool(PoolKind::Default).spawn([&] { gate.wait(); });
        QTRY_COMPARE(s.pool(PoolKind::Default).stats().blocked, std::size_t(10));
        gate.set(Value());
        QTRY_COMPARE(s.pool(PoolKind::Default).stats().blocked, std::size_t(0));
        QTRY_COMPARE(s.pool(PoolKind::Default).stats().completed, std::uint64_t(10));
    }

    void manyTasksAcrossThreads()
    {
        Scheduler s(2, 0);
        std::atomic<int> n { 0 };
        Completion all;
        for (int i = 0; i < 100000; ++i)
            s.pool(PoolKind::Default).spawn([&] {
                if (++n == 100000)
                    all.set(Value());
            });
        all.wait();
        QCOMPARE(n.load(), 100000);
    }
};

QTEST_GUILESS_MAIN(TestScheduler)
#include "tst_scheduler.moc"
