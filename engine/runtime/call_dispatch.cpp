#include "call_dispatch.h"

#include "error_capture.h"
#include "future_state.h"
#include "kernel_registry.h"
#include "process_runtime.h"
#include "scheduler.h"
#include "weft/errors.h"

#include <algorithm>
#include <stdexcept>

namespace weft::detail {

void CallDispatch::accept(IncomingCall c, std::optional<ErrorValue> failed)
{
    // Held by the task: a reload while it runs leaves this call on the code it started with.
    auto k = failed ? nullptr : rt_.kernels().find(c.kernel);
    if (c.kind == CallKind::Async || c.kind == CallKind::Wait) {
        c.slot = rt_.refs().claim_result(c.ref, c.caller);
        // Ids are never reused by a real peer; a second call naming one would race the first
        // for its result.
        if (!c.slot)
            failed = make_error(rt_.myid(), "ArgumentError",
                "reference (" + std::to_string(c.ref.whence) + ", " + std::to_string(c.ref.n)
                    + ") from " + who(c.caller) + " already names another call's result");
    }
    if (failed) {
        if (c.kind == CallKind::Async && !c.slot)
            rt_.log("a call from " + who(c.caller) + " was refused: " + failed->message);
        reply(c, *failed);
        return;
    }
    if (!k) {
        reply(c,
            make_error(rt_.myid(), "KernelNotFound",
                "kernel '" + c.kernel + "' is not loaded on " + who(rt_.myid()),
                ErrorKind::KernelNotFound, c.kernel));
        return;
    }
    auto& pool = rt_.scheduler().pool(
        c.pool == Pool::Interactive && rt_.scheduler().has_pool(Pool::Interactive)
            ? Pool::Interactive
            : Pool::Default);
    const auto label = k->label;
    pool.spawn_labelled(
        label, [self = rt_.shared_from_this(), c = std::move(c), k = std::move(k)]() mutable {
            self->dispatch().run(c, *k);
        });
}

List CallDispatch::resolve_args(const List& args, Pid caller, const std::vector<bool>& keeps)
{
    List out;
    out.reserve(args.size());
    for (std::size_t i = 0; i < args.size(); ++i) {
        const Value& a = args[i];
        const bool kept = i < keeps.size() && keeps[i];
        if (a.kind() != Value::Kind::Ref || a.as_ref().kind != RefKind::Future || kept) {
            out.push_back(a);
            continue;
        }
        const RemoteRef& r = a.as_ref();
        if (auto fs = std::dynamic_pointer_cast<FutureState>(r.hold)) {
            out.push_back(fs->fetch()); // this process's hold, received with the call
            continue;
        }
        // A bare address (a call this process made to itself with a hand-made reference).
        if (r.owner == rt_.myid()) {
            auto v = rt_.refs().stored_value(r.id);
            if (!v)
                throw InvalidStateException("Future(" + std::to_string(r.owner) + ", "
                    + std::to_string(r.id.whence) + ", " + std::to_string(r.id.n) + ") passed by "
                    + who(caller) + " was already freed");
            out.push_back(value_or_throw(v->wait()));
            continue;
        }
        rt_.refs().add_hold(r, rt_.myid());
        FutureState tmp(rt_.weak_from_this(), r);
        out.push_back(tmp.fetch());
    }
    return out;
}

void CallDispatch::run(IncomingCall& c, const KernelInfo& k)
{
    add_task_code(k.library); // tasks it spawns and arrays it makes keep the library loaded too
    Value result;
    const bool has_refs = std::any_of(
        c.args.begin(), c.args.end(), [](const Value& a) { return a.kind() == Value::Kind::Ref; });
    try {
        Context ctx(rt_, c.caller);
        // The arguments are checked against the kernel's parameters before it runs.
        auto checked = [&k](const List& args) -> const List& {
            if (auto why = check_arguments(k, args); !why.empty())
                throw std::invalid_argument(why);
            return args;
        };
        if (has_refs)
            result = k.fn(ctx, checked(resolve_args(c.args, c.caller, k.keeps_ref)));
        else
            result = k.fn(ctx, checked(c.args)); // the common case: nothing to fetch or copy
    } catch (...) {
        // The pattern kernels (weft.map_batch, weft.reduce_range) run the user's kernel: an
        // error there is the user's, reported as if the user's kernel had been called directly.
        result = capture_kernel_exception(rt_.myid(), k.name, c.caller, k.internal());
    }
    // The holds that came with the arguments end with the call (when `c` goes).
    reply(c, result);
}

void CallDispatch::reply(const IncomingCall& c, const Value& v)
{
    if (c.slot) {
        c.slot->set(v);
        rt_.refs().count_value(*c.slot, value_bytes(v));
    }
    if (c.kind == CallKind::Async)
        return;
    if (c.kind == CallKind::Do) {
        if (v.is_error())
            rt_.log("remote_do of '" + c.kernel + "' failed: " + v.as_error().type + ": "
                + v.as_error().message);
        return;
    }
    static const Value nil;
    const Value& out = (c.kind == CallKind::Wait && !v.is_error()) ? nil : v;
    if (!c.reply_conn) {
        rt_.calls().complete(c.call_id, out);
        return;
    }
    rt_.answer(*c.reply_conn, c.caller, c.call_id, out);
}

} // namespace weft::detail
