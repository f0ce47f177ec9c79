// One plain regression test per bug the correctness issue found (data corruption, premature frees
// and hangs), each written against the public API as a user would hit it.

#include "cluster_fixture.h"

#include <QTemporaryDir>

#include <atomic>
#include <fstream>

using namespace weft;
using namespace std::chrono_literals;

namespace {

Array marked_array(std::size_t n, double first)
{
    std::vector<double> v(n, 0.5);
    v[0] = first;
    return Array::from(std::move(v));
}

} // namespace

class TestRegressions : public QObject {
    Q_OBJECT
private:
    std::unique_ptr<Cluster> c;

private slots:
    void initTestCase() { c = test::start_cluster(3); }
    void cleanupTestCase() { QVERIFY(test::stop_cluster(c)); }

    // 1. Large arrays put into a master-owned channel by a worker came back with their first
    //    16 bytes overwritten: the put's value viewed a receive buffer nobody kept.
    void largeArraysThroughAWorkerArriveIntact_data()
    {
        QTest::addColumn<int>("capacity");
        QTest::newRow("unbuffered jobs") << 0;
        QTest::newRow("buffered jobs") << 10;
    }
    void largeArraysThroughAWorkerArriveIntact()
    {
        QFETCH(int, capacity);
        auto jobs = RemoteChannel::create(*c, static_cast<std::size_t>(capacity), 1);
        auto results = RemoteChannel::create(*c, 20, 1);
        auto worker = c->remotecall("do_work", 2, jobs, results, 0);
        std::thread feeder([&] {
            for (int i = 1; i <= 3; ++i)
                jobs.put(marked_array(std::size_t(1) << 20, i));
            jobs.close();
        });
        std::set<double> firsts;
        for (int i = 0; i < 3; ++i) {
            const Value r = results.take();
            const auto& a = r.as_list().at(0).as_array().view<double>();
            QCOMPARE(a.size(), std::size_t(1) << 20);
            firsts.insert(a[0]);
            for (std::size_t k = 1; k < a.size(); ++k)
                if (a[k] != 0.5)
                    QFAIL(qPrintable(QString("element %1 is %2").arg(k).arg(a[k])));
        }
        feeder.join();
        QCOMPARE(firsts, (std::set<double> { 1, 2, 3 }));
        QCOMPARE(worker.fetch().as_int(), 3);
    }

    // 2. A Future inside a channel item must keep its value alive after the master lets go.
    void aFutureInsideAChannelKeepsItsValue()
    {
        auto ch = RemoteChannel::create(*c, 4, 3);
        RefId id;
        {
            Future f = c->remotecall("rand", 2, 1000);
            f.wait();
            id = f.ref().id;
            ch.put(List { f.ref(), 7 });
        } // the master's handle goes
        // Worker 3 (whose channel holds it) is the holder now; worker 2 must not free it.
        QTRY_VERIFY(!test::holders(c->store_table(2), id).count(1));
        QVERIFY(test::holds(c->store_table(2), id));
        const Value item = ch.take();
        const RemoteRef r = item.as_list().at(0).as_ref();
        QCOMPARE(r.id, id);
        const Value got = c->remotecall_fetch("echo", 3, r); // fetched where the call runs
        QCOMPARE(got.as_array().size(), std::size_t(1000));
    }
    void aChannelInsideAChannelStaysOpen()
    {
        auto outer = RemoteChannel::create(*c, 4, 3);
        RefId inner_id;
        {
            auto inner = RemoteChannel::create(*c, 4, 2);
            inner.put(42);
            inner_id = inner.ref().id;
            outer.put(inner.ref());
        }
        QTRY_VERIFY(!test::holders(c->store_table(2), inner_id).count(1));
        QVERIFY(test::holds(c->store_table(2), inner_id));
        auto inner = RemoteChannel::attach(*c, outer.take().as_ref());
        QCOMPARE(inner.take().as_int(), 42);
    }

    // Found by tst_ref_model: a Future finalized by the master while a result on another
    // process still holds a reference to it.
    void finalizeKeepsWhatOthersHold_data()
    {
        QTest::addColumn<int>("owner");
        QTest::addColumn<int>("holder");
        for (int o = 1; o <= 3; ++o)
            for (int h = 2; h <= 3; ++h)
                QTest::addRow("owner %d, held in a result on %d", o, h) << o << h;
    }
    void finalizeKeepsWhatOthersHold()
    {
        QFETCH(int, owner);
        QFETCH(int, holder);
        Future f = c->remotecall("rand", Pid(owner), 4);
        Future w = c->remotecall("echo", Pid(holder), List { f.ref() });
        const RefId id = f.ref().id;
        f.finalize(); // before either call may have run
        w.wait();
        QVERIFY(test::holds(c->store_table(Pid(owner)), id));
        const Value v = c->remotecall_fetch("echo", Pid(holder), w.ref());
        QCOMPARE(
            c->remotecall_fetch("echo", 2, v.as_list().at(0)).as_array().size(), std::size_t(4));
    }

    void twoHandlesOnTheMaster_data()
    {
        QTest::addColumn<int>("holder");
        QTest::newRow("result on 3") << 3;
        QTest::newRow("result on 2") << 2;
        QTest::newRow("result on the master") << 1;
    }
    void twoHandlesOnTheMaster()
    {
        QFETCH(int, holder);
        Future f = c->remotecall("rand", 2, 4);
        Future w = c->remotecall("echo", Pid(holder), List { f.ref() });
        const Value v = c->remotecall_fetch("echo", 1, w.ref()); // w fetched on the master
        Future second = Future::attach(*c, v.as_list().at(0).as_ref());
        QVERIFY(second.ref().hold != f.ref().hold || holder == 1);
        QCOMPARE(c->remotecall_fetch("echo", 1, f.ref()).as_array().size(), std::size_t(4));
        QVERIFY(test::holds(c->store_table(2), f.ref().id) || holder == 1);
        QCOMPARE(second.fetch().as_array().size(), std::size_t(4));
    }

    // Found by the model test: a finalized Future the master owned itself still answered
    // isready() (false once freed) and fetch() (the value, while a worker kept it alive), where a
    // worker-owned one throws. Finalized is finalized wherever the value lives.
    void finalizedHandleThrowsWhereverTheValueLives_data()
    {
        QTest::addColumn<int>("owner");
        QTest::newRow("owned by the master") << 1;
        QTest::newRow("owned by a worker") << 2;
    }
    void finalizedHandleThrowsWhereverTheValueLives()
    {
        QFETCH(int, owner);
        Future f = c->remotecall("rand", Pid(owner), 4);
        f.wait();
        Future w = c->remotecall("echo", 3, List { f.ref() }); // worker 3 keeps the value alive
        w.wait();
        f.finalize();
        QVERIFY(test::holds(c->store_table(Pid(owner)), f.ref().id));
        QVERIFY_THROWS_EXCEPTION(InvalidStateException, (void)f.isready());
        QVERIFY_THROWS_EXCEPTION(InvalidStateException, f.wait());
        QVERIFY_THROWS_EXCEPTION(InvalidStateException, (void)f.fetch());
        // The copy worker 3 holds is its own handle, and still fetches.
        const Value v = c->remotecall_fetch("echo", 3, w.ref());
        Future copy = Future::attach(*c, v.as_list().at(0).as_ref());
        QCOMPARE(copy.fetch().as_array().size(), std::size_t(4));
    }

    // Found by the frame fuzzer under UBSan: square overflowed a signed integer (undefined
    // behaviour). It wraps now, as Julia's Int64 arithmetic does.
    void squareWrapsLikeJulia()
    {
        QCOMPARE(c->remotecall_fetch("square", 2, std::int64_t(3037000500)).as_int(),
            std::int64_t(-9223372036709301616));
    }

    // A value stored on the master holding a channel reference, passed to workers, which fetch
    // it from the master.
    void masterOwnedResultPassedToWorkers()
    {
        for (int round = 0; round < 200; ++round) {
            RefId id;
            Future m;
            {
                auto ch = RemoteChannel::create(*c, 4, 3);
                id = ch.ref().id;
                m = c->remotecall("echo", 1, List { ch.ref() });
                m.wait();
            }
            for (Pid w : { Pid(2), Pid(3) }) { // a third process, and the channel's owner
                const Value v = c->remotecall_fetch("echo", w, m.ref());
                QVERIFY2(test::holds(c->store_table(3), id),
                    qPrintable(QString("round %1, after echo on %2").arg(round).arg(w)));
                QCOMPARE(v.as_list().at(0).as_ref().id, id);
            }
        }
    }

    // 3. addprocs hung forever when worker_timeout ran out before the worker said anything.
    void workerTimeoutFailsAddprocs()
    {
        QTemporaryDir dir;
        const QString script = dir.filePath("slow-worker");
        {
            std::ofstream out(script.toStdString());
            out << "#!/bin/sh\nexec sleep 5\n";
        }
        QFile::setPermissions(script, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        auto o = test::options();
        o.worker_path = script.toStdString();
        o.worker_timeout = 300ms;
        Cluster slow(o);
        try {
            slow.addprocs(2);
            QFAIL("addprocs returned");
        } catch (const ConnectionError& e) {
            QVERIFY2(std::string(e.what()).find("did not become ready within 300 ms")
                    != std::string::npos,
                e.what());
        }
        QCOMPARE(slow.workers(), std::vector<Pid> { 1 });
    }

    // 4. The master's own sleeping task outlived the cluster, and its timer fired on a freed
    //    fiber stack.
    void clusterEndsUnderARunningKernel()
    {
        for (int i = 0; i < 5; ++i) {
            auto o = test::options();
            Cluster own(o);
            auto f = own.remotecall("sleep_ms", 1, 300);
            auto g = own.remotecall("sleep_ms", 1, 5);
            g.wait(); // one timer has fired, the other is pending as the cluster goes
        }
    }

    // 5. A message with more than 512 arrays of 64 KiB or more hung its connection for good.
    void manyLargeArraysInOneMessage()
    {
        List many;
        for (int i = 0; i < 520; ++i)
            many.push_back(marked_array(8192, i));
        const Value back = c->remotecall_fetch("echo", 2, many);
        QCOMPARE(back, Value(many));
        std::vector<Future> fs;
        for (int i = 0; i < 600; ++i)
            fs.push_back(c->remotecall("rand", 3, 8192));
        const auto vs = fetch_all(fs);
        QCOMPARE(vs.size(), std::size_t(600));
        for (const auto& v : vs)
            QCOMPARE(v.as_array().size(), std::size_t(8192));
        // The connection still serves.
        QCOMPARE(c->remotecall_fetch("add", 2, 1, 2).as_int(), 3);
    }

    // 6. A throwing callback wedged the worker's exit and so ~Cluster; callbacks could not be
    //    removed.
    void throwingCallbackChangesNothing()
    {
        // Declared before the cluster: its callbacks may run until it is gone.
        std::atomic<int> exited { 0 }, added { 0 };
        std::vector<std::string> logs;
        std::mutex logs_m;
        auto o = test::options();
        Cluster own(o);
        own.on_log([&](const std::string& m) {
            std::lock_guard g(logs_m);
            logs.push_back(m);
        });
        own.on_worker_exited([](Pid, const std::string&) { throw std::runtime_error("boom"); });
        own.on_worker_exited([&](Pid, const std::string&) { ++exited; });
        const auto id = own.on_worker_added([&](const WorkerInfo&) { ++added; });
        own.on_output([](Pid, const std::string&) { throw 17; });
        const auto pids = own.addprocs(2);
        QCOMPARE(added.load(), 2);
        own.remove_callback(id);
        own.addprocs(1);
        QCOMPARE(added.load(), 2);
        own.remotecall_fetch("print", pids[0], "hello");
        own.rmprocs({ pids[0] });
        QCOMPARE(exited.load(), 1);
        QCOMPARE(own.workers().size(), std::size_t(2));
        std::lock_guard g(logs_m);
        QVERIFY(std::any_of(logs.begin(), logs.end(),
            [](const std::string& m) { return m.find("boom") != std::string::npos; }));
    }
};

QTEST_GUILESS_MAIN(TestRegressions)
#include "tst_regressions.moc"
