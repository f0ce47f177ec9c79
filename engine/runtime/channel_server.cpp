#include "channel_server.h"

#include "error_capture.h"
#include "holding_refs.h"
#include "messages.h"
#include "process_runtime.h"
#include "weft/errors.h"

namespace weft::detail {

namespace {
std::string describe(const RefId& id)
{
    return "RemoteChannel (" + std::to_string(id.whence) + ", " + std::to_string(id.n) + ")";
}
} // namespace

ChannelHandle::ChannelHandle(std::weak_ptr<ProcessRuntime> rt, RemoteRef ref)
    : rt_(std::move(rt))
    , ref_(without_hold(std::move(ref)))
{
}

ChannelHandle::~ChannelHandle()
{
    if (auto rt = rt_.lock())
        rt->refs().release_hold(ref_, rt->myid());
}

std::shared_ptr<ProcessRuntime> ChannelHandle::runtime() const
{
    auto rt = rt_.lock();
    if (!rt)
        throw InvalidStateException(
            "the process that made this RemoteChannel handle has shut down");
    return rt;
}

Value ChannelHandle::op(wire::ChannelOpKind op, Value v) const
{
    return runtime()->channels().op(ref_, op, std::move(v));
}

RemoteRef ChannelServer::create(std::size_t capacity, Pid owner)
{
    if (owner == 0)
        owner = rt_.myid();
    const RemoteRef r { RefKind::Channel, rt_.new_ref_id(), owner };
    if (owner == rt_.myid()) {
        rt_.refs().make_channel(r.id, capacity, rt_.myid());
        return r;
    }
    auto done = rt_.request(owner, [&](std::uint64_t id) {
        return msg::channel_op(id, r.id, wire::ChannelOpKind::CREATE, {}, capacity, nullptr);
    });
    rt_.await_reply(*done, owner);
    value_or_throw(done->wait());
    return r;
}

Value ChannelServer::run(const std::shared_ptr<Channel<Value>>& ch, wire::ChannelOpKind op, Value v)
{
    switch (op) {
    case wire::ChannelOpKind::PUT:
        ch->put(std::move(v));
        return {};
    case wire::ChannelOpKind::TAKE:
        return ch->take();
    case wire::ChannelOpKind::FETCH:
        return ch->fetch();
    case wire::ChannelOpKind::WAIT:
        ch->wait();
        return {};
    case wire::ChannelOpKind::ISREADY:
        return ch->isready();
    case wire::ChannelOpKind::CLOSE:
        ch->close();
        return {};
    case wire::ChannelOpKind::CREATE:
        break;
    }
    throw std::invalid_argument("unknown channel operation");
}

Value ChannelServer::op(const RemoteRef& r, wire::ChannelOpKind op, Value v)
{
    if (r.owner == rt_.myid()) {
        auto ch = rt_.refs().channel(r.id);
        if (!ch)
            throw InvalidStateException(
                "this RemoteChannel no longer exists on " + who(rt_.myid()));
        return run(ch, op, std::move(v));
    }
    auto done = rt_.request(r.owner,
        [&](std::uint64_t id) { return msg::channel_op(id, r.id, op, v, 0, &rt_.holding_refs()); });
    rt_.await_reply(*done, r.owner);
    return value_or_throw(done->wait());
}

void ChannelServer::handle(const std::shared_ptr<Connection>& conn, Pid from,
    wire::ChannelOp::Reader r, const std::shared_ptr<const void>& frame_owner)
{
    const std::uint64_t id = r.getCallId();
    const RefId ref = decode_ref_id(r.getRef());
    const auto op = r.getOp();
    if (op == wire::ChannelOpKind::CREATE) {
        rt_.refs().make_channel(ref, r.getCapacity(), from);
        rt_.answer(*conn, from, id, Value());
        return;
    }
    auto ch = rt_.refs().channel(ref);
    if (!ch) {
        rt_.answer(*conn, from, id,
            make_error(rt_.myid(), "InvalidStateException",
                describe(ref) + " no longer exists on " + who(rt_.myid()),
                ErrorKind::InvalidState));
        return;
    }
    if (op == wire::ChannelOpKind::ISREADY || op == wire::ChannelOpKind::CLOSE) {
        rt_.answer(*conn, from, id, run(ch, op, {}));
        return;
    }
    // A put's value may wait in the channel long after this frame: its arrays keep the bytes.
    Value v = decode_value(r.getValue(), frame_owner, &rt_.holding_refs());
    // What can complete at once is answered here, on the I/O thread.
    try {
        if (op == wire::ChannelOpKind::PUT && ch->try_put(v)) {
            rt_.answer(*conn, from, id, Value());
            return;
        }
        if (op == wire::ChannelOpKind::TAKE)
            if (auto got = ch->try_take()) {
                rt_.answer(*conn, from, id, *got);
                return;
            }
    } catch (const InvalidStateException& e) {
        rt_.answer(*conn, from, id,
            make_error(rt_.myid(), "InvalidStateException", e.what(), ErrorKind::InvalidState));
        return;
    }
    // The rest may wait: as a task, on the interactive pool when there is one.
    auto& sched = rt_.scheduler();
    auto& pool = sched.pool(sched.has_pool(Pool::Interactive) ? Pool::Interactive : Pool::Default);
    pool.spawn([self = rt_.shared_from_this(), conn, from, id, ch, op, v = std::move(v)]() mutable {
        Value result;
        try {
            result = run(ch, op, std::move(v));
        } catch (const std::exception&) {
            result = capture_current_exception(self->myid());
        }
        self->answer(*conn, from, id, result);
    });
}

} // namespace weft::detail
