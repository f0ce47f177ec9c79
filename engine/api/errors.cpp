#include "weft/errors.h"

namespace weft {

namespace {
std::string describe(const ErrorValue& e)
{
    std::string s = "On worker " + std::to_string(e.origin) + ": " + e.type + ": " + e.message;
    for (const auto& line : e.backtrace)
        s += "\n  " + line;
    return s;
}
std::string who(Pid pid)
{
    return pid == 1 ? "process 1" : "worker " + std::to_string(pid);
}
} // namespace

RemoteException::RemoteException(ErrorValue captured)
    : Error(describe(captured))
    , captured_(std::move(captured))
{
}

ProcessExitedException::ProcessExitedException(Pid pid, std::string reason)
    : Error(who(pid) + " exited: " + reason)
    , pid_(pid)
    , reason_(std::move(reason))
{
}

UnknownProcessError::UnknownProcessError(Pid pid)
    : Error("no process with id " + std::to_string(pid) + " was ever part of this cluster")
    , pid_(pid)
{
}

KernelNotFound::KernelNotFound(std::string kernel, Pid pid)
    : Error("kernel '" + kernel + "' is not loaded on " + who(pid))
    , kernel_(std::move(kernel))
    , pid_(pid)
{
}

namespace {
std::string composite_message(const std::vector<CompositeException::Entry>& es)
{
    std::string m
        = std::to_string(es.size()) + (es.size() == 1 ? " process" : " processes") + " failed:";
    for (const auto& e : es)
        m += "\n  " + (e.pid == 1 ? std::string("process 1") : "worker " + std::to_string(e.pid))
            + ": " + e.message;
    return m;
}
} // namespace

CompositeException::CompositeException(std::vector<Entry> entries)
    : Error(composite_message(entries))
    , entries_(std::move(entries))
{
}

void throw_error_value(const ErrorValue& e)
{
    // An engine error that passed through a kernel on its way (it has a backtrace) is that
    // kernel's failure: a RemoteException, as Julia wraps it.
    if (e.backtrace.empty())
        switch (e.kind) {
        case ErrorKind::KernelNotFound:
            throw KernelNotFound(e.subject, e.origin);
        case ErrorKind::ProcessExited:
            throw ProcessExitedException(e.origin, e.message);
        case ErrorKind::InvalidState:
            throw InvalidStateException(e.message);
        case ErrorKind::Connection:
            throw ConnectionError(e.message);
        case ErrorKind::UnknownProcess:
            throw UnknownProcessError(e.origin);
        case ErrorKind::Remote:
            break;
        }
    throw RemoteException(e);
}

} // namespace weft
