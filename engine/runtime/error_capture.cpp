#include "error_capture.h"

#include "exception_name.h"
#include "throw_trace.h"
#include "weft/errors.h"

namespace weft::detail {

const Value& value_or_throw(const Value& v)
{
    if (v.is_error())
        throw_error_value(v.as_error());
    return v;
}

std::string who(Pid pid)
{
    return pid == 1 ? std::string("process 1") : "worker " + std::to_string(pid);
}

ErrorValue make_error(
    Pid self, std::string type, std::string message, ErrorKind kind, std::string subject)
{
    ErrorValue e;
    e.type = std::move(type);
    e.message = std::move(message);
    e.origin = self;
    e.subject = std::move(subject);
    e.kind = kind;
    return e;
}

ErrorValue capture_current_exception(Pid self)
{
    try {
        throw;
    } catch (const RemoteException& e) {
        return e.captured();
    } catch (const ProcessExitedException& e) {
        return { "ProcessExitedException", e.reason(), e.pid(), {}, {}, ErrorKind::ProcessExited };
    } catch (const UnknownProcessError& e) {
        return { "UnknownProcessError", e.what(), e.pid(), {}, {}, ErrorKind::UnknownProcess };
    } catch (const KernelNotFound& e) {
        return { "KernelNotFound", e.what(), e.pid(), {}, e.kernel(), ErrorKind::KernelNotFound };
    } catch (const ConnectionError& e) {
        return make_error(self, "ConnectionError", e.what(), ErrorKind::Connection);
    } catch (const InvalidStateException& e) {
        return make_error(self, "InvalidStateException", e.what(), ErrorKind::InvalidState);
    } catch (const std::exception& e) {
        return make_error(self, current_exception_type(), e.what());
    } catch (...) {
        return make_error(self, current_exception_type(), "a non-standard exception");
    }
}

ErrorValue capture_kernel_exception(Pid self, const std::string& kernel, Pid caller, bool internal)
{
    const std::string in_kernel = "in kernel '" + kernel + "' on " + who(self);
    const auto where = [&](std::string line) { return internal ? "on " + who(self) : line; };
    try {
        throw;
    } catch (const RemoteException& e) { // a nested call failed: it passed through here
        auto ev = e.captured();
        ev.backtrace.push_back(where(in_kernel));
        return ev;
    } catch (const KernelNotFound&) {
        auto ev = capture_current_exception(self);
        if (!internal) // a pattern's missing kernel is the caller's typed KernelNotFound
            ev.backtrace.push_back(in_kernel);
        return ev;
    } catch (const ProcessExitedException&) {
        auto ev = capture_current_exception(self);
        ev.backtrace.push_back(where(in_kernel));
        return ev;
    } catch (...) {
        // The user's own error (or one of ours the kernel let escape): a RemoteException with
        // the frames where it was thrown, down to the kernel (a pattern's frames are not theirs).
        std::string message = "a non-standard exception";
        try {
            throw;
        } catch (const std::exception& e) {
            message = e.what();
        } catch (...) {
        }
        auto ev = make_error(self, current_exception_type(), std::move(message), ErrorKind::Remote,
            internal ? "" : kernel);
        ev.backtrace = last_throw_frames({ "CallDispatch::run", "map_batch", "reduce_range" });
        ev.backtrace.push_back(where(in_kernel + ", called by " + who(caller)));
        return ev;
    }
}

} // namespace weft::detail
