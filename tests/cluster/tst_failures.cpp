// Errors reach the caller as typed exceptions, precisely, and the rest of the cluster keeps
// working.

#include "cluster_fixture.h"
#include "connection.h"
#include "handshake.h"
#include "socket.h"
#include "time_bound.h"
#include "weft/telemetry.h"

#include <capnp/serialize.h>

#include <mutex>

using namespace weft;
using namespace std::chrono_literals;

class TestFailures : public QObject {
    Q_OBJECT
private:
    std::mutex m;
    std::vector<std::pair<Pid, std::string>> output;
    std::unique_ptr<Cluster> c;

    bool output_contains(Pid pid, const std::string& needle)
    {
        std::lock_guard g(m);
        for (auto& [p, l] : output)
            if (p == pid && l.find(needle) != std::string::npos)
                return true;
        return false;
    }

private slots:
    void initTestCase()
    {
        c = std::make_unique<Cluster>(test::options());
        c->on_output([this](Pid p, const std::string& l) {
            std::lock_guard g(m);
            output.emplace_back(p, l);
        });
        c->addprocs(3);
    }
    void cleanupTestCase() { QVERIFY(test::stop_cluster(c)); }

    // interrupt(pid) ends the calls running there (sleeping and busy alike) with
    // InterruptException; the worker stays and serves the next call.
    void interruptEndsRunningCallsNotTheWorker()
    {
        Future sleeping = c->remotecall("sleep_ms", 2, 10000);
        Future busy = c->remotecall("busy_ms", 3, 10000);
        // Both calls are under way (the workers' pools say so) before the interrupt.
        const auto pool_of = [&](Pid pid) {
            const auto snap = c->telemetry(); // alive for the loop
            for (auto& p : snap->processes)
                if (p.pid == pid)
                    return p.latest.pools[0];
            return PoolSample {};
        };
        QTRY_VERIFY_WITH_TIMEOUT(pool_of(2).blocked >= 1 && pool_of(3).busy >= 1, 60000);
        QElapsedTimer t;
        t.start();
        c->interrupt({ 2, 3 });
        for (Future* f : { &sleeping, &busy }) {
            try {
                f->fetch();
                QFAIL("expected an interrupted call");
            } catch (const RemoteException& e) {
                QVERIFY2(e.type().find("InterruptException") != std::string::npos, e.what());
            }
        }
        QVERIFY2(test::within_time_bound(t.elapsed(), 1000),
            qPrintable(QString("took %1 ms").arg(t.elapsed())));
        // Calls that start after the interrupt run normally.
        QCOMPARE(c->remotecall_fetch("sleep_ms", 2, 10).as_int(), std::int64_t(10));
        QCOMPARE(c->remotecall_fetch("myid", 3).as_int(), std::int64_t(3));
    }

    void kernelErrorIsARemoteExceptionEveryTime()
    {
        Future f = c->remotecall("fail", 3, "the disk is full");
        for (int attempt = 0; attempt < 3; ++attempt) {
            try {
                f.fetch();
                QFAIL("expected RemoteException");
            } catch (const RemoteException& e) {
                QCOMPARE(e.origin(), Pid(3));
                QCOMPARE(e.type(), std::string("std::runtime_error"));
                QCOMPARE(e.remote_message(), std::string("the disk is full"));
                // Where it was thrown, as Julia's CapturedException: the kernel's frame with
                // its file and line, then which kernel on which process.
                const auto& bt = e.backtrace();
                QVERIFY2(bt.size() >= 2, e.what());
                QVERIFY2(bt[0].rfind("[1] ", 0) == 0 && bt[0].find("fail") != std::string::npos
                        && bt[0].find("classroom_kernels.cpp:") != std::string::npos,
                    e.what());
                QVERIFY2(
                    bt.back().find("kernel 'fail' on worker 3") != std::string::npos, e.what());
                if (attempt == 0)
                    qInfo("%s", e.what());
            }
        }
        QVERIFY(f.cached() == nullptr); // a failure caches nothing
        QVERIFY_EXCEPTION_THROWN(c->remotecall_fetch("fail", 2, "x"), RemoteException);
        QVERIFY_EXCEPTION_THROWN(c->remotecall_wait("fail", 2, "x"), RemoteException);
    }

    void errorsFromNestedCallsKeepTheirOrigin()
    {
        try {
            c->remotecall_fetch("relay", 2, 4, "fail", List { "deep down" });
            QFAIL("expected RemoteException");
        } catch (const RemoteException& e) {
            QCOMPARE(e.origin(), Pid(4));
            QCOMPARE(e.remote_message(), std::string("deep down"));
            // The frames where it was thrown, the kernel on 4, then the relay on 2.
            std::vector<std::string> hops;
            for (const auto& line : e.backtrace())
                if (line.rfind("in kernel", 0) == 0)
                    hops.push_back(line);
            QCOMPARE(hops.size(), std::size_t(2));
            QVERIFY(hops[0].find("kernel 'fail' on worker 4") != std::string::npos);
            QVERIFY(hops[1].find("kernel 'relay' on worker 2") != std::string::npos);
            QVERIFY2(e.backtrace().back() == hops[1], e.what());
        }
    }

    void wrongArgumentsNameTheArgument()
    {
        try {
            c->remotecall_fetch("count_heads", 2, "many");
            QFAIL("expected RemoteException");
        } catch (const RemoteException& e) {
            QCOMPARE(e.remote_message(), std::string("argument 1: expected int64, got text"));
        }
        try {
            c->remotecall_fetch("count_heads", 2, 1, 2);
            QFAIL("expected RemoteException");
        } catch (const RemoteException& e) {
            QCOMPARE(e.remote_message(), std::string("takes 1 argument, got 2"));
        }
    }

    void unknownKernelNamesKernelAndWorker()
    {
        try {
            c->remotecall_fetch("rand2", 2, 2, 2);
            QFAIL("expected KernelNotFound");
        } catch (const KernelNotFound& e) {
            QCOMPARE(e.kernel(), std::string("rand2"));
            QCOMPARE(e.pid(), Pid(2));
            QCOMPARE(
                std::string(e.what()), std::string("kernel 'rand2' is not loaded on worker 2"));
        }
        Future f = c->remotecall("nope", 3);
        QVERIFY_EXCEPTION_THROWN(f.fetch(), KernelNotFound);
    }

    void unknownPidDiffersFromExitedPid()
    {
        try {
            c->remotecall_fetch("myid", 99);
            QFAIL("expected UnknownProcessError");
        } catch (const UnknownProcessError& e) {
            QCOMPARE(e.pid(), Pid(99));
        }
        auto extra = c->addprocs(1);
        c->rmprocs(extra);
        try {
            c->remotecall_fetch("myid", extra[0]);
            QFAIL("expected ProcessExitedException");
        } catch (const ProcessExitedException& e) {
            QCOMPARE(e.pid(), extra[0]);
            QVERIFY2(
                e.reason().find("removed by rmprocs") != std::string::npos, e.reason().c_str());
        }
    }

    void sigkilledWorkerFailsPendingCallsPromptly()
    {
        auto [victim, os_pid] = test::add_worker(*c);
        QVERIFY(os_pid > 0);
        std::vector<Future> pending;
        for (int i = 0; i < 5; ++i)
            pending.push_back(c->remotecall("sleep_ms", victim, 60000));
        Future fetched_later = c->remotecall("sleep_ms", victim, 60000);
        QCOMPARE(c->remotecall_fetch("myid", victim).as_int(), std::int64_t(victim));

        const auto t0 = std::chrono::steady_clock::now();
        ::kill(os_pid, SIGKILL);
        for (auto& f : pending) {
            try {
                f.fetch();
                QFAIL("expected ProcessExitedException");
            } catch (const ProcessExitedException& e) {
                QCOMPARE(e.pid(), victim);
                QVERIFY2(
                    e.reason().find("signal 9 (SIGKILL)") != std::string::npos, e.reason().c_str());
            }
        }
        const auto took = std::chrono::steady_clock::now() - t0;
        QVERIFY2(took < 2s, "pending calls took too long to fail");
        QVERIFY_EXCEPTION_THROWN(fetched_later.wait(), ProcessExitedException);
        QVERIFY_EXCEPTION_THROWN(c->remotecall_fetch("myid", victim), ProcessExitedException);
        // The rest of the cluster is unaffected, including calls between workers.
        for (Pid p : { 2, 3, 4 })
            QCOMPARE(c->remotecall_fetch("myid", p).as_int(), std::int64_t(p));
        QCOMPARE(c->remotecall_fetch("relay", 2, 3, "myid", List {}).as_int(), 3);
        // A worker that calls the dead one gets the same precise error.
        try {
            c->remotecall_fetch("relay", 3, victim, "myid", List {});
            QFAIL("expected an error");
        } catch (const RemoteException& e) {
            QCOMPARE(e.type(), std::string("ProcessExitedException"));
            QVERIFY2(e.remote_message().find("SIGKILL") != std::string::npos,
                e.remote_message().c_str());
        }
        const auto ws = c->workers();
        QVERIFY(std::find(ws.begin(), ws.end(), victim) == ws.end());
    }

    void wrongCookieIsRejectedAndLogged()
    {
        std::string address;
        for (auto& w : c->worker_info())
            if (w.pid == 2)
                address = w.address;
        QVERIFY(!address.empty());
        detail::EventLoop loop;
        auto conn = std::make_shared<detail::Connection>(
            loop, detail::connect_socket(address), "intruder");
        std::mutex hm;
        std::optional<detail::HandshakeResult> result;
        loop.run_sync([&] {
            conn->start(
                true, [](detail::InFrame&&) {}, [](const std::string&) {}, nullptr);
            detail::handshake_as_connector(
                conn, detail::Cookie::random(), 1, [&](detail::HandshakeResult r) {
                    std::lock_guard g(hm);
                    result = r;
                });
        });
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                std::lock_guard g(hm);
                return result.has_value();
            }(),
            5000);
        QVERIFY(!result->ok);
        QVERIFY2(result->error.find("wrong cookie") != std::string::npos, result->error.c_str());
        // The worker logged it (its stderr reaches us as "From worker 2: ...").
        QTRY_VERIFY_WITH_TIMEOUT(output_contains(2, "wrong cookie"), 5000);
        conn->close("done");
        loop.stop();
        // Nothing else changed.
        QCOMPARE(c->remotecall_fetch("myid", 2).as_int(), 2);
        QCOMPARE(c->remotecall_fetch("relay", 2, 3, "myid", List {}).as_int(), 3);
    }

    void oversizedArgumentFailsBeforeSending()
    {
        auto o = test::options();
        o.max_frame_bytes = 1 << 20;
        Cluster small(o);
        small.addprocs(1);
        try {
            small.remotecall_fetch("echo", 2, Array::from(std::vector<double>(1 << 18)));
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(
                std::string(e.what()).find("over the frame limit of 1048576") != std::string::npos,
                e.what());
        }
        QCOMPARE(small.remotecall_fetch("myid", 2).as_int(), 2);
    }
};

QTEST_GUILESS_MAIN(TestFailures)
#include "tst_failures.moc"
