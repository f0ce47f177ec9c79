// RemoteChannels across real processes, including the reference's jobs/results example.

#include "cluster_fixture.h"
#include "weft/telemetry.h"

#include <future>
#include <set>

using namespace weft;
using namespace std::chrono_literals;

class TestRemoteChannels : public QObject {
    Q_OBJECT
private:
    std::unique_ptr<Cluster> c;

private slots:
    void initTestCase() { c = test::start_cluster(4, Threads { 1, 0 }); }
    void cleanupTestCase() { QVERIFY(test::stop_cluster(c)); }

    void operationsFromTheMaster()
    {
        auto ch = RemoteChannel::create(*c, 4, 2);
        QCOMPARE(ch.where(), Pid(2));
        QVERIFY(!ch.isready());
        ch.put(1);
        ch.put("two");
        QVERIFY(ch.isready());
        QCOMPARE(ch.fetch().as_int(), 1); // fetch does not remove
        QCOMPARE(ch.take().as_int(), 1);
        QCOMPARE(ch.take().as_text(), std::string("two"));
        ch.put(3.5);
        ch.close();
        QVERIFY_EXCEPTION_THROWN(ch.put(4), InvalidStateException);
        std::vector<double> rest;
        for (Value v : ch)
            rest.push_back(v.as_double());
        QCOMPARE(rest, std::vector<double> { 3.5 });
        QVERIFY_EXCEPTION_THROWN(ch.take(), InvalidStateException);
    }

    void fromThreeProcessesAtOnce()
    {
        // Owned by worker 2; workers 3 and 4 put concurrently while the master takes.
        auto ch = RemoteChannel::create(*c, 8, 2);
        auto a = c->remotecall("put_range", 3, ch, 1, 500);
        auto b = c->remotecall("put_range", 4, ch, 501, 500);
        std::int64_t sum = 0;
        for (int i = 0; i < 1000; ++i)
            sum += ch.take().as_int();
        QCOMPARE(sum, std::int64_t(1000 * 1001 / 2));
        QCOMPARE(a.fetch().as_int(), 500);
        QCOMPARE(b.fetch().as_int(), 500);
        // And the owner using its own channel while others put.
        auto t = c->remotecall("take_sum", 2, ch, 100);
        c->remotecall("put_range", 3, ch, 1, 100);
        QCOMPARE(t.fetch().as_int(), std::int64_t(5050));
    }

    void jobsAndResults()
    {
        // const jobs = RemoteChannel(()->Channel{Int}(32)); const results = ...(32)
        auto jobs = RemoteChannel::create(*c, 32);
        auto results = RemoteChannel::create(*c, 32);
        const int n = 12;
        // @async make_jobs(n)
        auto feeder = std::async(std::launch::async, [&] {
            for (int i = 1; i <= n; ++i)
                jobs.put(i);
        });
        // for p in workers(): remote_do(do_work, p, jobs, results)
        std::vector<Future> workers_done;
        for (Pid p : c->workers())
            workers_done.push_back(c->remotecall("do_work", p, jobs, results, 200));
        std::set<std::int64_t> ids;
        std::set<std::int64_t> where;
        for (int left = n; left > 0; --left) {
            const List r = results.take().as_list(); // job_id, exec_time, where
            ids.insert(r[0].as_int());
            QVERIFY(r[1].as_double() >= 0 && r[1].as_double() < 0.2);
            where.insert(r[2].as_int());
        }
        feeder.get();
        QCOMPARE(ids.size(), std::size_t(n));
        QCOMPARE(*ids.begin(), std::int64_t(1));
        QCOMPARE(*ids.rbegin(), std::int64_t(n));
        QVERIFY2(where.size() >= 2, "the jobs should spread over several workers");
        jobs.close(); // each do_work loop ends when the jobs run out
        std::int64_t total = 0;
        for (auto& f : workers_done)
            total += f.fetch().as_int();
        QCOMPARE(total, std::int64_t(n));
    }

    void aBlockedTakeFreesTheWorkersOnlyThread()
    {
        // Worker 3 has one thread: its first task waits in take while the second one puts.
        auto ch = RemoteChannel::create(*c, 0, 3);
        auto taker = c->remotecall("take_sum", 3, ch, 1);
        auto putter = c->remotecall("put_range", 3, ch, 41, 1);
        QCOMPARE(taker.fetch().as_int(), 41);
        QCOMPARE(putter.fetch().as_int(), 1);
    }

    void waitersGetProcessExitedWhenTheOwnerDies()
    {
        auto [owner, os_pid] = test::add_worker(*c);
        auto ch = RemoteChannel::create(*c, 1, owner);
        auto waiting = std::async(std::launch::async, [&] {
            try {
                ch.take();
                return std::string("took a value");
            } catch (const ProcessExitedException& e) {
                return std::to_string(e.pid()) + ": " + e.reason();
            }
        });
        // The take waits on the owner (its channel shows the taker) before the owner dies.
        const auto takers = [&] {
            const auto snap = c->telemetry(); // alive for the loop
            for (auto& h : snap->channels)
                if (h.owner == owner && h.id == ch.ref().id && !h.gone)
                    return h.latest.waiting_takers;
            return std::uint64_t(0);
        };
        QTRY_VERIFY_WITH_TIMEOUT(takers() >= 1, 60000);
        ::kill(os_pid, SIGKILL);
        QCOMPARE(waiting.wait_for(60s), std::future_status::ready);
        const auto what = waiting.get();
        QVERIFY2(what.find("SIGKILL") != std::string::npos, what.c_str());
        QVERIFY(what.rfind(std::to_string(owner) + ":", 0) == 0);
    }
};

QTEST_GUILESS_MAIN(TestRemoteChannels)
#include "tst_remote_channels.moc"
