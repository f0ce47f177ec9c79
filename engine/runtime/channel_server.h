#pragma once
// RemoteChannels: a process's hold on one (ChannelHandle, shared by every handle and reference
// to it here), the operations a holder asks of the owner, and the owner carrying them out on
// the Channel in its store. An operation that cannot complete at once (a take from an empty
// channel, a put into a full one) waits as a task, never on the I/O thread. Any thread.

#include "connection.h"
#include "weft.capnp.h"
#include "weft/channel.h"
#include "weft/value.h"

#include <memory>

namespace weft::detail {

class ProcessRuntime;

class ChannelHandle final : public RefHold {
public:
    ChannelHandle(std::weak_ptr<ProcessRuntime> rt, RemoteRef ref);
    ~ChannelHandle() override; // releases this process's hold
    ChannelHandle(const ChannelHandle&) = delete;
    ChannelHandle& operator=(const ChannelHandle&) = delete;

    // The process that made the handle; throws InvalidStateException once it has shut down.
    [[nodiscard]] std::shared_ptr<ProcessRuntime> runtime() const;
    [[nodiscard]] const RemoteRef& address() const { return ref_; }
    // Carries out `op` on the owner; blocks (or suspends) like the local operation.
    Value op(wire::ChannelOpKind op, Value v = {}) const;

private:
    const std::weak_ptr<ProcessRuntime> rt_;
    const RemoteRef ref_; // without a hold
};

class ChannelServer final {
public:
    explicit ChannelServer(ProcessRuntime& rt)
        : rt_(rt)
    {
    }
    // RemoteChannel(() -> Channel(capacity), owner): made on `owner` (0: here), held by us.
    RemoteRef create(std::size_t capacity, Pid owner);
    // Carries out `op` on channel `r`'s owner (here, or by asking it).
    Value op(const RemoteRef& r, wire::ChannelOpKind op, Value v);
    // Owner side: a ChannelOp from `from`. I/O thread.
    void handle(const std::shared_ptr<Connection>& conn, Pid from, wire::ChannelOp::Reader r,
        const std::shared_ptr<const void>& frame_owner);

private:
    static Value run(const std::shared_ptr<Channel<Value>>& ch, wire::ChannelOpKind op, Value v);
    ProcessRuntime& rt_;
};

} // namespace weft::detail
