#include "weft/remote_channel.h"

#include "process_runtime.h"

namespace weft {

RemoteChannel RemoteChannel::create(Process& p, std::size_t capacity, Pid owner)
{
    auto& rt = p.runtime_impl();
    const RemoteRef r = rt.create_channel(capacity, owner); // the creator holds it
    return RemoteChannel(std::make_shared<detail::ChannelHandle>(rt.weak_from_this(), r));
}

RemoteChannel RemoteChannel::attach(Process& p, const RemoteRef& ref)
{
    if (ref.kind != RefKind::Channel)
        throw std::invalid_argument("not a RemoteChannel reference");
    return RemoteChannel(detail::handle_for<detail::ChannelHandle>(p.runtime_impl(), ref));
}

namespace {
Value op(const std::shared_ptr<detail::ChannelHandle>& s, wire::ChannelOpKind k, Value v = {})
{
    if (!s)
        throw InvalidStateException("empty RemoteChannel");
    return s->runtime()->channel_op(s->ref(), k, std::move(v));
}
} // namespace

void RemoteChannel::put(Value v)
{
    op(s_, wire::ChannelOpKind::PUT, std::move(v));
}
Value RemoteChannel::take()
{
    return op(s_, wire::ChannelOpKind::TAKE);
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
    return op(s_, wire::ChannelOpKind::FETCH);
}
bool RemoteChannel::isready()
{
    return op(s_, wire::ChannelOpKind::ISREADY).as_bool();
}
void RemoteChannel::wait()
{
    op(s_, wire::ChannelOpKind::WAIT);
}
void RemoteChannel::close()
{
    op(s_, wire::ChannelOpKind::CLOSE);
}
RemoteRef RemoteChannel::ref() const
{
    if (!s_)
        throw InvalidStateException("empty RemoteChannel");
    RemoteRef r = s_->ref();
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
    return Future(detail::handle_for<detail::FutureState>(p.runtime_impl(), r));
}

Future ConvertInContext<Future>::from(Context& ctx, const Value& v)
{
    auto& rt = ctx.process().runtime_impl();
    if (v.kind() == Value::Kind::Ref) {
        return Future::attach(ctx.process(), v.as_ref());
    }
    // A value sent in place of an already-fetched Future: a Future that is ready here.
    auto s = std::make_shared<detail::FutureState>(
        rt.weak_from_this(), RemoteRef { RefKind::Future, {}, rt.myid() });
    s->cached_ = v;
    s->released_ = true;
    return Future(s);
}

} // namespace weft
