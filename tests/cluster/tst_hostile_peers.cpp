// What a local user who is not part of the cluster can do to a worker from outside, with its own
// tools, before it knows the cookie: each of these used to work (issue "Hardening"), and must now
// cost the worker nothing it cannot give back.
//
// The worker's figures (peak RSS, connections closed) are printed as QINFO lines.

#include "cluster_fixture.h"
#include "framing.h"
#include "handshake.h"
#include "raw_socket.h"
#include "socket.h"

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <pwd.h>
#include <random>
#include <set>
#include <sstream>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace weft;
using namespace std::chrono_literals;

namespace {

// A kB figure from /proc/PID/status ("VmRSS", "VmHWM").
long status_kb(int os_pid, const std::string& key)
{
    std::ifstream in("/proc/" + std::to_string(os_pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0)
            return std::atol(line.c_str() + key.size() + 1);
    return -1;
}

int open_fds(int os_pid)
{
    int n = 0;
    for ([[maybe_unused]] auto& e :
        std::filesystem::directory_iterator("/proc/" + std::to_string(os_pid) + "/fd"))
        ++n;
    return n;
}

// A blocking connection to a worker's Unix socket, as any local process could make.
int dial(const std::string& address)
{
    return detail::connect_socket_blocking(address);
}

using test::write_all;

// Reads until the worker closes the connection (0, or a reset); false if it sent a frame of
// more than `max` bytes first (it should not talk to a stranger at length).
bool closed_by_peer(int fd, std::size_t max = 4096)
{
    char buf[4096];
    std::size_t total = 0;
    for (;;) {
        const ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return true;
        total += static_cast<std::size_t>(r);
        if (total > max)
            return false;
    }
}

std::string frame_bytes(detail::OutFrame& f)
{
    std::string out;
    for (const auto& v : f.iov())
        out.append(static_cast<const char*>(v.iov_base), v.iov_len);
    return out;
}

// The worker's stderr lines, as the master sees them.
struct Lines {
    std::mutex m;
    std::vector<std::string> all;
    std::size_t count(Pid pid, const std::string& part)
    {
        std::lock_guard g(m);
        std::size_t n = 0;
        for (const auto& l : all)
            if (l.rfind(std::to_string(pid) + ": ", 0) == 0 && l.find(part) != std::string::npos)
                ++n;
        return n;
    }
    std::string dump(Pid pid)
    {
        std::lock_guard g(m);
        std::string s;
        for (const auto& l : all)
            if (l.rfind(std::to_string(pid) + ": ", 0) == 0)
                s += l + "\n";
        return s;
    }
};

} // namespace

class TestHostilePeers : public QObject {
    Q_OBJECT
    std::unique_ptr<Cluster> c;
    Lines lines;
    std::map<Pid, WorkerInfo> info;

    WorkerInfo worker(Pid p) { return info.at(p); }

private slots:
    void initTestCase()
    {
        // Short windows, so the test sees timeouts and summaries without waiting long.
        qputenv("WEFT_HANDSHAKE_TIMEOUT_MS", "300");
        qputenv("WEFT_REJECTION_WINDOW_S", "1");
        c = std::make_unique<Cluster>(test::options());
        c->on_output([this](Pid pid, const std::string& line) {
            std::lock_guard g(lines.m);
            lines.all.push_back(std::to_string(pid) + ": " + line);
        });
        c->addprocs(5);
        for (auto& w : c->worker_info())
            info[w.pid] = w;
        QCOMPARE(info.size(), std::size_t(5));
    }
    void cleanupTestCase()
    {
        auto pids = test::os_pids(*c);
        c.reset();
        QVERIFY(test::all_gone(pids));
    }

    // Three unauthenticated connections each announce a 400 MiB frame and stream it. The worker
    // used to read it all into memory (RSS 7 MB -> 1,238 MB); now a frame before the handshake
    // may be 4 KiB, and the worker closes the connection at the header.
    void unauthenticatedStreamsCostNoMemory()
    {
        const auto w = worker(2);
        const long before = status_kb(w.os_pid, "VmHWM");
        std::vector<std::thread> streams;
        std::atomic<int> closed { 0 };
        std::atomic<long long> sent { 0 };
        for (int i = 0; i < 3; ++i)
            streams.emplace_back([&] {
                const int fd = dial(w.address);
                const std::uint32_t header[2] = { 0, (400u << 20) / 8 };
                std::vector<char> chunk(1 << 20, 'x');
                bool ok = write_all(fd, header, sizeof header);
                for (int mb = 0; ok && mb < 400; ++mb) {
                    ok = write_all(fd, chunk.data(), chunk.size());
                    if (ok)
                        sent += static_cast<long long>(chunk.size());
                }
                if (!ok || closed_by_peer(fd))
                    ++closed;
                ::close(fd);
            });
        for (auto& t : streams)
            t.join();
        const long after = status_kb(w.os_pid, "VmHWM");
        qInfo("3 x 400 MiB unauthenticated streams: worker peak RSS %ld kB before, %ld kB after; "
              "%lld MiB got into its socket buffers before it closed them",
            before, after, sent.load() >> 20);
        QCOMPARE(closed.load(), 3);
        QVERIFY2(after - before < 8 * 1024,
            qPrintable(QString("peak RSS grew by %1 kB").arg(after - before)));
        QCOMPARE(c->remotecall_fetch("myid", w.pid).as_int(), std::int64_t(w.pid));
    }

    // Connections that send nothing used to stay open for as long as the other side liked. Now
    // each is closed when the handshake's time is up (300 ms here), or sooner when more than 64
    // wait at once.
    void silentConnectionsAreClosed()
    {
        const auto w = worker(3);
        constexpr int kSilent = 200;
        std::vector<int> fds;
        for (int i = 0; i < kSilent; ++i)
            fds.push_back(dial(w.address));
        int closed = 0;
        for (int fd : fds) {
            closed += closed_by_peer(fd, 0) ? 1 : 0;
            ::close(fd);
        }
        qInfo("%d of %d silent connections closed by the worker", closed, kSilent);
        QCOMPARE(closed, kSilent);
        QCOMPARE(c->remotecall_fetch("myid", w.pid).as_int(), std::int64_t(w.pid));
        // Its descriptors are back too (the listener, connections to the master and peers).
        QTRY_VERIFY_WITH_TIMEOUT(open_fds(w.os_pid) < 40, 60000);
    }

    // A flood of wrong cookies: one full line, then a summary per window (it used to be a line
    // per attempt: 5,667 lines for 10,000).
    void rejectionsAreSummarised()
    {
        const auto w = worker(4);
        constexpr int kAttempts = 100;
        for (int i = 0; i < kAttempts; ++i) {
            const int fd = dial(w.address);
            detail::OutFrame hello(32);
            auto h = hello.root().initHello();
            h.setPid(77);
            std::array<kj::byte, 16> nonce {};
            h.setNonce({ nonce.data(), nonce.size() });
            h.setProtocol(detail::kProtocolVersion);
            hello.finish();
            detail::OutFrame proof(32);
            std::array<kj::byte, 32> mac {};
            mac[0] = static_cast<kj::byte>(i);
            proof.root().initProof().setMac({ mac.data(), mac.size() });
            proof.finish();
            const auto bytes = frame_bytes(hello) + frame_bytes(proof);
            QVERIFY(write_all(fd, bytes.data(), bytes.size()));
            QVERIFY(closed_by_peer(fd));
            ::close(fd);
        }
        QTRY_VERIFY_WITH_TIMEOUT(
            lines.count(w.pid, "connections rejected in the last") >= 1, 60000);
        const auto full = lines.count(w.pid, "rejected an incoming");
        const auto summaries = lines.count(w.pid, "connections rejected in the last");
        qInfo("%d wrong cookies: %zu full lines, %zu summaries", kAttempts, full, summaries);
        QVERIFY2(full + summaries <= 6, qPrintable(QString::fromStdString(lines.dump(w.pid))));
        QVERIFY2(lines.count(w.pid, "wrong cookie \u00d7") >= 1,
            qPrintable(QString::fromStdString(lines.dump(w.pid))));
        QCOMPARE(c->remotecall_fetch("myid", w.pid).as_int(), std::int64_t(w.pid));
    }

    // Out of descriptors, the accept loop used to throw ("dup of a socket: Too many open files")
    // and stop for good: no other worker could connect to that one again. Now it says so once
    // and keeps listening.
    void listenerSurvivesDescriptorExhaustion()
    {
        const auto w = worker(5);
        rlimit old {};
        QCOMPARE(::prlimit(w.os_pid, RLIMIT_NOFILE, nullptr, &old), 0);
        rlimit tight = old;
        tight.rlim_cur = static_cast<rlim_t>(open_fds(w.os_pid) + 3);
        QCOMPARE(::prlimit(w.os_pid, RLIMIT_NOFILE, &tight, nullptr), 0);
        std::vector<int> fds;
        for (int i = 0; i < 20; ++i)
            fds.push_back(dial(w.address)); // the kernel queues them; the worker cannot take all
        QTRY_VERIFY_WITH_TIMEOUT(lines.count(w.pid, "still listening") >= 1, 60000);
        for (int fd : fds)
            ::close(fd);
        QCOMPARE(::prlimit(w.os_pid, RLIMIT_NOFILE, &old, nullptr), 0);
        qInfo("%s", lines.dump(w.pid).c_str());
        // Worker 2 has never talked to worker 5: this makes it connect to 5's listener now.
        QCOMPARE(c->remotecall_fetch("relay", 2, std::int64_t(w.pid), "myid", List {}).as_int(),
            std::int64_t(w.pid));
        QCOMPARE(c->remotecall_fetch("myid", w.pid).as_int(), std::int64_t(w.pid));
        QCOMPARE(lines.count(w.pid, "still listening"), std::size_t(1)); // said once
    }

    // A local worker of a Unix cluster opens no TCP port at all (peers on this host use Unix
    // sockets): nothing of it is reachable from another user's process but a socket it cannot
    // enter.
    void unixWorkersListenOnNoTcpPort()
    {
        std::set<std::string> inodes; // the worker's sockets
        const auto w = worker(2);
        for (auto& e :
            std::filesystem::directory_iterator("/proc/" + std::to_string(w.os_pid) + "/fd")) {
            std::error_code ec;
            const auto target = std::filesystem::read_symlink(e.path(), ec).string();
            if (target.rfind("socket:[", 0) == 0)
                inodes.insert(target.substr(8, target.size() - 9));
        }
        QVERIFY(!inodes.empty());
        int listening = 0;
        for (const char* table : { "/proc/net/tcp", "/proc/net/tcp6" }) {
            std::ifstream in(table);
            std::string line;
            std::getline(in, line); // header
            while (std::getline(in, line)) {
                std::istringstream f(line);
                std::string sl, local, remote, st, queues, timer, retr, uid, timeout, inode;
                f >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout
                    >> inode;
                if (st == "0A" && inodes.count(inode))
                    ++listening;
            }
        }
        QCOMPARE(listening, 0);
    }

    // The worker's socket is in a directory only its user can enter: another user cannot even
    // reach the handshake (it used to be in the abstract namespace, open to all).
    void anotherUserCannotConnect()
    {
        if (::geteuid() != 0)
            QSKIP("acting as another user needs root (CI runs as root)");
        const auto w = worker(2);
        QVERIFY(w.address.rfind("unix:/", 0) == 0);
        const passwd* nobody = ::getpwnam("nobody");
        QVERIFY(nobody != nullptr);
        const pid_t child = ::fork();
        if (child == 0) {
            if (::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0)
                ::_exit(3);
            try {
                const int fd = dial(w.address);
                ::close(fd);
                ::_exit(0); // connected: wrong
            } catch (const std::exception&) {
                ::_exit(1); // refused: right
            }
        }
        int status = 0;
        QCOMPARE(::waitpid(child, &status, 0), child);
        QVERIFY(WIFEXITED(status));
        QCOMPARE(WEXITSTATUS(status), 1);
    }
};

QTEST_GUILESS_MAIN(TestHostilePeers)
#include "tst_hostile_peers.moc"
