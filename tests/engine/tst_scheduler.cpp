// Tasks on pools: a waiting task frees its thread, sleeps suspend, pools are separate.

#include "completion.h"
#include "scheduler.h"
#include "spin_wait.h"
#include "time_bound.h"

#include <QtTest>

#include <atomic>

using namespace weft;
using namespace weft::detail;
using namespace std::chrono_literals;

// A clock that moves only when a test moves it: a spin's window is then counted in polls.
struct StepClock {
    using duration = std::chrono::microseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<StepClock>;
    static constexpr bool is_steady = true;
    static inline time_point t {};
    static time_point now() { return t; }
};

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
        // On its one thread, many are asleep at once: a sleep suspends its task.
        QTRY_VERIFY(s.pool(PoolKind::Default).stats().blocked >= 10);
        all.wait();
        const auto elapsed = std::chrono::steady_clock::now() - t0;
        // 50 sleeps of 100 ms on one thread finish together, not one after another.
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
        QVERIFY2(weft::test::within_time_bound(ms, 1000), std::to_string(ms).c_str());
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

    // Idle work (a worker polling its master connection): one idle thread at a time does it,
    // while it serves something it keeps at it, and wake_idle_worker gets a sleeper doing it.
    void idleWorkRunsOnOneSpinningThreadAtATime()
    {
        auto work = std::make_shared<CountingWork>();
        Scheduler s(2, 0, work);
        QTRY_VERIFY(work->polls.load() > 0);
        QTRY_VERIFY(work->quiet_for(50ms)); // both threads asleep after their spin
        QCOMPARE(work->strays.load(), 0);
        QCOMPARE(work->begins.load(), work->ends.load());
    }

    void servingSomethingKeepsTheThreadPolling()
    {
        auto work = std::make_shared<CountingWork>();
        Scheduler s(1, 0, work);
        QTRY_VERIFY(work->polls.load() > 0);
        QTRY_VERIFY(work->quiet_for(50ms));
        // 100 ms of "requests": far beyond one spin window (WEFT_SPIN_US, 30 us by default).
        work->busy_until = std::chrono::steady_clock::now() + 100ms;
        const int begins = work->begins.load();
        s.pool(PoolKind::Default).wake_idle_worker();
        QTRY_VERIFY(work->begins.load() == begins + 1);
        QTRY_VERIFY(std::chrono::steady_clock::now() > work->busy_until.load());
        QTRY_VERIFY(work->quiet_for(50ms));
        QCOMPARE(work->begins.load(), begins + 1); // one stretch, not a stretch per request
        // It served throughout, not just for one spin window.
        const double served_ms = (work->last_served_ns.load() - work->first_served_ns.load()) / 1e6;
        QVERIFY2(served_ms > 80, std::to_string(served_ms).c_str());
    }

    void wakeIdleWorkerSpinsASleepingThreadAgain()
    {
        auto work = std::make_shared<CountingWork>();
        Scheduler s(2, 0, work);
        QTRY_VERIFY(work->polls.load() > 0);
        QTRY_VERIFY(work->quiet_for(50ms));
        const int begins = work->begins.load();
        const int polls = work->polls.load();
        s.pool(PoolKind::Default).wake_idle_worker();
        QTRY_VERIFY(work->begins.load() == begins + 1);
        QTRY_VERIFY(work->polls.load() > polls);
        // A task still runs normally afterwards.
        Completion done;
        s.pool(PoolKind::Default).spawn([&] { done.set(Value(true)); });
        QVERIFY(done.wait().as_bool());
    }

    // Regression: the window was only looked at after 64 relax rounds, and a worker's poll is a
    // read() of its master connection, so every idle spin made 64 reads (~100 us of CPU, for a
    // 30 us window). Polls that find nothing and take 10 us each end a 30 us spin at the third.
    void idleSpinKeepsToItsWindow()
    {
        StepClock::t = {};
        int polls = 0;
        const bool met = spin_until<StepClock>(
            30us, [] { return false; },
            [&] {
                ++polls;
                StepClock::t += 10us;
                return false;
            });
        QVERIFY(!met);
        QCOMPARE(polls, 3);
    }

    // A poll that found work starts the window afresh: five such polls of 10 us, then three more
    // that find nothing.
    void pollThatFoundWorkRestartsTheWindow()
    {
        StepClock::t = {};
        int polls = 0;
        const bool met = spin_until<StepClock>(
            30us, [] { return false; },
            [&] {
                StepClock::t += 10us;
                return ++polls <= 5;
            });
        QVERIFY(!met);
        QCOMPARE(polls, 8);
    }

    void spinEndsWhenItsConditionHolds()
    {
        StepClock::t = {};
        int rounds = 0;
        QVERIFY(spin_until<StepClock>(
            30us, [&] { return ++rounds == 3; }, [] { return false; }));
        QCOMPARE(rounds, 3);
        // No window: the condition is looked at once.
        rounds = 0;
        QVERIFY(!spin_until<StepClock>(
            0us, [&] { return ++rounds == 3; }, [] { return true; }));
        QCOMPARE(rounds, 1);
    }

private:
    // Takes the work only when nobody holds it (as a worker's MasterPoller does), and counts
    // calls from a thread that does not hold it: the scheduler must make none.
    struct CountingWork final : IdleWork {
        std::atomic<int> begins { 0 }, ends { 0 }, polls { 0 }, served { 0 }, strays { 0 };
        std::atomic<bool> taken { false };
        std::atomic<std::thread::id> holder {};
        std::atomic<std::chrono::steady_clock::time_point> busy_until {};
        std::atomic<std::int64_t> last_poll_ns { 0 }, first_served_ns { 0 }, last_served_ns { 0 };
        bool begin() override
        {
            if (taken.exchange(true))
                return false;
            holder = std::this_thread::get_id();
            begins.fetch_add(1);
            return true;
        }
        bool poll() override
        {
            if (holder.load() != std::this_thread::get_id())
                strays.fetch_add(1);
            polls.fetch_add(1);
            const auto now = std::chrono::steady_clock::now();
            last_poll_ns = now.time_since_epoch().count();
            if (now < busy_until.load()) {
                if (served.fetch_add(1) == 0)
                    first_served_ns = last_poll_ns.load();
                last_served_ns = last_poll_ns.load();
                return true;
            }
            return false;
        }
        void end() override
        {
            if (holder.load() != std::this_thread::get_id())
                strays.fetch_add(1);
            holder = std::thread::id();
            ends.fetch_add(1);
            taken.store(false);
        }
        bool quiet_for(std::chrono::milliseconds d) const
        {
            const auto last = std::chrono::steady_clock::time_point(
                std::chrono::steady_clock::duration(last_poll_ns.load()));
            return std::chrono::steady_clock::now() - last > d;
        }
    };
};

QTEST_GUILESS_MAIN(TestScheduler)
#include "tst_scheduler.moc"
