#include "weft/remote_channel.h"

#include "channel_server.h"
#include "future_state.h"
#include "process_access.h"
#include "process_runtime.h"

namespace weft {

using detail::ProcessAccess;

namespace {
// The handle of type H (FutureState or ChannelHandle) for `r` in process `p`: the hold the
// reference carries if it has one (made here, or received in a message), else a new hold.
template <class H> std::shared_ptr<H> handle_for(Process& p, const RemoteRef& r)
{
    if (auto h = std::dynamic_pointer_cast<H>(r.hold))
        return h;
    auto& rt = ProcessAccess::runtime(p);
    rt.refs().add_hold(r, rt.myid());
    return std::make_shared<H>(rt.weak_from_this(), r);
}
} // namespace

RemoteChannel RemoteChannel::create(Process& p, std::size_t capacity, Pid owner)
{
    auto& rt = ProcessAccess::runtime(p);
    const RemoteRef r = rt.channels().create(capacity, owner); // the creator holds it
    return RemoteChannel(std::make_shared<detail::ChannelHandle>(rt.weak_from_this(), r));
}

RemoteChannel RemoteChannel::attach(Process& p, const RemoteRef& ref)
{
    if (ref.kind != RefKind::Channel)
        throw std::invalid_argument("not a RemoteChannel reference");
    return RemoteChannel(handle_for<detail::ChannelHandle>(p, ref));
}

void RemoteChannel::put(Value v)
{
    ProcessAccess::handle(*this).op(wire::ChannelOpKind::PUT, std::move(v));
}
Value RemoteChannel::take()
{
    return ProcessAccess::handle(*this).op(wire::ChannelOpKind::TAKE);
}
std::optional<Value> RemoteChannel::take_or_closed()
{
    try {
        return take();
    } catch (const InvalidStateException&) {
        return std::nullopt;
    }
}
Value RemoteChannel::fetch()
{
    return ProcessAccess::handle(*this).op(wire::ChannelOpKind::FETCH);
}
bool RemoteChannel::isready()
{
    return ProcessAccess::handle(*this).op(wire::ChannelOpKind::ISREADY).as_bool();
}
void RemoteChannel::wait()
{
    ProcessAccess::handle(*this).op(wire::ChannelOpKind::WAIT);
}
void RemoteChannel::close()
{
    ProcessAccess::handle(*this).op(wire::ChannelOpKind::CLOSE);
}
RemoteRef RemoteChannel::ref() const
{
    RemoteRef r = ProcessAccess::handle(*this).address();
    r.hold = s_; // a reference made from the handle holds the channel like the handle does
    return r;
}

RemoteChannel ConvertInContext<RemoteChannel>::from(Context& ctx, const Value& v)
{
    return RemoteChannel::attach(ctx.process(), v.as_ref());
}

Future Future::attach(Process& p, const RemoteRef& r)
{
    if (r.kind != RefKind::Future)
        throw std::invalid_argument("expected a Future, got a RemoteChannel");
    return Future(handle_for<detail::FutureState>(p, r));
}

Future ConvertInContext<Future>::from(Context& ctx, const Value& v)
{
    if (v.kind() == Value::Kind::Ref)
        return Future::attach(ctx.process(), v.as_ref());
    // A value sent in place of an already-fetched Future: a Future that is ready here.
    auto& rt = ProcessAccess::runtime(ctx.process());
    return ProcessAccess::future(detail::FutureState::ready(rt.weak_from_this(), rt.myid(), v));
}

} // namespace weft
