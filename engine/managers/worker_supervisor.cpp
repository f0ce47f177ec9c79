#include "worker_supervisor.h"

#include "weft/errors.h"
#include "weft/version.h"

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
#include <tuple>
#include <unistd.h>

namespace weft::detail {

struct WorkerSupervisor::Worker {
    WorkerInfo info;
    std::unique_ptr<WorkerProcess> process;
    int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1, ended_fd = -1;
    std::unique_ptr<kj::UnixEventPort::FdObserver> out_obs, err_obs, ended_obs;
    std::string out_buf, err_buf;
    std::deque<std::string> stderr_tail;
    bool address_seen = false;
    bool launch_finished = false;
    bool removing = false;
    std::shared_ptr<struct Batch> batch;
    std::shared_ptr<Completion> exited = std::make_shared<Completion>();
    kj::Maybe<kj::Promise<void>> timeout;

    ~Worker()
    {
        for (int fd : { stdin_fd, stdout_fd, stderr_fd, ended_fd })
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

WorkerSupervisor::WorkerSupervisor(
    ProcessRuntime& rt, const ClusterOptions& opts, ClusterCallbacks& callbacks)
    : rt_(rt)
    , opts_(opts)
    , cb_(callbacks)
{
    rt_.mesh().set_route([this](Pid receiver, const PeerAddress& a) { return route(receiver, a); });
}

void WorkerSupervisor::open_routes(Pid pid)
{
    // What needs a tunnel back: a worker on another host reaching one here (Unix sockets only)
    // or one behind the master's tunnel on a third host.
    const auto needs_back = [](const Place& from, const Place& to) {
        return from.host != "localhost" && from.host != to.host
            && (to.host == "localhost" || to.tunnelled);
    };
    std::vector<std::tuple<Pid, Pid, WorkerProcess*, std::string>> wanted; // from, to
    {
        std::lock_guard g(places_m_);
        const auto& me = places_.at(pid);
        for (auto& [other, o] : places_) {
            if (other == pid)
                continue;
            if (needs_back(me, o))
                wanted.emplace_back(pid, other, me.process, o.reached);
            if (needs_back(o, me))
                wanted.emplace_back(other, pid, o.process, me.reached);
        }
    }
    for (auto& [from, to, process, target] : wanted) {
        std::string via;
        try {
            via = process->reach_back(target);
        } catch (const std::exception& e) {
            rt_.log("no route from worker " + std::to_string(from) + " to worker "
                + std::to_string(to) + ": " + e.what());
        }
        if (via.empty())
            continue;
        std::lock_guard g(places_m_);
        places_[from].via[to] = via;
    }
}

// Workers on one host reach each other as they announced. A worker on this machine reaches one
// behind a tunnel through the tunnel's end here. A worker on another host cannot reach one on a
// third host, or one here, unless the direct route made that host's address reachable: it is told
// so (connecting then fails at once, naming both, instead of trying a loopback of its own).
PeerAddress WorkerSupervisor::route(Pid receiver, const PeerAddress& peer) const
{
    std::lock_guard g(places_m_);
    const auto r = places_.find(receiver);
    const auto p = places_.find(peer.pid);
    if (r == places_.end() || p == places_.end() || r->second.host == p->second.host)
        return peer;
    if (auto via = r->second.via.find(peer.pid); via != r->second.via.end())
        return PeerAddress { peer.pid, "via-master", via->second, {} };
    if (r->second.host == "localhost")
        return p->second.tunnelled
            ? PeerAddress { peer.pid, rt_.options().host, {}, p->second.reached }
            : PeerAddress { peer.pid, p->second.host, peer.tcp, {} };
    if (p->second.host != "localhost" && !p->second.tunnelled)
        return PeerAddress { peer.pid, p->second.host, peer.tcp, {} };
    return PeerAddress { peer.pid, "unreachable:" + p->second.host, {}, {} };
}

WorkerSupervisor::~WorkerSupervisor()
{
    rt_.mesh().set_route(nullptr);
    std::vector<std::shared_ptr<Worker>> all;
    {
        std::lock_guard g(m_);
        for (auto& [pid, w] : workers_)
            all.push_back(w);
    }
    for (auto& w : all)
        if (w->process && !w->exited->ready())
            w->process->kill();
    for (auto& w : all)
        if (w->process && !w->exited->ready())
            w->exited->wait();
    rt_.loop().run_sync([&] {
        for (auto& w : all) {
            w->out_obs.reset();
            w->err_obs.reset();
            w->ended_obs.reset();
            w->timeout = nullptr;
        }
    });
}

std::vector<Pid> WorkerSupervisor::launch(ClusterManager& manager, int n, Threads threads)
{
    if (n <= 0)
        return {};
    auto batch = std::make_shared<Batch>();
    batch->remaining = n;
    std::vector<std::shared_ptr<Worker>> ws;
    std::vector<LaunchRequest> requests;
    const std::string local_worker
        = opts_.worker_path.empty() ? LocalManager().worker_path() : opts_.worker_path;
    {
        std::lock_guard g(m_);
        for (int i = 0; i < n; ++i) {
            auto w = std::make_shared<Worker>();
            w->info.pid = next_pid_++;
            w->info.threads = threads;
            w->batch = batch;
            workers_[w->info.pid] = w;
            ws.push_back(w);
            LaunchRequest r;
            r.pid = w->info.pid;
            r.threads = threads;
            r.bind = rt_.options().host;
            // Local workers on Unix sockets talk to each other over them too: no TCP port is
            // opened, so no other user on this host can reach them at all.
            r.unix_only = opts_.transport == Transport::Unix;
            r.local_worker_path = local_worker;
            requests.push_back(r);
        }
    }
    for (auto& w : ws)
        announce(w->info);
    std::vector<LaunchOutcome> outcomes;
    std::string failed;
    try {
        outcomes = manager.launch(requests);
        if (outcomes.size() != requests.size())
            failed = manager.describe() + " answered " + std::to_string(outcomes.size())
                + " launches for " + std::to_string(requests.size()) + " requests";
    } catch (const std::exception& e) {
        failed = e.what();
    }
    outcomes.resize(requests.size());
    for (auto& o : outcomes)
        if (!o.process && o.error.empty())
            o.error = failed.empty() ? manager.describe() + " started no process" : failed;
    for (std::size_t i = 0; i < ws.size(); ++i) {
        auto& w = ws[i];
        w->process = std::move(outcomes[i].process);
        // The mesh's host decides who uses a worker's Unix socket: only processes on its host.
        const std::string host = w->process ? w->process->host()
            : outcomes[i].host.empty()      ? "localhost"
                                            : outcomes[i].host;
        w->info.host = host;
        rt_.mesh().add_starting_worker(
            w->info.pid, host == "localhost" ? rt_.options().host : host);
    }
    std::vector<std::string> errors;
    for (auto& o : outcomes)
        errors.push_back(std::move(o.error));
    rt_.loop().post([this, ws, errors] {
        for (std::size_t i = 0; i < ws.size(); ++i) {
            if (ws[i]->process)
                start_worker(ws[i]);
            else
                fail_start(ws[i], errors[i]);
        }
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
void WorkerSupervisor::fail_start(const std::shared_ptr<Worker>& w, const std::string& why)
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

void WorkerSupervisor::start_worker(const std::shared_ptr<Worker>& w)
{
    const auto st = w->process->streams();
    w->stdin_fd = st.in;
    w->stdout_fd = st.out;
    w->stderr_fd = st.err;
    w->ended_fd = st.ended;
    if (st.in < 0 || st.out < 0 || st.err < 0 || st.ended < 0) {
        w->process->kill();
        fail_start(w, "its manager gave it no standard streams");
        return;
    }
    w->info.os_pid = static_cast<int>(w->process->os_pid());
    announce(w->info);
    // The cookie goes on stdin, never in argv or the environment.
    const std::string line = rt_.options().cookie.hex() + "\n";
    [[maybe_unused]] auto sent = ::send(w->stdin_fd, line.data(), line.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == ENOTSOCK)
        sent = ::write(w->stdin_fd, line.data(), line.size());
    ::fcntl(w->stdout_fd, F_SETFL, O_NONBLOCK);
    ::fcntl(w->stderr_fd, F_SETFL, O_NONBLOCK);
    auto& port = rt_.loop().port();
    using Obs = kj::UnixEventPort::FdObserver;
    w->out_obs = std::make_unique<Obs>(port, w->stdout_fd, Obs::OBSERVE_READ);
    w->err_obs = std::make_unique<Obs>(port, w->stderr_fd, Obs::OBSERVE_READ);
    rt_.loop().add_task(read_stream(w, true));
    rt_.loop().add_task(read_stream(w, false));
    w->ended_obs = std::make_unique<Obs>(port, w->ended_fd, Obs::OBSERVE_READ);
    rt_.loop().add_task(
        w->ended_obs->whenBecomesReadable().then([this, w] { on_process_exit(w); }));
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
                             w->process->kill();
                         });
                     })
                     .eagerlyEvaluate(nullptr);
}

kj::Promise<void> WorkerSupervisor::read_stream(std::shared_ptr<Worker> w, bool is_stdout)
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

void WorkerSupervisor::on_line(
    const std::shared_ptr<Worker>& w, const std::string& line, bool is_stdout)
{
    if (is_stdout && !w->address_seen) {
        w->address_seen = true;
        on_address_line(w, line);
        return;
    }
    if (!is_stdout) {
        w->stderr_tail.push_back(line);
        if (w->stderr_tail.size() > 20)
            w->stderr_tail.pop_front();
    }
    cb_.output.call("on_output", log_fn(), w->info.pid, line);
}

// "weft-worker VERSION pid N listening tcp:HOST:PORT unix:PATH"
void WorkerSupervisor::on_address_line(const std::shared_ptr<Worker>& w, const std::string& line)
{
    const Pid pid = w->info.pid;
    std::istringstream in(line);
    std::string program, version, word, tcp, unix_address;
    in >> program >> version;
    while (in >> word) {
        if (word.rfind("tcp:", 0) == 0)
            tcp = word;
        else if (word.rfind("unix:", 0) == 0)
            unix_address = word;
    }
    if (program != "weft-worker" || (tcp.empty() && unix_address.empty())) {
        finish_launch(w, "printed '" + line + "' instead of its address");
        w->process->kill();
        return;
    }
    if (version != runtime_version()) {
        finish_launch(w,
            "weft-worker on " + w->info.host + " runs Weft " + version + ", this master runs Weft "
                + runtime_version() + ": install the same version there (or deploy this one)");
        w->process->kill();
        return;
    }
    std::string address;
    try {
        address = w->process->reach(tcp, unix_address, opts_.transport);
    } catch (const std::exception& e) {
        finish_launch(w, std::string("cannot reach it: ") + e.what());
        w->process->kill();
        return;
    }
    rt_.mesh().set_peer_addresses(pid, tcp, unix_address);
    {
        std::lock_guard g(places_m_);
        places_[pid] = { w->info.host, address, address != tcp && address != unix_address,
            w->process.get(), {} };
    }
    open_routes(pid);
    w->info.address = address;
    w->info.os_pid = static_cast<int>(w->process->os_pid());
    rt_.connect_worker(pid, address, [this, w](const std::string& error) {
        if (!error.empty()) {
            finish_launch(w, error);
            w->process->kill();
            return;
        }
        w->info.state = WorkerState::Running;
        // Callbacks first: addprocs returns once every worker is announced.
        announce(w->info);
        cb_.added.call("on_worker_added", log_fn(), w->info);
        finish_launch(w, "");
    });
}

std::function<void(const std::string&)> WorkerSupervisor::log_fn() const
{
    return [rt = &rt_](const std::string& m) { rt->log(m); };
}

void WorkerSupervisor::finish_launch(const std::shared_ptr<Worker>& w, const std::string& error)
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

void WorkerSupervisor::on_process_exit(const std::shared_ptr<Worker>& w)
{
    w->info.exit_reason = w->process->exit_reason();
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
        w->ended_obs.reset();
        for (int* fd : { &w->stdin_fd, &w->ended_fd })
            if (*fd >= 0) {
                ::close(*fd);
                *fd = -1;
            }
    });
}

void WorkerSupervisor::remove(const std::vector<Pid>& pids, std::chrono::milliseconds timeout)
{
    std::vector<std::shared_ptr<Worker>> ws;
    {
        std::lock_guard g(m_);
        for (Pid p : pids) {
            auto it = workers_.find(p);
            if (it != workers_.end() && it->second->process && !it->second->exited->ready())
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
                        w->process->kill();
            }));
    });
    for (auto& w : ws)
        w->exited->wait();
}

std::shared_ptr<WorkerSupervisor::Worker> WorkerSupervisor::find(Pid pid) const
{
    std::lock_guard g(m_);
    auto it = workers_.find(pid);
    return it == workers_.end() ? nullptr : it->second;
}

std::string WorkerSupervisor::stage_file(Pid pid, const std::string& path)
{
    auto w = find(pid);
    return w && w->process ? w->process->stage_file(path) : path;
}

bool WorkerSupervisor::on_this_host(Pid pid) const
{
    auto w = find(pid);
    return !w || !w->process || w->process->host() == "localhost";
}

void WorkerSupervisor::set_clock(Pid pid, const ClockEstimate& c)
{
    if (auto w = find(pid))
        rt_.loop().run_sync([&] { w->info.clock = c; });
}

bool WorkerSupervisor::kill(Pid pid)
{
    std::shared_ptr<Worker> w;
    {
        std::lock_guard g(m_);
        auto it = workers_.find(pid);
        if (it == workers_.end())
            return false;
        w = it->second;
    }
    if (w->process && !w->exited->ready())
        w->process->kill();
    return true;
}

void WorkerSupervisor::announce(const WorkerInfo& info)
{
    cb_.membership.call("membership", log_fn(), info);
}

std::vector<WorkerInfo> WorkerSupervisor::info() const
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
