// SshManager: workers on other hosts, started over one libssh session (ssh_session.h) per host
// and addprocs, the hosts logged in to in parallel.

#include "ssh_session.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <future>
#include <sys/socket.h>
#include <unistd.h>

namespace weft {

std::string ssh_destination(const SshSpec& s)
{
    return (s.user.empty() ? "" : s.user + "@") + s.host
        + (s.port > 0 ? ":" + std::to_string(s.port) : "");
}

namespace {

using detail::RemoteWorker;
using detail::SshError;
using detail::SshSession;

class SshWorkerProcess final : public WorkerProcess {
public:
    SshWorkerProcess(std::shared_ptr<SshSession> s, std::shared_ptr<RemoteWorker> w, Streams st)
        : session_(std::move(s))
        , w_(std::move(w))
        , streams_(st)
    {
    }
    ~SshWorkerProcess() override
    {
        for (int fd : { streams_.in, streams_.out, streams_.err, streams_.ended })
            if (fd >= 0)
                ::close(fd);
    }
    Streams streams() override { return std::exchange(streams_, Streams {}); }
    std::string host() const override { return session_->spec().host; }
    long os_pid() const override { return w_->os_pid; }
    std::string exit_reason() override
    {
        std::lock_guard g(w_->m);
        return w_->reason;
    }
    std::string reach(const std::string& tcp, const std::string&, Transport) override
    {
        const auto colon = tcp.rfind(':');
        if (tcp.empty() || colon == std::string::npos)
            throw SshError("worker on " + session_->where() + " announced no TCP address");
        if (session_->spec().route == SshRoute::Direct)
            return tcp;
        return session_->open_tunnel(std::stoi(tcp.substr(colon + 1)));
    }
    void kill() override { session_->kill(w_); }
    std::string reach_back(const std::string& address_here) override
    {
        return session_->open_tunnel_back(address_here);
    }
    std::string stage_file(const std::string& local) override
    {
        return session_->spec().deploy ? session_->stage(local) : local;
    }

private:
    std::shared_ptr<SshSession> session_;
    std::shared_ptr<RemoteWorker> w_;
    Streams streams_;
};

// One host's workers: log in, start them, and hand each over.
std::vector<LaunchOutcome> launch_on(const SshSpec& spec, const std::vector<LaunchRequest>& rs,
    const std::shared_ptr<SshDeployCounters>& counters)
{
    std::vector<LaunchOutcome> out(rs.size());
    auto fail_all = [&](const std::string& why) {
        for (auto& o : out)
            if (!o.process) {
                o.error = why;
                o.host = spec.host;
            }
        return std::move(out);
    };
    auto session = std::make_shared<SshSession>(spec, counters);
    std::vector<std::shared_ptr<RemoteWorker>> started;
    try {
        session->open();
        for (auto& r : rs)
            started.push_back(session->exec(r));
    } catch (const std::exception& e) {
        return fail_all(e.what());
    }
    std::vector<WorkerProcess::Streams> streams;
    for (auto& w : started) {
        int in[2], out_sv[2], err_sv[2], ended[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0
            || ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out_sv) != 0
            || ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, err_sv) != 0
            || ::pipe2(ended, O_CLOEXEC) != 0)
            return fail_all(std::string("cannot make socket pairs: ") + std::strerror(errno));
        w->pipe.local = in[1];
        w->pipe.out = out_sv[1];
        w->pipe.err = err_sv[1];
        w->ended_w = ended[1];
        streams.push_back({ in[0], out_sv[0], err_sv[0], ended[0] });
    }
    session->start_pump();
    for (std::size_t i = 0; i < started.size(); ++i)
        out[i].process = std::make_unique<SshWorkerProcess>(session, started[i], streams[i]);
    return out;
}

} // namespace

SshManager::SshManager(SshSpec spec)
    : SshManager(std::vector<SshSpec> { std::move(spec) })
{
}

SshManager::SshManager(std::vector<SshSpec> specs)
    : specs_(std::move(specs))
    , counters_(std::make_shared<SshDeployCounters>())
{
}

SshManager::DeployStats SshManager::deploy_stats() const
{
    return { counters_->uploaded.load(), counters_->already_there.load(), counters_->bytes.load() };
}

SshManager::~SshManager() = default;

int SshManager::count() const
{
    int n = 0;
    for (auto& s : specs_)
        n += s.count;
    return n;
}

std::string SshManager::describe() const
{
    std::string d = "ssh";
    for (auto& s : specs_)
        d += " " + ssh_destination(s);
    return d;
}

std::vector<LaunchOutcome> SshManager::launch(const std::vector<LaunchRequest>& requests)
{
    if (specs_.empty())
        throw std::invalid_argument("SshManager: no host given");
    // Which host each request goes to: each spec's count in turn when they add up, else round
    // robin.
    std::vector<std::vector<std::size_t>> per_host(specs_.size());
    if (static_cast<int>(requests.size()) == count()) {
        std::size_t next = 0;
        for (std::size_t h = 0; h < specs_.size(); ++h)
            for (int i = 0; i < specs_[h].count; ++i)
                per_host[h].push_back(next++);
    } else {
        for (std::size_t i = 0; i < requests.size(); ++i)
            per_host[i % specs_.size()].push_back(i);
    }
    std::vector<std::future<std::vector<LaunchOutcome>>> logins;
    for (std::size_t h = 0; h < specs_.size(); ++h) {
        std::vector<LaunchRequest> rs;
        for (auto i : per_host[h])
            rs.push_back(requests[i]);
        logins.push_back(
            std::async(std::launch::async, [spec = specs_[h], rs = std::move(rs), c = counters_] {
                return launch_on(spec, rs, c);
            }));
    }
    std::vector<LaunchOutcome> out(requests.size());
    for (std::size_t h = 0; h < specs_.size(); ++h) {
        auto got = logins[h].get();
        for (std::size_t k = 0; k < per_host[h].size(); ++k)
            out[per_host[h][k]] = std::move(got[k]);
    }
    return out;
}

} // namespace weft
