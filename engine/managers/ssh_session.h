#pragma once
// One libssh session to one host (engine-internal, for SshManager). A libssh session is not
// thread-safe, so after login everything on it happens on its own pump thread: it carries each
// worker's stdin, stdout and stderr between the SSH channel and a socket pair (the cluster reads
// and writes the other end like a local worker's pipes), learns each worker's exit status or
// signal, forwards tunnel connections (a Unix socket in a private directory here, to a worker's
// port on the host's loopback) and tunnels back (a port on the host's loopback, to an address
// here), and uploads files for deploy (ssh_deploy.cpp).

#include "weft/ssh.h"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <atomic>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace weft {

struct SshDeployCounters {
    std::atomic<int> uploaded { 0 };
    std::atomic<int> already_there { 0 };
    std::atomic<std::uint64_t> bytes { 0 };
};

} // namespace weft

namespace weft::detail {

// Raised with a message that names the host and what failed.
struct SshError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One channel's traffic with the local end of a socket pair (a worker's stdin/stdout/stderr,
// or one tunnelled connection).
struct Pipe {
    ssh_channel channel = nullptr;
    int local = -1; // our end: stdin (exec) or the connection (tunnel)
    int out = -1, err = -1; // exec only: where its stdout and stderr go
    std::string pending; // read from `local`, not yet taken by the channel's window
    bool local_eof = false;
    bool done = false;
};

// A worker started by an exec channel.
struct RemoteWorker {
    Pipe pipe;
    int ended_w = -1; // closed when it has ended
    ssh_channel_callbacks_struct callbacks {};
    std::mutex m;
    std::string reason; // why it ended, once it has
    std::optional<int> exit_status;
    std::string exit_signal;
    std::string first_line; // its announcement, sniffed for its pid
    std::atomic<long> os_pid { -1 };
    bool kill_sent = false;
};

struct Tunnel {
    int listener = -1;
    std::string path;
    int port = 0; // the worker's port on the host's loopback
    std::list<Pipe> conns;
};

class SshSession final : public std::enable_shared_from_this<SshSession> {
public:
    SshSession(const SshSpec& spec, std::shared_ptr<SshDeployCounters> counters)
        : spec_(spec)
        , counters_(std::move(counters))
    {
    }
    ~SshSession() { stop(); }

    // Connects, checks the host key and logs in, within the spec's connect_timeout. Throws
    // SshError naming the host and the step.
    void open();
    // Starts one worker (an exec channel); the pump must not be running yet.
    std::shared_ptr<RemoteWorker> exec(const LaunchRequest& r);
    void start_pump();
    void stop();

    // Any thread: runs `f` on the pump thread.
    void post(std::function<void()> f)
    {
        {
            std::lock_guard g(tasks_m_);
            tasks_.push_back(std::move(f));
        }
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
    }
    // A Unix socket on this machine forwarded to `port` on the host's loopback.
    std::string open_tunnel(int port);
    // A port on the host's loopback forwarded back to `target` (an address on this machine).
    std::string open_tunnel_back(const std::string& target);
    void kill(const std::shared_ptr<RemoteWorker>& w);
    // Where `local` is on the host once deployed (uploaded unless its SHA-256 is there). Any
    // thread; on the pump thread once it runs.
    std::string stage(const std::string& local);

    [[nodiscard]] std::string where() const { return where_; }
    [[nodiscard]] const SshSpec& spec() const { return spec_; }
    [[nodiscard]] const std::string& peer_address() const { return peer_address_; }

private:
    void check_host_key();
    void authenticate();
    void pump();
    void pump_worker(RemoteWorker& w);
    void pump_connections(std::list<Pipe>& conns);
    bool pump_pipe(Pipe& p, bool exec, std::string* first_line = nullptr);
    void accept_tunnel(Tunnel& t);
    void accept_tunnels_back();
    void end_worker(RemoteWorker& w, std::string reason);
    std::string upload(const std::string& local); // blocking session
    [[nodiscard]] std::string error() const { return ssh_get_error(s_); }

    SshSpec spec_;
    std::shared_ptr<SshDeployCounters> counters_;
    std::map<std::string, std::string> staged_; // local path -> path on the host
    ssh_session s_ = nullptr;
    std::string where_; // "user@host:port" for messages
    std::string peer_address_;
    std::thread pump_;
    ssh_event event_ = nullptr; // reads the session's socket when no channel read would
    int wake_ = -1;
    std::atomic<bool> stopping_ { false };
    std::mutex tasks_m_;
    std::deque<std::function<void()>> tasks_;
    // Pump thread only, once it runs.
    std::vector<std::shared_ptr<RemoteWorker>> workers_;
    std::list<Tunnel> tunnels_;
    std::string tunnel_dir_;
    std::map<int, std::string> back_; // port on the host -> address here
    std::map<std::string, std::string> back_by_target_; // address here -> "tcp:127.0.0.1:port"
    std::list<Pipe> back_conns_;
};

// The engine library this process runs (what deployed workers need beside them).
std::string this_engine_library();

} // namespace weft::detail
