// Channel<T> with Julia's semantics, from tasks and plain threads.

#include "completion.h"
#include "scheduler.h"
#include "weft/channel.h"

#include <QtTest>

#include <thread>

using namespace weft;
using namespace weft::detail;
using namespace std::chrono_literals;

class TestChannel : public QObject {
    Q_OBJECT
private slots:
    void juliaReplExample()
    {
        // c = Channel(2); put!(c, 1); close(c); put!(c, 2) throws; fetch twice; take!; take! throws
        Channel<int> c(2);
        c.put(1);
        c.close();
        QVERIFY_EXCEPTION_THROWN(c.put(2), InvalidStateException);
        QCOMPARE(c.fetch(), 1);
        QCOMPARE(c.fetch(), 1);
        QCOMPARE(c.take(), 1);
        try {
            c.take();
            QFAIL("expected InvalidStateException");
        } catch (const InvalidStateException& e) {
            QCOMPARE(std::string(e.what()), std::string("Channel is closed."));
        }
    }

    // Julia: fetch(Channel(0)) raises; there is nothing to look at without taking it.
    void fetchOnAnUnbufferedChannelThrows()
    {
        Channel<int> c(0);
        QVERIFY_EXCEPTION_THROWN(c.fetch(), InvalidStateException);
    }

    void iterationEndsWhenClosedAndDrained()
    {
        Channel<int> c(10);
        for (int i = 1; i <= 3; ++i)
            c.put(i);
        c.close();
        std::vector<int> data;
        for (int v : c)
            data.push_back(v);
        QCOMPARE(data, (std::vector<int> { 1, 2, 3 }));
    }

    void bufferedPutWaitsWhenFull()
    {
        Channel<int> c(2);
        c.put(1);
        c.put(2);
        std::atomic<bool> third_done { false };
        std::thread t([&] {
            c.put(3);
            third_done = true;
        });
        QTRY_COMPARE(c.stats().waiting_putters, std::size_t(1)); // the third put waits...
        QVERIFY(!third_done);
        QCOMPARE(c.take(), 1);
        t.join();
        QVERIFY(third_done);
        QCOMPARE(c.take(), 2);
        QCOMPARE(c.take(), 3);
    }

    void unbufferedPutHandsOff()
    {
        Channel<std::string> c(0);
        QVERIFY(!c.isready());
        std::atomic<bool> put_returned { false };
        std::thread t([&] {
            c.put("hello");
            put_returned = true;
        });
        QTRY_VERIFY(c.isready()); // a putter waits with its value
        QCOMPARE(c.stats().waiting_putters, std::size_t(1));
        QVERIFY(!put_returned); // ... until someone takes it
        QCOMPARE(c.take(), std::string("hello"));
        t.join();
        QVERIFY(put_returned);
        QVERIFY(!c.isready());
    }

    void closeWakesWaitingTasks()
    {
        Scheduler s(1, 0);
        Channel<int> empty(4), full(1);
        full.put(0);
        std::atomic<int> errors { 0 };
        Completion all;
        for (int i = 0; i < 3; ++i)
            s.pool(PoolKind::Default).spawn([&] {
                try {
                    empty.take();
                } catch (const InvalidStateException&) {
                    ++errors;
                }
                try {
                    full.put(1);
                } catch (const InvalidStateException&) {
                    if (++errors == 6)
                        all.set(Value());
                }
            });
        QTRY_COMPARE(empty.stats().waiting_takers, std::size_t(3));
        empty.close();
        QTRY_COMPARE(full.stats().waiting_putters, std::size_t(3));
        full.close();
        all.wait();
        QCOMPARE(errors.load(), 6);
        QCOMPARE(full.take(), 0); // what was buffered before close can still be taken
    }

    void blockedTakeFreesTheThread()
    {
        // One thread, two tasks: the taker waits, the putter must still get to run.
        Scheduler s(1, 0);
        Channel<int> c(0);
        Completion got;
        // The tasks hold their own handles: the putter may still be returning when we are done.
        s.pool(PoolKind::Default).spawn([c, &got]() mutable { got.set(Value(c.take())); });
        s.pool(PoolKind::Default).spawn([c]() mutable { c.put(42); });
        QCOMPARE(got.wait().as_int(), 42);
    }

    void manyProducersAndConsumers()
    {
        Scheduler s(2, 0);
        Channel<std::int64_t> c(16);
        std::atomic<std::int64_t> sum { 0 };
        std::atomic<int> consumers_left { 4 };
        Completion done;
        for (int p = 0; p < 4; ++p)
            s.pool(PoolKind::Default).spawn([&c, p] {
                for (std::int64_t i = 1; i <= 10000; ++i)
                    c.put(i + p * 10000);
            });
        for (int k = 0; k < 4; ++k)
            s.pool(PoolKind::Default).spawn([&] {
                for (int i = 0; i < 10000; ++i)
                    sum += c.take();
                if (--consumers_left == 0)
                    done.set(Value());
            });
        done.wait();
        const std::int64_t n = 40000;
        QCOMPARE(sum.load(), n * (n + 1) / 2);
    }
};

QTEST_GUILESS_MAIN(TestChannel)
#include "tst_channel.moc"
