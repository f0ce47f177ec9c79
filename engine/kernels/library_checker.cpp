#include "library_checker.h"

#include "kernel_library.h"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <dlfcn.h>
#include <exception>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace weft::detail {

namespace {

// The master's end. One check at a time: the helper serves them in order.
struct Helper {
    std::mutex m;
    std::string worker_path;
    int sock = -1;
    pid_t pid = -1;
    int failures = 0; // starts that ended before answering, in a row
    std::uint64_t seq = 0; // the last request's number

    // Under `m`.
    void stop()
    {
        if (sock >= 0)
            ::close(sock);
        sock = -1;
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            int st = 0;
            while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) { }
        }
        pid = -1;
    }

    bool start()
    {
        if (sock >= 0)
            return true;
        if (worker_path.empty() || failures >= 2)
            return false;
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
            return false;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
        std::string flag = "--check-libraries";
        char* argv[] = { worker_path.data(), flag.data(), nullptr };
        pid_t child = -1;
        const int rc = ::posix_spawnp(&child, worker_path.c_str(), &fa, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(sv[1]);
        if (rc != 0) {
            ::close(sv[0]);
            failures = 2; // no such program: checks happen in this process from now on
            return false;
        }
        sock = sv[0];
        pid = child;
        return true;
    }

    ~Helper()
    {
        std::lock_guard g(m);
        stop();
    }
};

Helper& helper()
{
    static Helper h;
    return h;
}

// Messages on the master's socket. A request carries the library's descriptor and a sequence
// number; its verdict (kOk, or kRefused followed by the reason) carries the number back, so a
// verdict that comes twice (see run_library_checker) is told from the next one. kIdle: the
// master has finished loading, so the helper may fork the next check's child now.
constexpr char kRequest = 'C';
constexpr char kIdle = 'I';
constexpr char kOk = 'K';
constexpr char kRefused = 'E';
constexpr std::size_t kHeader = 1 + sizeof(std::uint64_t); // kind, sequence number
constexpr std::size_t kMaxVerdict = 16 * 1024;
// What a child tells the helper first: a request came (with its number), no descriptor came
// with it, or the master has gone.
constexpr char kStarted = 'S';
constexpr char kNoFile = 'N';
constexpr char kMasterGone = 'G';

std::string message(char kind, std::uint64_t seq, std::string_view text = {})
{
    std::string m(kHeader, kind);
    std::memcpy(m.data() + 1, &seq, sizeof seq);
    m.append(text);
    return m;
}

std::uint64_t seq_of(const char* header)
{
    std::uint64_t seq = 0;
    std::memcpy(&seq, header + 1, sizeof seq);
    return seq;
}

// A message's header with room for one descriptor beside it. Not copyable (the msghdr points
// into it).
struct DescriptorMessage {
    std::array<char, kHeader> header {};
    iovec iov { header.data(), header.size() };
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control {};
    msghdr msg {};
    DescriptorMessage()
    {
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
    }
    DescriptorMessage(const DescriptorMessage&) = delete;
    DescriptorMessage& operator=(const DescriptorMessage&) = delete;
};

bool send_request(int sock, int fd, std::uint64_t seq)
{
    DescriptorMessage m;
    const auto h = message(kRequest, seq);
    std::memcpy(m.header.data(), h.data(), kHeader);
    cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    for (;;) {
        if (::sendmsg(sock, &m.msg, MSG_NOSIGNAL) == static_cast<ssize_t>(kHeader))
            return true;
        if (errno != EINTR)
            return false;
    }
}

// What the helper's side reads from the master: a request (with its descriptor, or -1 if none
// came), kIdle, or nothing (n <= 0: the master has gone).
struct Incoming {
    ssize_t n = 0;
    char kind = 0;
    std::uint64_t seq = 0;
    int fd = -1;
};

Incoming receive(int sock)
{
    DescriptorMessage m;
    Incoming in;
    do
        in.n = ::recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
    while (in.n < 0 && errno == EINTR);
    if (in.n <= 0)
        return in;
    in.kind = m.header[0];
    if (in.n == static_cast<ssize_t>(kHeader))
        in.seq = seq_of(m.header.data());
    for (cmsghdr* c = CMSG_FIRSTHDR(&m.msg); c; c = CMSG_NXTHDR(&m.msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            std::memcpy(&in.fd, CMSG_DATA(c), sizeof(int));
    return in;
}

// In a child forked ahead, before its request: writes the pages a dlopen will write (the
// loader's state, the link maps of the libraries every kernel library needs, the heap), so that
// the check does not wait for their copy-on-write faults. Re-opening loaded libraries runs no
// initialiser. Measured on the classroom library: a check 0.1 ms shorter (of about 0.55).
void touch_what_a_load_writes()
{
    for (const void* in : { reinterpret_cast<const void*>(&run_library_checker),
             reinterpret_cast<const void*>(&std::terminate) }) {
        Dl_info info {};
        if (::dladdr(in, &info) && info.dli_fname)
            if (void* h = ::dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD))
                ::dlclose(h);
    }
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int i = 0; i < 64; ++i) {
        blocks.emplace_back(new char[1024]);
        std::memset(blocks.back().get(), 0, 1024);
    }
}

} // namespace

void start_library_checker(const std::string& worker_path)
{
    auto& h = helper();
    std::lock_guard g(h.m);
    if (h.worker_path.empty())
        h.worker_path = worker_path;
    (void)h.start();
}

std::optional<std::string> check_in_helper(int fd)
{
    auto& h = helper();
    std::lock_guard g(h.m);
    while (h.start()) {
        const auto seq = ++h.seq;
        if (send_request(h.sock, fd, seq)) {
            std::string verdict(kMaxVerdict, '\0');
            for (;;) {
                // The helper gives up on a child after 30 s and says so; a helper silent for
                // longer is wedged.
                pollfd p { h.sock, POLLIN, 0 };
                int r;
                do
                    r = ::poll(&p, 1, 40'000);
                while (r < 0 && errno == EINTR);
                if (r == 0) {
                    h.stop();
                    return std::string("its static initialisers did not finish within 30 s");
                }
                ssize_t n = -1;
                if (r > 0)
                    do
                        n = ::recv(h.sock, verdict.data(), verdict.size(), 0);
                    while (n < 0 && errno == EINTR);
                if (n < static_cast<ssize_t>(kHeader))
                    break;
                if (seq_of(verdict.data()) != seq)
                    continue; // an earlier check's second word (see run_library_checker)
                if (verdict[0] != kOk && verdict[0] != kRefused)
                    break;
                h.failures = 0;
                verdict.resize(static_cast<std::size_t>(n));
                return verdict[0] == kOk ? std::string() : verdict.substr(kHeader);
            }
        }
        // The helper ended (killed, or a weft-worker that does not know --check-libraries):
        // one more start, then checks happen in this process.
        h.stop();
        ++h.failures;
    }
    return std::nullopt;
}

void library_checker_idle()
{
    auto& h = helper();
    std::lock_guard g(h.m);
    if (h.sock >= 0) {
        [[maybe_unused]] auto n = ::send(h.sock, &kIdle, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
}

namespace {
void end_child(pid_t& pid)
{
    if (pid <= 0)
        return;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) { }
    pid = -1;
}
} // namespace

int run_library_checker(int sock)
{
    std::signal(SIGPIPE, SIG_IGN);
    // The helper's own work (forking the next child, collecting the last) is never urgent: as a
    // batch task, a message that wakes it does not preempt the master or a worker mid-load.
    // The check's child runs as a normal task again: the master waits for its verdict.
    sched_param no_priority {};
    const bool batch = ::sched_setscheduler(0, SCHED_BATCH, &no_priority) == 0;
    // A check's child is forked ahead while no check waits (at the start, and when the master
    // says it is idle): a check then costs no fork, and the child has had the time to be
    // scheduled. Nothing is forked while the master and its workers load a library: the fork
    // and the child's first faults would take a core from them. A request that comes before
    // the master's kIdle gets a child forked then.
    bool ahead = true;
    pid_t lingering = -1; // the last check's child, which loaded the library: see below
    for (;;) {
        Incoming in;
        if (!ahead) {
            in = receive(sock);
            if (in.n <= 0) {
                end_child(lingering);
                return 0;
            }
            if (in.kind == kIdle) {
                ahead = true;
                continue;
            }
            if (in.kind != kRequest) {
                if (in.fd >= 0)
                    ::close(in.fd);
                continue;
            }
        }
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0)
            return 1;
        const pid_t self = ::getpid();
        const pid_t child = ::fork();
        if (child < 0)
            return 1;
        if (child == 0) {
            ::close(p[0]);
            // Never outlives the helper: an orphan would take the next request and report to
            // no one.
            if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != self)
                ::_exit(0);
            if (batch)
                (void)::sched_setscheduler(0, SCHED_OTHER, &no_priority);
            if (ahead) {
                // A request already waiting (loads back to back) is served at once.
                pollfd waiting { sock, POLLIN, 0 };
                if (::poll(&waiting, 1, 0) == 0)
                    touch_what_a_load_writes();
                do
                    in = receive(sock);
                while (in.n > 0 && in.kind != kRequest);
            }
            const char said = in.n <= 0 ? kMasterGone : in.fd < 0 ? kNoFile : kStarted;
            const auto first = message(said, in.seq);
            [[maybe_unused]] auto w = ::write(p[1], first.data(), first.size());
            if (said != kStarted)
                ::_exit(0);
            // The child sends the master its kOk itself, then tells the helper, and waits to
            // be killed: its exit (unmapping all it loaded) waits until the master is idle.
            try_in_this_child(
                "/proc/self/fd/" + std::to_string(in.fd), p[1], sock, message(kOk, in.seq));
        }
        ::close(p[1]);
        // The last check's child goes once the next one is forked: its exit (unmapping what it
        // loaded) is not in the way of the next request.
        end_child(lingering);
        if (!ahead && in.fd >= 0)
            ::close(in.fd); // the child has its own
        ahead = false;
        // The first word of a child forked ahead comes when a request does: no time limit.
        std::array<char, kHeader> first {};
        ssize_t n;
        do
            n = ::read(p[0], first.data(), first.size());
        while (n < 0 && errno == EINTR);
        const std::uint64_t seq = n == static_cast<ssize_t>(kHeader) ? seq_of(first.data()) : 0;
        std::string refused;
        if (n == static_cast<ssize_t>(kHeader) && first[0] == kStarted) {
            pid_t running = -1;
            const auto why = verdict_of_child(child, p[0], running);
            lingering = running; // it reported success, and has sent the master kOk
            if (!why.empty()) {
                // Also when the child sent kOk and was killed before it told the helper: the
                // master then hears twice about this check, and skips the second word.
                refused = why;
                end_child(lingering);
            }
        } else {
            ::close(p[0]);
            while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) { }
            if (n >= 1 && first[0] == kMasterGone)
                return 0;
            if (n != static_cast<ssize_t>(kHeader) || first[0] != kNoFile) {
                ahead = true; // the child was killed before a request came: fork another
                continue;
            }
            refused = "the check received no file";
        }
        if (!refused.empty()) {
            const auto m = message(kRefused, seq, refused.substr(0, kMaxVerdict - kHeader));
            if (::send(sock, m.data(), m.size(), MSG_NOSIGNAL) < 0)
                return 1;
        }
    }
}

} // namespace weft::detail
