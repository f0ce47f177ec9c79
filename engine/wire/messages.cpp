#include "messages.h"

#include <stdexcept>

namespace weft::detail::msg {

namespace {
std::unique_ptr<OutFrame> finished(std::unique_ptr<OutFrame> f)
{
    f->finish();
    return f;
}

wire::Topology to_wire(Topology t)
{
    switch (t) {
    case Topology::AllToAll:
        return wire::Topology::ALL_TO_ALL;
    case Topology::MasterWorker:
        return wire::Topology::MASTER_WORKER;
    case Topology::Lazy:
        break;
    }
    return wire::Topology::LAZY;
}

void write_peer(const PeerAddress& p, wire::Peer::Builder out)
{
    out.setPid(p.pid);
    out.setHost(p.host);
    out.setTcp(p.tcp);
    out.setUnix(p.unix_address);
}
} // namespace

std::unique_ptr<OutFrame> call(CallKind kind, std::uint64_t id, const RefId& ref,
    std::string_view kernel, const List& args, Pool pool, RefWriter* refs)
{
    // A first segment sized for the common call (a short name, a few small arguments): capnp
    // zeroes it, so a generous default costs more than the message.
    auto f = std::make_unique<OutFrame>(
        static_cast<unsigned>(24 + kernel.size() / 8 + 8 * args.size()));
    auto c = f->root().initCall();
    c.setKind(static_cast<wire::CallKind>(kind));
    c.setCallId(id);
    if (kind == CallKind::Async || kind == CallKind::Wait) // where the result is stored
        encode_ref_id(ref, c.initRef());
    c.setKernel(capnp::Text::Reader(kernel.data(), kernel.size()));
    c.setPool(pool == Pool::Interactive ? wire::Pool::INTERACTIVE : wire::Pool::DEFAULT);
    auto wargs = c.initArgs(static_cast<unsigned>(args.size()));
    for (unsigned i = 0; i < args.size(); ++i)
        encode_value(args[i], wargs[i], *f, refs);
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> result(std::uint64_t id, const Value& v, RefWriter* refs)
{
    auto f = std::make_unique<OutFrame>(64);
    auto r = f->root().initResult();
    r.setCallId(id);
    encode_value(v, r.initValue(), *f, refs);
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> results(
    std::span<const std::uint64_t> ids, std::span<const Value* const> values, RefWriter* refs)
{
    auto f = std::make_unique<OutFrame>(static_cast<unsigned>(8 + ids.size() * 8));
    auto list = f->root().initResults(static_cast<unsigned>(ids.size()));
    for (unsigned i = 0; i < ids.size(); ++i) {
        auto item = list[i];
        item.setCallId(ids[i]);
        encode_value(*values[i], item.initValue(), *f, refs);
    }
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> fetch_ref(
    std::uint64_t id, const RefId& ref, wire::FetchMode mode, bool release)
{
    auto f = std::make_unique<OutFrame>(16);
    auto req = f->root().initFetchRef();
    req.setCallId(id);
    encode_ref_id(ref, req.initRef());
    req.setMode(mode);
    req.setRelease(release);
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> fetch_many(std::uint64_t first_id, std::span<const RefId> refs)
{
    auto f = std::make_unique<OutFrame>(static_cast<unsigned>(8 + refs.size() * 6));
    auto list = f->root().initFetchMany().initItems(static_cast<unsigned>(refs.size()));
    for (unsigned i = 0; i < refs.size(); ++i) {
        auto r = list[i];
        r.setCallId(first_id + i);
        encode_ref_id(refs[i], r.initRef());
        r.setMode(wire::FetchMode::VALUE);
        r.setRelease(true); // the fetcher's hold goes once it has the value
    }
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> ref_ops(std::span<const std::pair<RefId, Pid>> ops, bool add)
{
    auto f = std::make_unique<OutFrame>(static_cast<unsigned>(16 + 4 * ops.size()));
    auto refs = f->root().initRefOps();
    const auto n = static_cast<unsigned>(ops.size());
    auto list = add ? refs.initAdds(n) : refs.initRemoves(n);
    for (unsigned i = 0; i < n; ++i) {
        encode_ref_id(ops[i].first, list[i].initId());
        list[i].setHolder(ops[i].second);
    }
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> channel_op(std::uint64_t id, const RefId& ref, wire::ChannelOpKind op,
    const Value& v, std::uint64_t capacity, RefWriter* refs)
{
    auto f = std::make_unique<OutFrame>(32);
    auto w = f->root().initChannelOp();
    w.setCallId(id);
    encode_ref_id(ref, w.initRef());
    w.setOp(op);
    if (op == wire::ChannelOpKind::CREATE)
        w.setCapacity(capacity);
    else
        encode_value(v, w.initValue(), *f, refs);
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> join(
    Pid pid, std::uint32_t telemetry_ms, Topology topology, std::span<const PeerAddress> peers)
{
    auto f = std::make_unique<OutFrame>(256);
    auto j = f->root().initJoin();
    j.setPid(pid);
    j.setTelemetryMs(telemetry_ms);
    j.setTopology(to_wire(topology));
    auto list = j.initPeers(static_cast<unsigned>(peers.size()));
    for (unsigned i = 0; i < peers.size(); ++i)
        write_peer(peers[i], list[i]);
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> peer_added(const PeerAddress& p)
{
    auto f = std::make_unique<OutFrame>(64);
    write_peer(p, f->root().initPeerAdded());
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> peer_exited(Pid pid, const std::string& reason)
{
    auto f = std::make_unique<OutFrame>(32);
    auto pe = f->root().initPeerExited();
    pe.setPid(pid);
    pe.setReason(reason);
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> exit()
{
    auto f = std::make_unique<OutFrame>(8);
    f->root().setExit();
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> interrupt()
{
    auto f = std::make_unique<OutFrame>(8);
    f->root().setInterrupt();
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> ping(std::uint64_t id)
{
    auto f = std::make_unique<OutFrame>(8);
    f->root().setPing(id);
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> pong(std::uint64_t id)
{
    auto f = std::make_unique<OutFrame>(8);
    f->root().setPong(id);
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> clock_probe(std::uint64_t id)
{
    auto f = std::make_unique<OutFrame>(8);
    f->root().setClockProbe(id);
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> clock_reading(std::uint64_t id, std::int64_t clock_ns)
{
    auto f = std::make_unique<OutFrame>(8);
    auto r = f->root().initClockReading();
    r.setId(id);
    r.setClockNs(clock_ns);
    return finished(std::move(f));
}

std::unique_ptr<OutFrame> telemetry_interval(std::uint32_t ms)
{
    auto f = std::make_unique<OutFrame>(8);
    f->root().setTelemetryInterval(ms);
    return finished(std::move(f));
}

PeerAddress read_peer(wire::Peer::Reader p)
{
    return { p.getPid(), p.getHost(), p.getTcp(), p.getUnix() };
}

Topology read_topology(wire::Topology t)
{
    switch (t) {
    case wire::Topology::ALL_TO_ALL:
        return Topology::AllToAll;
    case wire::Topology::MASTER_WORKER:
        return Topology::MasterWorker;
    case wire::Topology::LAZY:
        break;
    }
    return Topology::Lazy;
}

Pool read_pool(wire::Pool p)
{
    switch (p) {
    case wire::Pool::DEFAULT:
        return Pool::Default;
    case wire::Pool::INTERACTIVE:
        return Pool::Interactive;
    }
    throw std::invalid_argument("unknown pool " + std::to_string(static_cast<unsigned>(p)));
}

CallKind read_call_kind(wire::CallKind k)
{
    if (static_cast<unsigned>(k) > static_cast<unsigned>(CallKind::Do))
        throw std::invalid_argument(
            "unknown call kind " + std::to_string(static_cast<unsigned>(k)));
    return static_cast<CallKind>(k);
}

} // namespace weft::detail::msg
