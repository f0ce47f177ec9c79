#include "mesh.h"

#include "error_capture.h"
#include "socket.h"
#include "weft/errors.h"

#include <algorithm>

namespace weft::detail {

Mesh::Mesh(EventLoop& loop, const std::atomic<Pid>& self, MeshOptions options, MeshEvents events)
    : loop_(loop)
    , self_(self)
    , opts_(std::move(options))
    , events_(std::move(events))
{
}

// ---- sending ------------------------------------------------------------------------------

std::shared_ptr<Connection> Mesh::connection_to(Pid pid)
{
    std::lock_guard g(m_);
    auto it = peers_.find(pid);
    if (it == peers_.end())
        throw UnknownProcessError(pid);
    Peer& p = it->second;
    if (p.exited)
        throw ProcessExitedException(pid, p.exit_reason);
    if (p.out)
        return p.out;
    return connect_locked(pid, p);
}

std::shared_ptr<Connection> Mesh::connect_locked(Pid pid, Peer& p)
{
    if (self() == 1)
        throw ConnectionError(
            p.joined ? "lost the connection to " + who(pid) : who(pid) + " is still starting");
    if (opts_.topology == Topology::MasterWorker && pid != 1)
        throw ConnectionError("the master_worker topology forbids worker-to-worker connections ("
            + who(self()) + " -> " + who(pid) + ")");
    const bool same_host = p.host == opts_.host && !p.unix_address.empty();
    const std::string address = same_host ? p.unix_address : p.tcp_address;
    if (address.empty() && p.host.rfind("unreachable:", 0) == 0)
        throw ConnectionError(who(pid) + " (on " + p.host.substr(12) + ") cannot be reached from "
            + who(self())
            + ": workers on different hosts reach each other only with the direct "
              "route (workers behind the master's SSH tunnels are reached through "
              "the master, and from its host)");
    if (address.empty())
        throw ConnectionError("no address known for " + who(pid));
    int fd = connect_socket(address);
    auto conn = std::make_shared<Connection>(loop_, fd, who(pid) + " at " + address, opts_.limits);
    p.out = conn;
    p.all.push_back(conn);
    loop_.post([self = shared_from_this(), pid, conn] { self->start_peer_connection(pid, conn); });
    return conn;
}

std::shared_ptr<Connection> Mesh::existing_connection(Pid pid) const
{
    std::lock_guard g(m_);
    auto it = peers_.find(pid);
    return it == peers_.end() ? nullptr : it->second.out;
}

bool Mesh::send(Pid pid, std::unique_ptr<OutFrame> f)
{
    auto c = existing_connection(pid);
    return c && c->send(std::move(f));
}

void Mesh::broadcast_to_workers(const std::function<std::unique_ptr<OutFrame>()>& make)
{
    std::vector<std::shared_ptr<Connection>> conns;
    {
        std::lock_guard g(m_);
        for (auto& [pid, p] : peers_)
            if (pid != 1 && p.joined && !p.exited && p.out)
                conns.push_back(p.out);
    }
    for (auto& c : conns)
        c->send(make());
}

// ---- membership ---------------------------------------------------------------------------

std::vector<Pid> Mesh::workers() const
{
    const Pid me = self();
    std::vector<Pid> out;
    {
        std::lock_guard g(m_);
        for (auto& [pid, p] : peers_)
            if (pid != 1 && !p.exited && (p.out || me != 1))
                out.push_back(pid);
    }
    if (me != 1 && me != 0)
        out.push_back(me);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    if (out.empty())
        out.push_back(1);
    return out;
}

std::vector<Pid> Mesh::procs() const
{
    auto w = workers();
    if (w.size() == 1 && w[0] == 1)
        return w;
    w.insert(w.begin(), 1);
    return w;
}

namespace {
PeerTraffic sum_traffic(const std::vector<std::shared_ptr<Connection>>& conns)
{
    PeerTraffic t;
    for (auto& c : conns) {
        auto s = c->stats();
        t.messages_sent += s.frames_sent;
        t.bytes_sent += s.bytes_sent;
        t.messages_received += s.frames_received;
        t.bytes_received += s.bytes_received;
    }
    return t;
}
} // namespace

PeerTraffic Mesh::traffic(Pid peer) const
{
    std::lock_guard g(m_);
    auto it = peers_.find(peer);
    return it == peers_.end() ? PeerTraffic {} : sum_traffic(it->second.all);
}

std::map<Pid, PeerTraffic> Mesh::traffic() const
{
    std::map<Pid, PeerTraffic> out;
    std::lock_guard g(m_);
    for (const auto& [pid, p] : peers_)
        if (!p.all.empty() || p.out)
            out.emplace_hint(out.end(), pid, sum_traffic(p.all));
    return out;
}

std::optional<std::string> Mesh::exit_reason(Pid pid) const
{
    std::lock_guard g(m_);
    auto it = peers_.find(pid);
    if (it == peers_.end() || !it->second.exited)
        return std::nullopt;
    return it->second.exit_reason;
}

Topology Mesh::topology() const
{
    std::lock_guard g(m_);
    return opts_.topology;
}

// ---- connections --------------------------------------------------------------------------

void Mesh::start_connection(const std::shared_ptr<Connection>& conn, Pid pid,
    std::function<void(const std::string& reason)> closed)
{
    auto self = shared_from_this();
    conn->start(
        true, [](InFrame&&) {}, std::move(closed),
        [self, pid](const std::string& e) {
            self->events_.log("frame from " + who(pid) + " rejected: " + e);
        });
}

void Mesh::start_peer_connection(Pid pid, const std::shared_ptr<Connection>& conn)
{
    auto self = shared_from_this();
    start_connection(conn, pid,
        [self, conn, pid](const std::string& reason) { self->on_closed(conn, pid, reason); });
    handshake_as_connector(conn, opts_.cookie, this->self(), [self, conn, pid](HandshakeResult r) {
        if (!r.ok) {
            self->events_.log("cannot connect to " + who(pid) + ": " + r.error);
            return; // the close handler fails what waited on it
        }
        self->attach(pid, conn);
    });
}

void Mesh::attach(Pid peer, const std::shared_ptr<Connection>& conn)
{
    if (peer == 1 && self() != 1)
        events_.master_attached(conn);
    std::weak_ptr<Connection> weak = conn;
    conn->set_frame_handler([self = shared_from_this(), weak, peer](InFrame&& f) {
        if (auto c = weak.lock())
            self->events_.frame(c, peer, std::move(f));
    });
    conn->open_gate();
}

void Mesh::adopt(Pid peer, const std::shared_ptr<Connection>& conn)
{
    {
        std::lock_guard g(m_);
        auto& p = peers_[peer];
        if (p.exited) {
            conn->close("peer already exited");
            return;
        }
        p.all.push_back(conn);
        if (!p.out)
            p.out = conn;
    }
    // The close handler lives in the connection: holding it by pointer (it runs only while the
    // connection exists) keeps the connection from owning itself.
    conn->set_close_handler(
        [self = shared_from_this(), raw = conn.get(), peer](
            const std::string& reason) { self->on_closed(raw->shared_from_this(), peer, reason); });
    attach(peer, conn);
}

void Mesh::on_closed(const std::shared_ptr<Connection>& conn, Pid peer, const std::string& reason)
{
    bool was_out = false;
    {
        std::lock_guard g(m_);
        auto it = peers_.find(peer);
        if (it != peers_.end()) {
            auto& all = it->second.all;
            all.erase(std::remove(all.begin(), all.end(), conn), all.end());
            // The closed connection stays the peer's until we know how the peer ended: calls
            // made meanwhile stay pending and fail with the exact exit reason.
            was_out = it->second.out == conn;
        }
    }
    if (self() != 1 && peer == 1) {
        events_.master_lost("lost the connection to the master: " + reason);
        return;
    }
    if (!was_out)
        return;
    // The peer has most likely died: the OS (on the master) or the master (on a worker) says how
    // within milliseconds. If nobody does, give up on it with what we know.
    auto self = shared_from_this();
    loop_.add_task(loop_.timer().afterDelay(1 * kj::SECONDS).then([self, peer, reason] {
        if (!self->exit_reason(peer))
            self->peer_exited(peer, "connection lost: " + reason);
    }));
}

void Mesh::peer_exited(Pid pid, const std::string& reason)
{
    std::vector<std::shared_ptr<Connection>> conns, notify;
    {
        std::lock_guard g(m_);
        auto& p = peers_[pid];
        if (p.exited)
            return;
        p.exited = true;
        p.exit_reason = reason;
        conns = p.all;
        p.out.reset();
        if (self() == 1)
            for (auto& [other, ps] : peers_)
                if (other != pid && !ps.exited && ps.out)
                    notify.push_back(ps.out);
    }
    events_.exited(pid, reason);
    for (auto& c : conns)
        c->close(who(pid) + " exited");
    for (auto& c : notify)
        c->send(msg::peer_exited(pid, reason));
}

std::vector<std::shared_ptr<Connection>> Mesh::all_connections() const
{
    std::vector<std::shared_ptr<Connection>> out;
    std::lock_guard g(m_);
    for (auto& [pid, p] : peers_)
        out.insert(out.end(), p.all.begin(), p.all.end());
    return out;
}

void Mesh::clear()
{
    std::lock_guard g(m_);
    peers_.clear();
}

// ---- master side --------------------------------------------------------------------------

void Mesh::add_starting_worker(Pid pid, const std::string& host)
{
    std::lock_guard g(m_);
    peers_[pid].host = host;
}

void Mesh::set_peer_addresses(Pid pid, const std::string& tcp, const std::string& unix_address)
{
    std::lock_guard g(m_);
    auto& p = peers_[pid];
    p.tcp_address = tcp;
    p.unix_address = unix_address;
}

void Mesh::connect_worker(Pid pid, const std::string& address,
    std::function<void(const std::string&)> ready, std::uint32_t telemetry_ms)
{
    int fd;
    try {
        fd = connect_socket(address);
    } catch (const std::exception& e) {
        ready(e.what());
        return;
    }
    auto conn = std::make_shared<Connection>(loop_, fd, who(pid) + " at " + address, opts_.limits);
    auto self = shared_from_this();
    auto ready_once = std::make_shared<std::function<void(const std::string&)>>(std::move(ready));
    start_connection(conn, pid, [self, conn, pid, ready_once](const std::string& reason) {
        if (auto r = std::exchange(*ready_once, nullptr))
            r("connection to " + who(pid) + " failed: " + reason);
        self->on_closed(conn, pid, reason);
    });
    handshake_as_connector(
        conn, opts_.cookie, 1, [self, conn, pid, ready_once, telemetry_ms](HandshakeResult r) {
            if (!r.ok) {
                if (auto cb = std::exchange(*ready_once, nullptr))
                    cb("handshake with " + who(pid) + " failed: " + r.error);
                return;
            }
            std::vector<PeerAddress> others;
            std::vector<std::shared_ptr<Connection>> others_conns;
            std::vector<PeerAddress> me_for_others; // as each of the others is to reach it
            Topology topology;
            {
                std::lock_guard g(self->m_);
                auto& p = self->peers_[pid];
                p.all.push_back(conn);
                p.joined = true;
                const PeerAddress me { pid, p.host, p.tcp_address, p.unix_address };
                const auto route = [&](Pid receiver, PeerAddress a) {
                    return self->route_ ? self->route_(receiver, a) : a;
                };
                for (auto& [other, st] : self->peers_)
                    if (other != pid && other != 1 && !st.exited && st.out) {
                        others.push_back(
                            route(pid, { other, st.host, st.tcp_address, st.unix_address }));
                        others_conns.push_back(st.out);
                        me_for_others.push_back(route(other, me));
                    }
                p.out = conn;
                topology = self->opts_.topology;
            }
            self->attach(pid, conn);
            conn->send(msg::join(pid, telemetry_ms, topology, others));
            // Tell the others about the newcomer.
            for (std::size_t i = 0; i < others_conns.size(); ++i)
                others_conns[i]->send(msg::peer_added(me_for_others[i]));
            if (auto cb = std::exchange(*ready_once, nullptr))
                cb("");
        });
}

// ---- worker side --------------------------------------------------------------------------

void Mesh::join(wire::Join::Reader j)
{
    std::lock_guard g(m_);
    std::vector<Pid> eager;
    for (auto p : j.getPeers()) {
        const auto a = msg::read_peer(p);
        auto& ps = peers_[a.pid];
        ps.host = a.host;
        ps.tcp_address = a.tcp;
        ps.unix_address = a.unix_address;
        eager.push_back(a.pid);
    }
    opts_.topology = msg::read_topology(j.getTopology());
    if (opts_.topology == Topology::AllToAll)
        for (Pid p : eager)
            try {
                auto& ps = peers_[p];
                if (!ps.out && !ps.exited)
                    connect_locked(p, ps);
            } catch (const Error& e) {
                events_.log(std::string("all_to_all: ") + e.what());
            }
}

void Mesh::set_route(Route route)
{
    std::lock_guard g(m_);
    route_ = std::move(route);
}

void Mesh::peer_added(const PeerAddress& a)
{
    std::lock_guard g(m_);
    auto& ps = peers_[a.pid];
    ps.host = a.host;
    ps.tcp_address = a.tcp;
    ps.unix_address = a.unix_address;
}

} // namespace weft::detail
