#pragma once
// One builder per message of weft.capnp (and a reader where a message carries more than one
// field to read): every frame the runtime sends is made here, sized for its common case. Any
// thread; pure functions.

#include "codec.h"
#include "framing.h"
#include "weft/cluster.h"
#include "weft/value.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weft::detail {

enum class CallKind : std::uint8_t { Async, Fetch, Wait, Do };

// A peer as the master describes it to the others.
struct PeerAddress {
    Pid pid = 0;
    std::string host;
    std::string tcp;
    std::string unix_address;
};

struct HolderChange {
    RefId id;
    Pid holder = 0;
};

namespace msg {

// A call of `kernel` with `args`; `ref` names where an async or wait call stores its result (the
// others carry none).
std::unique_ptr<OutFrame> call(CallKind kind, std::uint64_t id, const RefId& ref,
    std::string_view kernel, const List& args, Pool pool, RefWriter* refs);
// The answer to call (or request) `id`.
std::unique_ptr<OutFrame> result(std::uint64_t id, const Value& v, RefWriter* refs);
// Many answers in one frame: ids[i] is answered by *values[i].
std::unique_ptr<OutFrame> results(
    std::span<const std::uint64_t> ids, std::span<const Value* const> values, RefWriter* refs);
std::unique_ptr<OutFrame> fetch_ref(
    std::uint64_t id, const RefId& ref, wire::FetchMode mode, bool release);
// FetchRefs (mode value, releasing) for ids first, first + 1, ... of `refs`.
std::unique_ptr<OutFrame> fetch_many(std::uint64_t first_id, std::span<const RefId> refs);
std::unique_ptr<OutFrame> ref_ops(std::span<const std::pair<RefId, Pid>> ops, bool add);
std::unique_ptr<OutFrame> channel_op(std::uint64_t id, const RefId& ref, wire::ChannelOpKind op,
    const Value& v, std::uint64_t capacity, RefWriter* refs);
std::unique_ptr<OutFrame> join(
    Pid pid, std::uint32_t telemetry_ms, Topology topology, std::span<const PeerAddress> peers);
std::unique_ptr<OutFrame> peer_added(const PeerAddress& p);
std::unique_ptr<OutFrame> peer_exited(Pid pid, const std::string& reason);
std::unique_ptr<OutFrame> exit();
std::unique_ptr<OutFrame> interrupt();
std::unique_ptr<OutFrame> ping(std::uint64_t id);
std::unique_ptr<OutFrame> pong(std::uint64_t id);
std::unique_ptr<OutFrame> clock_probe(std::uint64_t id);
std::unique_ptr<OutFrame> clock_reading(std::uint64_t id, std::int64_t clock_ns);
std::unique_ptr<OutFrame> telemetry_interval(std::uint32_t ms);

// Readers.
PeerAddress read_peer(wire::Peer::Reader p);
Topology read_topology(wire::Topology t);
// The pool a call asks for; throws std::invalid_argument for one this version does not know.
Pool read_pool(wire::Pool p);
// The call's kind; throws std::invalid_argument for one this version does not know.
CallKind read_call_kind(wire::CallKind k);

} // namespace msg
} // namespace weft::detail
