#pragma once
// The peers of one process and the connections to them: who is in the cluster (the master's
// joins, the workers' peer lists), lazy worker-to-worker connections under the topology's rules,
// and how a peer's end is learned and passed on. Owns its lock; connections' handlers run on the
// I/O thread, the rest on any thread.

#include "connection.h"
#include "event_loop.h"
#include "handshake.h"
#include "messages.h"
#include "weft/cluster.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace weft::detail {

struct MeshOptions {
    Cookie cookie;
    WireLimits limits;
    Topology topology = Topology::Lazy;
    std::string host = "127.0.0.1";
};

// What the mesh tells its process. All run on the I/O thread.
struct MeshEvents {
    // A frame from an authenticated peer.
    std::function<void(const std::shared_ptr<Connection>&, Pid from, InFrame&&)> frame;
    // `pid` is gone for `reason` (its connections are closing); after the mesh has noted it.
    std::function<void(Pid pid, const std::string& reason)> exited;
    // A worker's connection from the master is ready (its idle threads may poll it).
    std::function<void(const std::shared_ptr<Connection>&)> master_attached;
    // A worker lost its master: it should end.
    std::function<void(const std::string& why)> master_lost;
    std::function<void(const std::string& message)> log;
};

class Mesh final : public std::enable_shared_from_this<Mesh> {
public:
    Mesh(EventLoop& loop, const std::atomic<Pid>& self, MeshOptions options, MeshEvents events);
    Mesh(const Mesh&) = delete;
    Mesh& operator=(const Mesh&) = delete;

    // ---- sending ----
    // The connection this process sends to `pid` on, opened now (lazily) if allowed. Throws
    // UnknownProcessError, ProcessExitedException (with the exit reason) or ConnectionError.
    std::shared_ptr<Connection> connection_to(Pid pid);
    // The connection to `pid` if there is one (never connects, never throws).
    [[nodiscard]] std::shared_ptr<Connection> existing_connection(Pid pid) const;
    // Sends `f` to `pid` if connected; false if not.
    bool send(Pid pid, std::unique_ptr<OutFrame> f);
    // Sends a frame made by `make()` to every joined worker (master).
    void broadcast_to_workers(const std::function<std::unique_ptr<OutFrame>()>& make);

    // ---- membership ----
    [[nodiscard]] std::vector<Pid> workers() const; // Julia's workers(): {1} when there are none
    [[nodiscard]] std::vector<Pid> procs() const;
    [[nodiscard]] PeerTraffic traffic(Pid peer) const;
    // Traffic with every peer this process has a connection with (one pass, for the sampler).
    [[nodiscard]] std::map<Pid, PeerTraffic> traffic() const;
    // How `pid` ended, once known.
    [[nodiscard]] std::optional<std::string> exit_reason(Pid pid) const;
    [[nodiscard]] Topology topology() const;

    // ---- master side ----
    // A worker that is starting: its id is taken from now on.
    void add_starting_worker(Pid pid, const std::string& host);
    void set_peer_addresses(Pid pid, const std::string& tcp, const std::string& unix_address);
    // How `receiver` is to reach the worker `peer` announced as (its own addresses by default):
    // workers on other hosts may need another way, e.g. the master's tunnel. Called on the I/O
    // thread under the mesh's lock: it must not block or call back into the mesh.
    using Route = std::function<PeerAddress(Pid receiver, const PeerAddress& peer)>;
    void set_route(Route route);
    // Connects to a started worker, handshakes and makes it join: it learns its id, the
    // topology and every other worker, and they learn of it. `ready` gets "" or an error.
    // Loop thread.
    void connect_worker(Pid pid, const std::string& address,
        std::function<void(const std::string& error)> ready, std::uint32_t telemetry_ms);

    // ---- worker side ----
    // The master's Join: our peers and the topology (connects eagerly for all_to_all).
    void join(wire::Join::Reader j);
    void peer_added(const PeerAddress& p);

    // ---- both ----
    // A connection that passed the handshake as acceptor (the listener's).
    void adopt(Pid peer, const std::shared_ptr<Connection>& conn);
    // `pid` has exited for `reason` (authoritative: the OS said so, or the master did). The
    // master tells every other worker.
    void peer_exited(Pid pid, const std::string& reason);
    // Every live connection (to close them at shutdown).
    [[nodiscard]] std::vector<std::shared_ptr<Connection>> all_connections() const;
    void clear();

private:
    struct Peer {
        std::string host;
        std::string tcp_address;
        std::string unix_address;
        std::shared_ptr<Connection> out; // the one connection this process sends to the peer on
        std::vector<std::shared_ptr<Connection>> all; // every live connection with the peer
        bool joined = false; // master side: the worker completed its join
        bool exited = false;
        std::string exit_reason;
    };
    Pid self() const { return self_.load(std::memory_order_acquire); }
    std::shared_ptr<Connection> connect_locked(Pid pid, Peer& p); // m_ held
    void start_peer_connection(Pid pid, const std::shared_ptr<Connection>& conn);
    void attach(Pid peer, const std::shared_ptr<Connection>& conn);
    void on_closed(const std::shared_ptr<Connection>& conn, Pid peer, const std::string& reason);
    void start_connection(const std::shared_ptr<Connection>& conn, Pid pid,
        std::function<void(const std::string& reason)> closed);

    EventLoop& loop_;
    Route route_;
    const std::atomic<Pid>& self_;
    MeshOptions opts_;
    const MeshEvents events_;
    mutable std::mutex m_;
    std::map<Pid, Peer> peers_;
};

} // namespace weft::detail
