// Every call form against real workers, Future semantics, big arrays, nested calls, output.

#include "cluster_fixture.h"

#include <cmath>
#include <mutex>
#include <set>

using namespace weft;

class TestRemoteCalls : public QObject {
    Q_OBJECT
private:
    std::mutex out_m;
    std::vector<std::pair<Pid, std::string>> output;
    std::unique_ptr<Cluster> c;

private slots:
    void initTestCase()
    {
        c = std::make_unique<Cluster>(test::options());
        c->on_output([this](Pid p, const std::string& line) {
            std::lock_guard g(out_m);
            output.emplace_back(p, line);
        });
        // One thread per worker: nested calls must not deadlock.
        QCOMPARE(c->addprocs(3, Threads { 1, 0 }), (std::vector<Pid> { 2, 3, 4 }));
    }
    void cleanupTestCase() { QVERIFY(test::stop_cluster(c)); }

    void everyCallForm()
    {
        // remotecall -> Future
        Future r = c->remotecall("rand", 2, 2, 2);
        QCOMPARE(r.where(), Pid(2));
        const Array& a = r.fetch().as_array();
        QCOMPARE(a.shape(), (std::vector<std::uint64_t> { 2, 2 }));
        for (double x : a.view<double>())
            QVERIFY(x >= 0 && x < 1);
        QVERIFY(r.isready());

        // remotecall_fetch
        QCOMPARE(c->remotecall_fetch("add", 3, 1, 2).as_int(), 3);
        // remotecall_wait: returns once done; the value stays on the worker until fetched
        Future w = c->remotecall_wait("sleep_ms", 4, 30);
        QVERIFY(w.isready());
        QCOMPARE(w.fetch().as_int(), 30);
        // spawnat and spawn
        QCOMPARE(c->spawnat(3, "myid").fetch().as_int(), 3);
        std::set<std::int64_t> seen;
        for (int i = 0; i < 6; ++i)
            seen.insert(c->spawn("myid").fetch().as_int());
        QCOMPARE(seen, (std::set<std::int64_t> { 2, 3, 4 }));
        // wait() then fetch
        Future s = c->remotecall("sleep_ms", 2, 20);
        QVERIFY(!s.isready());
        s.wait();
        QVERIFY(s.isready());
        QCOMPARE(s.fetch().as_int(), 20);
    }

    void remoteDoRunsWithoutReply()
    {
        {
            std::lock_guard g(out_m);
            output.clear();
        }
        c->remote_do("print", 3, "remote_do was here");
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                std::lock_guard g(out_m);
                for (auto& [p, l] : output)
                    if (p == 3 && l == "remote_do was here")
                        return true;
                return false;
            }(),
            5000);
    }

    void futureArgumentsAreFetchedWhereTheCallRuns()
    {
        // s = @spawnat 2 1 .+ fetch(r), with r on worker 3
        Future r = c->remotecall("rand", 3, 2, 2);
        Future s = c->spawnat(2, "add", 1, r);
        const auto sv = s.fetch().as_array().view<double>();
        const auto rv = r.fetch().as_array().view<double>();
        for (std::size_t i = 0; i < 4; ++i)
            QCOMPARE(sv[i], rv[i] + 1);
        // On its owner a Future argument is used in place.
        Future big = c->remotecall("rand", 4, 1000);
        QCOMPARE(c->remotecall_fetch("getindex", 4, big, 1).as_double(),
            big.fetch().as_array().view<double>()[0]);
        // Futures compose before anything was fetched: a chain of three.
        Future x = c->remotecall("add", 2, 1, 1);
        Future y = c->remotecall("add", 3, x, 1);
        Future z = c->remotecall("add", 4, y, x);
        QCOMPARE(z.fetch().as_int(), 5);
    }

    void fetchAllBatchesAndKeepsOrder()
    {
        std::vector<Future> fs;
        for (int i = 0; i < 3000; ++i)
            fs.push_back(c->remotecall("add", Pid(2 + i % 3), i, 1));
        fs.push_back(c->remotecall("add", 1, 41, 1)); // owned by the master itself
        Future done = c->remotecall("echo", 3, "cached");
        done.fetch();
        fs.push_back(done);
        Future slow = c->remotecall("sleep_ms", 4, 50); // not ready when asked
        fs.push_back(slow);
        const auto before = c->traffic(2).messages_sent;
        const auto values = fetch_all(fs);
        QVERIFY2(c->traffic(2).messages_sent - before < 10, "requests should travel in batches");
        QCOMPARE(values.size(), fs.size());
        for (int i = 0; i < 3000; ++i)
            QCOMPARE(values[static_cast<std::size_t>(i)].as_int(), std::int64_t(i + 1));
        QCOMPARE(values[3000].as_int(), std::int64_t(42));
        QCOMPARE(values[3001].as_text(), std::string("cached"));
        QCOMPARE(values[3002].as_int(), std::int64_t(50));
        for (Pid p : { 2, 3, 4 })
            QTRY_VERIFY(c->store_table(p).empty()); // every value released at its owner
        // The first failure is thrown once every request is answered; the others are cached.
        std::vector<Future> mixed { c->remotecall("myid", 2), c->remotecall("fail", 3, "bad"),
            c->remotecall("myid", 4) };
        QVERIFY_EXCEPTION_THROWN(fetch_all(mixed), RemoteException);
        QVERIFY(mixed[0].cached() && mixed[2].cached() && !mixed[1].cached());
    }

    void secondFetchSendsNothing()
    {
        Future f = c->remotecall("echo", 2, "cached");
        QCOMPARE(f.fetch().as_text(), std::string("cached"));
        const auto before = c->traffic(2);
        for (int i = 0; i < 100; ++i)
            QCOMPARE(f.fetch().as_text(), std::string("cached"));
        Future copy = f;
        QCOMPARE(copy.fetch().as_text(), std::string("cached"));
        const auto after = c->traffic(2);
        QCOMPARE(after.messages_sent, before.messages_sent);
        QCOMPARE(after.bytes_sent, before.bytes_sent);
    }

    void tenThousandSequentialCalls()
    {
        for (int i = 0; i < 10000; ++i) {
            const Pid p = Pid(2 + i % 3);
            const auto v = c->remotecall_fetch("add", p, i, 1).as_int();
            if (v != i + 1)
                QFAIL(qPrintable(QString("call %1 returned %2").arg(i).arg(v)));
        }
    }

    void echoOfAMillionElementArray()
    {
        std::vector<double> v(1'000'000);
        for (std::size_t i = 0; i < v.size(); ++i)
            v[i] = std::sin(double(i));
        const Value in = Array::from(v);
        const Value out = c->remotecall_fetch("echo", 3, in);
        QVERIFY(out == in);
        QCOMPARE(out.as_array().size(), v.size());
    }

    void nestedCallBackIntoTheCaller()
    {
        // master -> worker 2 -> worker 3 -> worker 2, one thread each: worker 2's first task waits
        // for worker 3 while its thread serves the call coming back.
        const Value r = c->remotecall_fetch("relay", 2, 3, "relay", List { 2, "myid", List {} });
        QCOMPARE(r.as_int(), 2);
        // and many at once
        std::vector<Future> fs;
        for (int i = 0; i < 50; ++i)
            fs.push_back(c->remotecall(
                "relay", 2 + i % 3, 2 + (i + 1) % 3, "relay", List { 2 + i % 3, "myid", List {} }));
        for (int i = 0; i < 50; ++i)
            QCOMPARE(fs[i].fetch().as_int(), 2 + i % 3);
    }

    void callsToTheMasterItself()
    {
        QCOMPARE(c->remotecall_fetch("myid", 1).as_int(), 1);
        Future f = c->remotecall("add", 1, 20, 22);
        QCOMPARE(f.fetch().as_int(), 42);
        // a worker calling back into the master
        QCOMPARE(c->remotecall_fetch("relay", 3, 1, "myid", List {}).as_int(), 1);
    }

    void outputIsForwardedLineByLine()
    {
        {
            std::lock_guard g(out_m);
            output.clear();
        }
        for (Pid p : { 2, 3, 4 })
            c->remotecall_wait("print", p, "hello from " + std::to_string(p));
        QTRY_COMPARE_WITH_TIMEOUT(
            [&] {
                std::lock_guard g(out_m);
                return output.size();
            }(),
            std::size_t(3), 5000);
        std::lock_guard g(out_m);
        for (auto& [p, line] : output)
            QCOMPARE(line, "hello from " + std::to_string(p));
    }

    void interactivePoolCalls()
    {
        Cluster c2(test::options());
        c2.addprocs(1, Threads { 1, 1 });
        Future busy = c2.remotecall("busy_ms", 2, 300);
        const auto t0 = std::chrono::steady_clock::now();
        CallOptions o;
        o.pool = Pool::Interactive;
        QCOMPARE(c2.remotecall_fetch_args("myid", 2, {}, o).as_int(), 2);
        const auto took = std::chrono::steady_clock::now() - t0;
        QVERIFY2(took < std::chrono::milliseconds(150),
            "the interactive pool waited for the default pool");
        busy.wait();
    }
};

QTEST_GUILESS_MAIN(TestRemoteCalls)
#include "tst_remote_calls.moc"
