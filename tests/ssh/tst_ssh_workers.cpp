// SSH workers against a real OpenSSH sshd started by the test on 127.0.0.1: key and agent
// logins, host keys (unknown, accepted, changed), refused keys, unreachable and silent hosts,
// tunnel and direct routes, killed workers and orphans. Built twice: tst_ssh_second_host runs
// the same suite against an sshd in a network namespace of its own (WEFT_SSH_NETNS), a second
// host on this machine.

#include "cluster/cluster_fixture.h"
#include "sshd_fixture.h"
#include "weft/version.h"

#include <QtTest>

#include <arpa/inet.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace weft;

namespace {

// The parent process's command name, from /proc (sshd runs each worker's session).
std::string parent_command(int pid)
{
    std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(st, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos)
        return {};
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    std::ifstream comm("/proc/" + std::to_string(ppid) + "/comm");
    std::string c;
    std::getline(comm, c);
    return c;
}

WorkerInfo info_of(const Cluster& c, Pid pid)
{
    for (auto& w : c.worker_info())
        if (w.pid == pid)
            return w;
    return {};
}

std::string error_of(const std::function<void()>& f)
{
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

class TstSshWorkers : public QObject {
    Q_OBJECT
    test::Sshd sshd_;
    std::string host_; // where the sshd is

private slots:
    void initTestCase()
    {
        QVERIFY2(QFile::exists("/usr/sbin/sshd"),
            "OpenSSH's sshd is not installed (installer/bootstrap.sh installs openssh-server)");
#ifdef WEFT_SSH_NETNS
        if (!sshd_.start_in_namespace()) {
            if (!sshd_.skip_reason.isEmpty())
                QSKIP(qPrintable(sshd_.skip_reason));
            QFAIL("sshd did not start in its network namespace");
        }
#else
        QVERIFY(sshd_.start());
#endif
        host_ = sshd_.host.toStdString();
    }

    void key_login_three_ssh_workers_beside_two_local()
    {
        Cluster c(test::options());
        const auto local = c.addprocs(2);
        const auto remote = c.addprocs(sshd_.spec(3));
        QCOMPARE(remote.size(), std::size_t(3));
        for (Pid p : remote) {
            QCOMPARE(c.remotecall_fetch("myid", p).as_int(), std::int64_t(p));
            const auto w = info_of(c, p);
            QCOMPARE(w.host, host_);
            QCOMPARE(w.state, WorkerState::Running);
            // A real worker, started by sshd (its session process), not by this program.
            QVERIFY2(w.os_pid > 0, "the worker's pid on its host is known");
            QCOMPARE(parent_command(w.os_pid), std::string("sshd"));
            QVERIFY2(w.address.rfind("unix:", 0) == 0, w.address.c_str()); // the tunnel's end
            // Its clock was measured by round trips. This "host" shares the master's clock, so
            // the true offset is 0: the estimate must be within its own bound of it.
            QCOMPARE(w.clock.probes, 16);
            qInfo("worker %u: clock offset %lld ns, error bound %lld ns", p,
                static_cast<long long>(w.clock.offset_ns),
                static_cast<long long>(w.clock.error_bound_ns));
            QVERIFY(w.clock.error_bound_ns > 0);
            QVERIFY2(std::llabs(w.clock.offset_ns) <= w.clock.error_bound_ns,
                "the estimate is within its bound of the true offset (0)");
        }
        for (Pid p : local)
            QCOMPARE(info_of(c, p).clock.probes, 0); // same host, same clock
        for (Pid p : local)
            QCOMPARE(c.remotecall_fetch("myid", p).as_int(), std::int64_t(p));
        // Every worker in one pmap, and a call from an SSH worker to a local one and back.
        List items;
        for (int i = 0; i < 40; ++i)
            items.emplace_back(std::int64_t(i));
        const auto squares = pmap(c, "square", items);
        for (int i = 0; i < 40; ++i)
            QCOMPARE(squares[static_cast<std::size_t>(i)].as_int(), std::int64_t(i * i));
        // Worker to worker, every way: SSH workers on their host directly, a worker here to one
        // behind a tunnel through the master's tunnel, and back through a tunnel the master
        // opens on the host.
        const auto relay = [&](Pid from, Pid to) {
            return c.remotecall_fetch("relay", from, std::int64_t(to), std::string("myid"), List {})
                .as_int();
        };
        QCOMPARE(relay(remote[0], remote[1]), std::int64_t(remote[1]));
        QCOMPARE(relay(local[1], remote[2]), std::int64_t(remote[2]));
        QCOMPARE(relay(remote[0], local[0]), std::int64_t(local[0]));
        QCOMPARE(relay(local[0], remote[0]), std::int64_t(remote[0]));
        QCOMPARE(relay(remote[2], local[1]), std::int64_t(local[1]));
        // Output of a remote worker reaches the master.
        std::mutex m;
        std::vector<std::pair<Pid, std::string>> lines;
        c.on_output([&](Pid p, const std::string& l) {
            std::lock_guard g(m);
            lines.emplace_back(p, l);
        });
        c.remotecall_fetch("print", remote[0], std::string("hello from ssh"));
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            std::lock_guard g(m);
            return std::find(lines.begin(), lines.end(),
                       std::make_pair(remote[0], std::string("hello from ssh")))
                != lines.end();
        }()),
            60000);
        const auto pids = test::os_pids(c);
        c.rmprocs(remote);
        for (Pid p : remote)
            QCOMPARE(info_of(c, p).state, WorkerState::Exited);
        QCOMPARE(c.remotecall_fetch("myid", local[0]).as_int(), std::int64_t(local[0]));
        (void)pids;
    }

#ifdef WEFT_SSH_NETNS
    // Two hosts at once, logged in in parallel: this machine's loopback sshd and the one in the
    // namespace. Workers on one reach those on the other through the master's tunnels.
    void two_hosts_in_parallel()
    {
        test::Sshd here;
        QVERIFY(here.start());
        Cluster c(test::options());
        auto a = sshd_.spec(2);
        auto b = here.spec(2);
        const auto ps = c.addprocs(std::vector<SshSpec> { a, b });
        QCOMPARE(ps.size(), std::size_t(4));
        std::map<std::string, std::vector<Pid>> by_host;
        for (Pid p : ps)
            by_host[info_of(c, p).host].push_back(p);
        QCOMPARE(by_host[a.host].size(), std::size_t(2));
        QCOMPARE(by_host[b.host].size(), std::size_t(2));
        const auto relay = [&](Pid from, Pid to) {
            return c.remotecall_fetch("relay", from, std::int64_t(to), std::string("myid"), List {})
                .as_int();
        };
        const Pid on_a = by_host[a.host][0], on_b = by_host[b.host][1];
        QCOMPARE(relay(on_a, on_b), std::int64_t(on_b));
        QCOMPARE(relay(on_b, on_a), std::int64_t(on_a));
    }
#endif

    void direct_route()
    {
        Cluster c(test::options());
        auto spec = sshd_.spec(2);
        spec.route = SshRoute::Direct;
        const auto ps = c.addprocs(spec);
        for (Pid p : ps) {
            QCOMPARE(c.remotecall_fetch("myid", p).as_int(), std::int64_t(p));
            const auto w = info_of(c, p);
            QVERIFY2(w.address.rfind("tcp:" + host_ + ":", 0) == 0, w.address.c_str());
        }
        // A worker here reaches them at their address too.
        const auto local = c.addprocs(1);
        QCOMPARE(
            c.remotecall_fetch("relay", local[0], std::int64_t(ps[0]), std::string("myid"), List {})
                .as_int(),
            std::int64_t(ps[0]));
    }

    void config_alias()
    {
        QFile cfg(sshd_.path("ssh_config"));
        QVERIFY(cfg.open(QIODevice::WriteOnly));
        cfg.write(
            QString("Host weft-test-node\n  HostName %4\n  Port %1\n  User %2\n"
                    "  IdentityFile %3\n")
                .arg(sshd_.port)
                .arg(QString::fromStdString(test::this_user()), sshd_.path("user_key"), sshd_.host)
                .toUtf8());
        cfg.close();
        Cluster c(test::options());
        SshSpec s = sshd_.spec(1);
        s.host = "weft-test-node";
        s.port = 0;
        s.user.clear();
        s.key_file.clear();
        s.auth = SshAuth::Auto;
        s.ssh_config = sshd_.str("ssh_config");
        const auto ps = c.addprocs(s);
        QCOMPARE(c.remotecall_fetch("myid", ps[0]).as_int(), std::int64_t(ps[0]));
    }

    void agent_login()
    {
        const QString sock = sshd_.path("agent.sock");
        QProcess agent;
        agent.start("ssh-agent", { "-D", "-a", sock });
        QVERIFY(agent.waitForStarted());
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(sock), 30000);
        QProcess add;
        auto env = QProcessEnvironment::systemEnvironment();
        env.insert("SSH_AUTH_SOCK", sock);
        add.setProcessEnvironment(env);
        add.start("ssh-add", { sshd_.path("user_key") });
        QVERIFY(add.waitForFinished(30000));
        QCOMPARE(add.exitCode(), 0);
        const QByteArray old = qgetenv("SSH_AUTH_SOCK");
        qputenv("SSH_AUTH_SOCK", sock.toUtf8());
        {
            Cluster c(test::options());
            auto s = sshd_.spec(1);
            s.auth = SshAuth::Agent;
            s.key_file.clear();
            const auto ps = c.addprocs(s);
            QCOMPARE(c.remotecall_fetch("myid", ps[0]).as_int(), std::int64_t(ps[0]));
        }
        if (old.isEmpty())
            qunsetenv("SSH_AUTH_SOCK");
        else
            qputenv("SSH_AUTH_SOCK", old);
        agent.terminate();
        agent.waitForFinished(10000);
    }

    void unknown_host_refused_then_accepted_and_recorded()
    {
        Cluster c(test::options());
        auto s = sshd_.spec(1);
        s.known_hosts = sshd_.str("known_hosts.empty");
        const std::string fp = sshd_.fingerprint("host_key.pub").toStdString();
        QVERIFY(fp.rfind("SHA256:", 0) == 0);

        // Nobody to ask: refused, naming the key.
        auto e = error_of([&] { c.addprocs(s); });
        QVERIFY2(e.find("is unknown") != std::string::npos, e.c_str());
        QVERIFY2(e.find(fp) != std::string::npos, e.c_str());

        // Asked, and refused.
        HostKeyQuestion asked;
        s.accept_unknown_host = [&](const HostKeyQuestion& q) {
            asked = q;
            return false;
        };
        e = error_of([&] { c.addprocs(s); });
        QVERIFY2(e.find("was not accepted") != std::string::npos, e.c_str());
        QCOMPARE(asked.fingerprint, fp);
        QCOMPARE(asked.port, sshd_.port);
        QCOMPARE(asked.key_type, std::string("ssh-ed25519"));

        // Asked, and accepted: recorded, so the next login asks nothing.
        s.accept_unknown_host = [](const HostKeyQuestion&) { return true; };
        auto ps = c.addprocs(s);
        QCOMPARE(c.remotecall_fetch("myid", ps[0]).as_int(), std::int64_t(ps[0]));
        QFile recorded(sshd_.path("known_hosts.empty"));
        QVERIFY(recorded.open(QIODevice::ReadOnly));
        QVERIFY(!recorded.readAll().isEmpty());
        s.accept_unknown_host = nullptr;
        ps = c.addprocs(s);
        QCOMPARE(c.remotecall_fetch("myid", ps[0]).as_int(), std::int64_t(ps[0]));
    }

    void changed_host_key_refused_with_both_fingerprints()
    {
        sshd_.write_known_hosts("known_hosts.changed", "other_key.pub");
        Cluster c(test::options());
        auto s = sshd_.spec(1);
        s.known_hosts = sshd_.str("known_hosts.changed");
        bool asked = false;
        s.accept_unknown_host = [&](const HostKeyQuestion&) { return asked = true; };
        const auto e = error_of([&] { c.addprocs(s); });
        QVERIFY2(e.find("CHANGED") != std::string::npos, e.c_str());
        QVERIFY2(e.find(sshd_.fingerprint("other_key.pub").toStdString()) != std::string::npos,
            e.c_str());
        QVERIFY2(e.find(sshd_.fingerprint("host_key.pub").toStdString()) != std::string::npos,
            e.c_str());
        QVERIFY2(!asked, "a changed key is never offered for acceptance");
        QCOMPARE(c.workers(), std::vector<Pid> { 1 });
    }

    void wrong_key_refused()
    {
        Cluster c(test::options());
        auto s = sshd_.spec(1);
        s.key_file = sshd_.str("other_key");
        auto e = error_of([&] { c.addprocs(s); });
        QVERIFY2(e.find("login refused") != std::string::npos, e.c_str());
        QVERIFY2(e.find("key " + s.key_file + ": refused by the server") != std::string::npos,
            e.c_str());
        QVERIFY2(e.find(host_ + ":" + std::to_string(sshd_.port)) != std::string::npos, e.c_str());
        s.key_file = sshd_.str("no_such_key");
        e = error_of([&] { c.addprocs(s); });
        QVERIFY2(e.find("no such file") != std::string::npos, e.c_str());
        // The cluster is unharmed.
        const auto ps = c.addprocs(1);
        QCOMPARE(c.remotecall_fetch("myid", ps[0]).as_int(), std::int64_t(ps[0]));
    }

    void encrypted_key_asks_for_its_passphrase()
    {
        sshd_.make_key("locked_key", "open sesame");
        QFile auth(sshd_.path("authorized_keys"));
        QVERIFY(auth.open(QIODevice::Append));
        QFile pub(sshd_.path("locked_key.pub"));
        QVERIFY(pub.open(QIODevice::ReadOnly));
        auth.write(pub.readAll());
        auth.close();
        Cluster c(test::options());
        auto s = sshd_.spec(1);
        s.key_file = sshd_.str("locked_key");
        std::string asked_for;
        s.passphrase = [&](const std::string& k) {
            asked_for = k;
            return std::string("wrong");
        };
        auto e = error_of([&] { c.addprocs(s); });
        QVERIFY2(e.find("wrong or missing passphrase") != std::string::npos, e.c_str());
        QCOMPARE(asked_for, s.key_file);
        s.passphrase = [](const std::string&) { return std::string("open sesame"); };
        const auto ps = c.addprocs(s);
        QCOMPARE(c.remotecall_fetch("myid", ps[0]).as_int(), std::int64_t(ps[0]));
    }

    void unreachable_port_and_silent_host_fail_within_the_timeout()
    {
        Cluster c(test::options());
        auto s = sshd_.spec(1);
        s.port = test::free_port(); // nothing listens there
        auto e = error_of([&] { c.addprocs(s); });
        QVERIFY2(e.find("cannot connect") != std::string::npos, e.c_str());
        QVERIFY2(e.find(std::to_string(s.port)) != std::string::npos, e.c_str());

        // A host that accepts the connection and then says nothing (a dead network past the
        // first hop looks the same): the login gives up after connect_timeout.
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a {};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        QCOMPARE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        QCOMPARE(::listen(fd, 4), 0);
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        s.host = "127.0.0.1"; // the silent listener is here
        s.port = ntohs(a.sin_port);
        s.connect_timeout = std::chrono::milliseconds(1500);
        const auto t0 = std::chrono::steady_clock::now();
        e = error_of([&] { c.addprocs(s); });
        const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0);
        qInfo("silent host: failed after %.2f s with a 1.5 s timeout", took.count());
        QVERIFY2(e.find("cannot connect") != std::string::npos, e.c_str());
        QVERIFY2(took.count() >= 1.0, "it waited for the timeout, not less");
        ::close(fd);
        QCOMPARE(c.workers(), std::vector<Pid> { 1 });
    }

    void worker_of_another_version_refused()
    {
        // A "worker" that announces another version, as an old install on the host would.
        const QString fake = sshd_.path("old-weft-worker");
        QFile f(fake);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("#!/bin/sh\nread cookie\necho \"weft-worker 0.0.9 pid $$ listening "
                "tcp:127.0.0.1:1\"\nread more\n");
        f.close();
        f.setPermissions(f.permissions() | QFileDevice::ExeOwner);
        Cluster c(test::options());
        auto s = sshd_.spec(1);
        s.worker_path = fake.toStdString();
        const auto e = error_of([&] { c.addprocs(s); });
        QVERIFY2(e.find("runs Weft 0.0.9, this master runs Weft " + std::string(runtime_version()))
                != std::string::npos,
            e.c_str());
    }

    void missing_worker_program_named()
    {
        Cluster c(test::options());
        auto s = sshd_.spec(1);
        s.worker_path = "/nonexistent/weft-worker";
        const auto e = error_of([&] { c.addprocs(s); });
        QVERIFY2(
            e.find("exited during start-up: exited with code 127") != std::string::npos, e.c_str());
        QVERIFY2(e.find("/nonexistent/weft-worker") != std::string::npos, e.c_str());
    }

    void remote_worker_killed_fails_its_calls()
    {
        Cluster c(test::options());
        const auto ps = c.addprocs(sshd_.spec(2));
        const auto victim = info_of(c, ps[0]);
        auto pending = c.remotecall("sleep_ms", ps[0], std::int64_t(600000));
        QCOMPARE(::kill(victim.os_pid, SIGKILL), 0);
        bool exited = false;
        try {
            pending.fetch();
        } catch (const ProcessExitedException& e) {
            exited = true;
            QVERIFY2(
                std::string(e.what()).find("killed by signal KILL") != std::string::npos, e.what());
        }
        QVERIFY(exited);
        QVERIFY2(info_of(c, ps[0]).exit_reason.find("killed by signal KILL on " + host_)
                != std::string::npos,
            info_of(c, ps[0]).exit_reason.c_str());
        QCOMPARE(c.remotecall_fetch("myid", ps[1]).as_int(), std::int64_t(ps[1]));

        // Cluster::kill reaches a remote worker too.
        const int other = info_of(c, ps[1]).os_pid;
        c.kill(ps[1]);
        QTRY_COMPARE_WITH_TIMEOUT(info_of(c, ps[1]).state, WorkerState::Exited, 60000);
        QVERIFY(test::all_gone({ other }));
    }

    void deploy_uploads_once_then_finds_the_files_there()
    {
        Cluster c(test::options()); // it loads the classroom kernel library on every worker
        auto s = sshd_.spec(2);
        s.deploy = true;
        s.worker_path = "/nonexistent/weft-worker"; // the deployed copy runs, not this
        s.deploy_dir = sshd_.str("deploy");
        SshManager first(s);
        const auto ps = c.addprocs(first, 2);
        // This machine's weft-worker, libweft and the classroom library went over SFTP once
        // (both workers share the session's copies).
        QCOMPARE(first.deploy_stats().uploaded, 3);
        QCOMPARE(first.deploy_stats().already_there, 0);
        QVERIFY(first.deploy_stats().bytes_uploaded > 0);
        for (Pid p : ps) {
            const auto exe = std::filesystem::read_symlink(
                "/proc/" + std::to_string(info_of(c, p).os_pid) + "/exe");
            QVERIFY2(exe.string().rfind(s.deploy_dir, 0) == 0, exe.c_str());
            QCOMPARE(c.remotecall_fetch("square", p, std::int64_t(7)).as_int(), std::int64_t(49));
        }
        for (auto& proc : c.kernel_libraries())
            if (proc.pid == ps[0]) {
                QCOMPARE(proc.libraries.size(), std::size_t(1));
                QVERIFY2(proc.libraries[0].path.rfind(s.deploy_dir, 0) == 0,
                    proc.libraries[0].path.c_str());
            }
        // Again: every file is found by its checksum, nothing is sent.
        SshManager second(s);
        const auto more = c.addprocs(second, 1);
        QCOMPARE(second.deploy_stats().uploaded, 0);
        QCOMPARE(second.deploy_stats().already_there, 3);
        QCOMPARE(c.remotecall_fetch("square", more[0], std::int64_t(8)).as_int(), std::int64_t(64));
    }

    void no_orphans_after_rmprocs()
    {
        std::vector<int> remote_pids;
        {
            Cluster c(test::options());
            const auto ps = c.addprocs(sshd_.spec(3));
            for (Pid p : ps)
                remote_pids.push_back(info_of(c, p).os_pid);
            c.rmprocs({ ps[0] });
            QVERIFY(test::all_gone({ remote_pids[0] }));
            // The rest end with the cluster.
        }
        QVERIFY(test::all_gone(remote_pids));
    }

    void no_orphans_after_the_master_is_killed()
    {
        // A master in another process: it starts SSH workers, prints their pids, and is then
        // SIGKILLed. Its SSH connection drops, so every worker's channel closes and they end.
        QProcess master;
        master.start(QString(WEFT_SSH_MASTER_PATH),
            { QString::number(sshd_.port), sshd_.path("user_key"), sshd_.path("known_hosts"),
                QString(WEFT_WORKER_PATH), sshd_.host });
        QVERIFY(master.waitForStarted());
        QByteArray out;
        while (!out.contains("ready")) {
            QVERIFY2(master.waitForReadyRead(120000) || out.contains("ready"),
                master.readAllStandardError().constData());
            out += master.readAllStandardOutput();
        }
        std::vector<int> pids;
        for (auto& word : QString::fromUtf8(out).split(QRegularExpression("\\s+")))
            if (bool ok = false; word.toInt(&ok) > 0 && ok)
                pids.push_back(word.toInt());
        QCOMPARE(pids.size(), std::size_t(3));
        for (int p : pids)
            QCOMPARE(parent_command(p), std::string("sshd"));
        ::kill(static_cast<pid_t>(master.processId()), SIGKILL);
        QVERIFY(master.waitForFinished(30000));
        QVERIFY(test::all_gone(pids, std::chrono::seconds(60)));
    }
};

QTEST_GUILESS_MAIN(TstSshWorkers)
#include "tst_ssh_workers.moc"
