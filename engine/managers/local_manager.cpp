// LocalManager: weft-worker processes on this machine, started with posix_spawn. Their end is
// learned from a pidfd, so the exit reason is the OS's own.

#include "weft/cluster_manager.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace weft {

std::vector<std::string> worker_arguments(const LaunchRequest& r)
{
    std::vector<std::string> a { "--threads",
        std::to_string(r.threads.default_threads) + "," + std::to_string(r.threads.interactive),
        "--bind", r.bind };
    if (r.unix_only)
        a.emplace_back("--unix-only");
    return a;
}

namespace {

std::string default_worker_path()
{
    if (const char* env = std::getenv("WEFT_WORKER"); env && *env)
        return env;
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto beside = self.parent_path() / "weft-worker";
        if (std::filesystem::exists(beside))
            return beside.string();
    }
    return "weft-worker";
}

std::string describe_status(int status)
{
    if (WIFEXITED(status))
        return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* abbrev = sigabbrev_np(sig);
        return "killed by signal " + std::to_string(sig)
            + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
    }
    return "ended (status " + std::to_string(status) + ")";
}

void close_all(std::initializer_list<int> fds)
{
    for (int fd : fds)
        if (fd >= 0)
            ::close(fd);
}

class LocalWorkerProcess final : public WorkerProcess {
public:
    LocalWorkerProcess(pid_t pid, Streams s)
        : pid_(pid)
        , streams_(s)
    {
    }
    ~LocalWorkerProcess() override
    {
        // Never leaves a zombie (or a running worker) behind.
        std::lock_guard g(m_);
        if (!reaped_) {
            ::kill(pid_, SIGKILL);
            int st;
            while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) { }
        }
        if (waiter_.joinable())
            waiter_.join();
    }
    Streams streams() override
    {
        Streams s = streams_;
        if (s.ended < 0) {
            // No pidfd (an old kernel): a thread waits for the end without reaping it, and says
            // so on a pipe.
            int p[2];
            if (::pipe2(p, O_CLOEXEC) == 0) {
                s.ended = p[0];
                waiter_ = std::thread([pid = pid_, w = p[1]] {
                    siginfo_t info {};
                    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0
                        && errno == EINTR) { }
                    ::close(w);
                });
            }
        }
        streams_ = {};
        return s;
    }
    std::string host() const override { return "localhost"; }
    long os_pid() const override { return pid_; }
    std::string exit_reason() override
    {
        std::lock_guard g(m_);
        if (!reaped_) {
            int status = 0;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) { }
            reaped_ = true;
            reason_ = describe_status(status);
        }
        return reason_;
    }
    std::string reach(
        const std::string& tcp, const std::string& unix_address, Transport preferred) override
    {
        return (preferred == Transport::Unix && !unix_address.empty()) || tcp.empty() ? unix_address
                                                                                      : tcp;
    }
    void kill() override
    {
        // Reaping takes the same lock: until then the pid cannot be reused, so this reaches
        // no other process.
        std::lock_guard g(m_);
        if (!reaped_)
            ::kill(pid_, SIGKILL);
    }

private:
    const pid_t pid_;
    Streams streams_;
    std::mutex m_;
    bool reaped_ = false;
    std::string reason_;
    std::thread waiter_;
};

LaunchOutcome spawn_worker(const std::string& path, const LaunchRequest& r)
{
    int in_sv[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_sv) < 0
        || ::pipe2(out_p, O_CLOEXEC) < 0 || ::pipe2(err_p, O_CLOEXEC) < 0) {
        const int err = errno;
        close_all({ in_sv[0], in_sv[1], out_p[0], out_p[1], err_p[0], err_p[1] });
        return { nullptr, std::string("cannot make pipes: ") + std::strerror(err), {} };
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
    auto args = worker_arguments(r);
    std::vector<char*> argv { const_cast<char*>(path.c_str()) };
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t child = -1;
    const int rc = ::posix_spawnp(&child, path.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close_all({ in_sv[1], out_p[1], err_p[1] });
    if (rc != 0) {
        close_all({ in_sv[0], out_p[0], err_p[0] });
        return { nullptr, "cannot start " + path + ": " + std::strerror(rc), {} };
    }
    const int pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
    return { std::make_unique<LocalWorkerProcess>(
                 child, WorkerProcess::Streams { in_sv[0], out_p[0], err_p[0], pid_fd }),
        {}, {} };
}

} // namespace

LocalManager::LocalManager(std::string worker_path)
    : worker_path_(worker_path.empty() ? default_worker_path() : std::move(worker_path))
{
}

std::vector<LaunchOutcome> LocalManager::launch(const std::vector<LaunchRequest>& requests)
{
    std::vector<LaunchOutcome> out;
    out.reserve(requests.size());
    for (auto& r : requests)
        out.push_back(spawn_worker(worker_path_, r));
    return out;
}

} // namespace weft
