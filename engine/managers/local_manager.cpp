#include "local_manager.h"

#include "weft/errors.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace weft::detail {

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

} // namespace

struct LocalManager::Worker {
    WorkerInfo info;
    pid_t os_pid = -1;
    int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1, pid_fd = -1;
    std::unique_ptr<kj::UnixEventPort::FdObserver> out_obs, err_obs, pid_obs;
    std::string out_buf, err_buf;
    std::deque<std::string> stderr_tail;
    bool address_seen = false;
    bool launch_finished = false;
    bool removing = false;
    bool reaped = false;
    std::shared_ptr<struct Batch> batch;
    std::shared_ptr<Completion> exited = std::make_shared<Completion>();
    kj::Maybe<kj::Promise<void>> timeout;

    ~Worker()
    {
        for (int fd : { stdin_fd, stdout_fd, stderr_fd, pid_fd })
            if (fd >= 0)
                ::close(fd);
    }
};

struct Batch {
    std::mutex m;
    int remaining = 0;
    std::vector<std::string> errors;
    Completion done;
};

LocalManager::LocalManager(
    ProcessRuntime& rt, const ClusterOptions& opts, ClusterCallbacks& callbacks)
    : rt_(rt)
    , opts_(opts)
    , cb_(callbacks)
    , worker_path_(opts.worker_path.empty() ? default_worker_path() : opts.worker_path)
{
}

LocalManager::~LocalManager()
{
    std::vector<std::shared_ptr<Worker>> all;
    {
        std::lock_guard g(m_);
        for (auto& [pid, w] : workers_)
            all.push_back(w);
    }
    for (auto& w : all)
        if (w->os_pid > 0 && !w->exited->ready())
            ::kill(w->os_pid, SIGKILL);
    for (auto& w : all)
        if (w->os_pid > 0 && !w->exited->ready())
            w->exited->wait();
    rt_.loop().run_sync([&] {
        for (auto& w : all) {
            w->out_obs.reset();
            w->err_obs.reset();
            w->pid_obs.reset();
            w->timeout = nullptr;
        }
    });
}

std::vector<Pid> LocalManager::launch(int n, Threads threads)
{
    if (n <= 0)
        return {};
    auto batch = std::make_shared<Batch>();
    batch->remaining = n;
    std::vector<std::shared_ptr<Worker>> ws;
    {
        std::lock_guard g(m_);
        for (int i = 0; i < n; ++i) {
            auto w = std::make_shared<Worker>();
            w->info.pid = next_pid_++;
            w->info.host = "localhost";
            w->info.threads = threads;
            w->batch = batch;
            workers_[w->info.pid] = w;
            rt_.mesh().add_starting_worker(w->info.pid, rt_.options().host);
            ws.push_back(w);
        }
    }
    for (auto& w : ws)
        announce(w->info);
    rt_.loop().post([this, ws] {
        for (auto& w : ws)
            start_worker(w);
    });
    batch->done.wait();
    std::vector<Pid> ok;
    for (auto& w : ws)
        if (w->info.state == WorkerState::Running)
            ok.push_back(w->info.pid);
    if (!batch->errors.empty()) {
        std::string msg = "addprocs: " + std::to_string(batch->errors.size()) + " of "
            + std::to_string(n) + " workers failed to start";
        for (auto& e : batch->errors)
            msg += "\n  " + e;
        throw ConnectionError(msg);
    }
    return ok;
}

// A worker that never ran: its descriptors are closed at once (they used to stay open for as
// long as the manager lived: 3 per failed start).
void LocalManager::fail_start(const std::shared_ptr<Worker>& w, const std::string& why)
{
    for (int* fd : { &w->stdin_fd, &w->stdout_fd, &w->stderr_fd })
        if (*fd >= 0) {
            ::close(*fd);
            *fd = -1;
        }
    finish_launch(w, why);
    w->info.state = WorkerState::Exited;
    w->info.exit_reason = "failed to start: " + why;
    announce(w->info);
    w->exited->set(Value(w->info.exit_reason));
    rt_.mesh().peer_exited(w->info.pid, w->info.exit_reason);
}

void LocalManager::start_worker(const std::shared_ptr<Worker>& w)
{
    int in_sv[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_sv) < 0
        || ::pipe2(out_p, O_CLOEXEC) < 0 || ::pipe2(err_p, O_CLOEXEC) < 0) {
        const int err = errno;
        for (int fd : { in_sv[0], in_sv[1], out_p[0], out_p[1], err_p[0], err_p[1] })
            if (fd >= 0)
                ::close(fd);
        fail_start(w, std::string("cannot make pipes: ") + std::strerror(err));
        return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
    const std::string threads = std::to_string(w->info.threads.default_threads) + ","
        + std::to_string(w->info.threads.interactive);
    const std::string host = rt_.options().host;
    std::vector<char*> argv { const_cast<char*>(worker_path_.c_str()),
        const_cast<char*>("--threads"), const_cast<char*>(threads.c_str()),
        const_cast<char*>("--bind"), const_cast<char*>(host.c_str()) };
    // Local workers on Unix sockets talk to each other over them too: no TCP port is opened,
    // so no other user on this host can reach them at all.
    if (opts_.transport == Transport::Unix)
        argv.push_back(const_cast<char*>("--unix-only"));
    argv.push_back(nullptr);
    pid_t child = -1;
    const int rc = ::posix_spawnp(&child, worker_path_.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in_sv[1]);
    ::close(out_p[1]);
    ::close(err_p[1]);
    w->stdin_fd = in_sv[0];
    w->stdout_fd = out_p[0];
    w->stderr_fd = err_p[0];
    if (rc != 0) {
        fail_start(w, "cannot start " + worker_path_ + ": " + std::strerror(rc));
        return;
    }
    w->os_pid = child;
    w->info.os_pid = child;
    announce(w->info);
    // The cookie goes on stdin, never in argv or the environment.
    const std::string line = rt_.options().cookie.hex() + "\n";
    [[maybe_unused]] auto sent = ::send(w->stdin_fd, line.data(), line.size(), MSG_NOSIGNAL);
    ::fcntl(w->stdout_fd, F_SETFL, O_NONBLOCK);
    ::fcntl(w->stderr_fd, F_SETFL, O_NONBLOCK);
    auto& port = rt_.loop().port();
    using Obs = kj::UnixEventPort::FdObserver;
    w->out_obs = std::make_unique<Obs>(port, w->stdout_fd, Obs::OBSERVE_READ);
    w->err_obs = std::make_unique<Obs>(port, w->stderr_fd, Obs::OBSERVE_READ);
    rt_.loop().add_task(read_stream(w, true));
    rt_.loop().add_task(read_stream(w, false));
    w->pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
    if (w->pid_fd >= 0) {
        w->pid_obs = std::make_unique<Obs>(port, w->pid_fd, Obs::OBSERVE_READ);
        rt_.loop().add_task(
            w->pid_obs->whenBecomesReadable().then([this, w] { on_process_exit(w); }));
    } else {
        // No pidfd (old kernel): poll for the exit instead.
        auto poll = std::make_shared<std::function<kj::Promise<void>()>>();
        *poll = [this, w, poll]() -> kj::Promise<void> {
            return rt_.loop()
                .timer()
                .afterDelay(20 * kj::MILLISECONDS)
                .then([this, w, poll]() -> kj::Promise<void> {
                    int status;
                    if (::waitpid(w->os_pid, &status, WNOHANG | __WALL) == w->os_pid) {
                        w->reaped = true;
                        w->info.exit_reason = describe_status(status);
                        on_process_exit(w);
                        *poll = nullptr;
                        return kj::READY_NOW;
                    }
                    return (*poll)();
                });
        };
        rt_.loop().add_task((*poll)());
    }
    w->timeout = rt_.loop()
                     .timer()
                     .afterDelay(opts_.worker_timeout.count() * kj::MILLISECONDS)
                     .then([this, w] {
                         // finish_launch drops this promise: not from inside its own callback.
                         rt_.loop().post([this, w] {
                             if (w->launch_finished)
                                 return;
                             finish_launch(w,
                                 "did not become ready within "
                                     + std::to_string(opts_.worker_timeout.count()) + " ms");
                             ::kill(w->os_pid, SIGKILL);
                         });
                     })
                     .eagerlyEvaluate(nullptr);
}

kj::Promise<void> LocalManager::read_stream(std::shared_ptr<Worker> w, bool is_stdout)
{
    auto* obs = is_stdout ? w->out_obs.get() : w->err_obs.get();
    if (!obs)
        return kj::READY_NOW;
    return obs->whenBecomesReadable().then([this, w, is_stdout]() -> kj::Promise<void> {
        const int fd = is_stdout ? w->stdout_fd : w->stderr_fd;
        std::string& buf = is_stdout ? w->out_buf : w->err_buf;
        char chunk[8192];
        for (;;) {
            ssize_t n = ::read(fd, chunk, sizeof chunk);
            if (n > 0) {
                buf.append(chunk, static_cast<std::size_t>(n));
                std::size_t start = 0, nl;
                while ((nl = buf.find('\n', start)) != std::string::npos) {
                    on_line(w, buf.substr(start, nl - start), is_stdout);
                    start = nl + 1;
                }
                buf.erase(0, start);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return read_stream(w, is_stdout);
            if (!buf.empty())
                on_line(w, std::exchange(buf, {}), is_stdout);
            // End of stream: its observer and descriptor go, on a later turn (we are inside the
            // observer's continuation).
            rt_.loop().post([w, is_stdout] {
                (is_stdout ? w->out_obs : w->err_obs).reset();
                int& f = is_stdout ? w->stdout_fd : w->stderr_fd;
                if (f >= 0) {
                    ::close(f);
                    f = -1;
                }
            });
            return kj::READY_NOW;
        }
    });
}

void LocalManager::on_line(
    const std::shared_ptr<Worker>& w, const std::string& line, bool is_stdout)
{
    const Pid pid = w->info.pid;
    if (is_stdout && !w->address_seen) {
        w->address_seen = true;
        std::istringstream in(line);
        std::string word, tcp, unix_address;
        while (in >> word) {
            if (word.rfind("tcp:", 0) == 0)
                tcp = word;
            else if (word.rfind("unix:", 0) == 0)
                unix_address = word;
        }
        if (tcp.empty() && unix_address.empty()) {
            finish_launch(w,
                "worker " + std::to_string(pid) + " printed '" + line + "' instead of its address");
            ::kill(w->os_pid, SIGKILL);
            return;
        }
        rt_.mesh().set_peer_addresses(pid, tcp, unix_address);
        const std::string address
            = (opts_.transport == Transport::Unix && !unix_address.empty()) ? unix_address : tcp;
        w->info.address = address;
        rt_.connect_worker(pid, address, [this, w](const std::string& error) {
            if (!error.empty()) {
                finish_launch(w, error);
                ::kill(w->os_pid, SIGKILL);
                return;
            }
            w->info.state = WorkerState::Running;
            // Callbacks first: addprocs returns once every worker is announced.
            announce(w->info);
            cb_.added.call("on_worker_added", log_fn(), w->info);
            finish_launch(w, "");
        });
        return;
    }
    if (!is_stdout) {
        w->stderr_tail.push_back(line);
        if (w->stderr_tail.size() > 20)
            w->stderr_tail.pop_front();
    }
    cb_.output.call("on_output", log_fn(), pid, line);
}

std::function<void(const std::string&)> LocalManager::log_fn() const
{
    return [rt = &rt_](const std::string& m) { rt->log(m); };
}

void LocalManager::finish_launch(const std::shared_ptr<Worker>& w, const std::string& error)
{
    if (w->launch_finished)
        return;
    w->launch_finished = true;
    w->timeout = nullptr;
    auto batch = std::exchange(w->batch, nullptr);
    if (!batch)
        return;
    bool last;
    {
        std::lock_guard g(batch->m);
        if (!error.empty()) {
            std::string e = "worker " + std::to_string(w->info.pid) + ": " + error;
            if (!w->stderr_tail.empty())
                e += " (its stderr: " + w->stderr_tail.back() + ")";
            batch->errors.push_back(e);
        }
        last = --batch->remaining == 0;
    }
    if (last)
        batch->done.set(Value());
}

void LocalManager::on_process_exit(const std::shared_ptr<Worker>& w)
{
    if (!w->reaped) {
        int status = 0;
        if (::waitpid(w->os_pid, &status, 0) == w->os_pid)
            w->info.exit_reason = describe_status(status);
        w->reaped = true;
    }
    std::string reason = w->info.exit_reason;
    if (w->removing)
        reason = "removed by rmprocs (" + reason + ")";
    w->info.exit_reason = reason;
    w->info.state = WorkerState::Exited;
    if (!w->launch_finished) {
        // Read what it said on stderr before giving up on it.
        std::string tail;
        for (auto& l : w->stderr_tail)
            tail += (tail.empty() ? "" : " | ") + l;
        finish_launch(
            w, "exited during start-up: " + reason + (tail.empty() ? "" : "; stderr: " + tail));
    }
    rt_.mesh().peer_exited(w->info.pid, reason);
    announce(w->info);
    cb_.exited.call("on_worker_exited", log_fn(), w->info.pid, reason);
    w->exited->set(Value(reason));
    // Observers are torn down on a later turn: we may be inside one of their continuations.
    rt_.loop().post([w] {
        w->pid_obs.reset();
        for (int* fd : { &w->stdin_fd, &w->pid_fd })
            if (*fd >= 0) {
                ::close(*fd);
                *fd = -1;
            }
    });
}

void LocalManager::remove(const std::vector<Pid>& pids, std::chrono::milliseconds timeout)
{
    std::vector<std::shared_ptr<Worker>> ws;
    {
        std::lock_guard g(m_);
        for (Pid p : pids) {
            auto it = workers_.find(p);
            if (it != workers_.end() && it->second->os_pid > 0 && !it->second->exited->ready())
                ws.push_back(it->second);
        }
    }
    for (auto& w : ws) {
        cb_.exiting.call("on_worker_exiting", log_fn(), w->info.pid);
        rt_.loop().run_sync([&] {
            w->removing = true;
            if (w->info.state != WorkerState::Exited) {
                w->info.state = WorkerState::Exiting;
                announce(w->info);
            }
        });
        rt_.send_exit(w->info.pid);
    }
    if (ws.empty())
        return;
    rt_.loop().post([this, ws, timeout] {
        rt_.loop().add_task(
            rt_.loop().timer().afterDelay(timeout.count() * kj::MILLISECONDS).then([ws] {
                for (auto& w : ws)
                    if (!w->exited->ready())
                        ::kill(w->os_pid, SIGKILL);
            }));
    });
    for (auto& w : ws)
        w->exited->wait();
}

bool LocalManager::kill(Pid pid)
{
    std::shared_ptr<Worker> w;
    {
        std::lock_guard g(m_);
        auto it = workers_.find(pid);
        if (it == workers_.end())
            return false;
        w = it->second;
    }
    // The loop thread reaps it: until then its pid cannot be reused, so this reaches no other.
    rt_.loop().run_sync([&] {
        if (w->os_pid > 0 && !w->reaped && !w->exited->ready())
            ::kill(w->os_pid, SIGKILL);
    });
    return true;
}

void LocalManager::announce(const WorkerInfo& info)
{
    cb_.membership.call("membership", log_fn(), info);
}

std::vector<WorkerInfo> LocalManager::info() const
{
    std::vector<WorkerInfo> out;
    std::vector<std::shared_ptr<Worker>> ws;
    {
        std::lock_guard g(m_);
        for (auto& [pid, w] : workers_)
            ws.push_back(w);
    }
    rt_.loop().run_sync([&] {
        for (auto& w : ws)
            out.push_back(w->info);
    });
    return out;
}

} // namespace weft::detail
