#pragma once
// The call API of one process: the master (through Cluster) and any worker (inside a kernel,
// through Context::process()) offer the same calls, like Julia's Distributed functions.

#include "weft/future.h"
#include "weft/inspect.h"
#include "weft/kernel.h"
#include "weft/value.h"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

enum class Pool : std::uint8_t { Default = 0, Interactive = 1 };

struct CallOptions {
    Pool pool = Pool::Default; // which thread pool of the callee runs the call
};

// Futures passed as arguments are fetched where the call runs (no copy on their owner); one
// already fetched travels with its cached value, so no process needs to hold the remote one.
inline Value to_arg(const Future& f)
{
    if (const Value* v = f.cached())
        return *v;
    return f.ref();
}
template <class T> Value to_arg(T&& x)
{
    if constexpr (std::is_same_v<std::decay_t<T>, Future>)
        return to_arg(static_cast<const Future&>(x));
    else if constexpr (requires {
                           {
                               x.ref()
                               } -> std::convertible_to<RemoteRef>;
                       })
        return Value(x.ref()); // a handle (RemoteChannel): the reference travels
    else if constexpr (std::is_constructible_v<Value,
                           T&&> && !std::is_same_v<std::decay_t<T>, std::vector<double>>)
        return Value(std::forward<T>(x));
    else
        return to_value(std::forward<T>(x));
}
template <class... A> List make_args(A&&... a)
{
    List l;
    l.reserve(sizeof...(A));
    (l.push_back(to_arg(std::forward<A>(a))), ...);
    return l;
}

// Sleeps like Julia's sleep(): inside a task it suspends the task and frees its thread.
void sleep(std::chrono::nanoseconds d);

class Process {
public:
    virtual ~Process() = default;

    [[nodiscard]] virtual Pid myid() const = 0;
    // Workers (sorted); {1} when there are none, since then the master is the worker.
    [[nodiscard]] virtual std::vector<Pid> workers() const = 0;
    [[nodiscard]] virtual std::vector<Pid> procs() const = 0;
    [[nodiscard]] std::size_t nworkers() const { return workers().size(); }
    [[nodiscard]] std::size_t nprocs() const { return procs().size(); }

    // Untyped forms: arguments as a list of values.
    virtual Future remotecall_args(std::string_view kernel, Pid pid, List args, CallOptions o = {})
        = 0;
    virtual Value remotecall_fetch_args(
        std::string_view kernel, Pid pid, List args, CallOptions o = {})
        = 0;
    virtual Future remotecall_wait_args(
        std::string_view kernel, Pid pid, List args, CallOptions o = {})
        = 0;
    virtual void remote_do_args(std::string_view kernel, Pid pid, List args, CallOptions o = {})
        = 0;
    // The worker `spawn` would use next (round robin over workers()).
    virtual Pid next_worker() = 0;
    // The values this process owns and their holders.
    [[nodiscard]] virtual std::vector<StoreEntryInfo> store_table() const = 0;

    template <class... A> Future remotecall(std::string_view kernel, Pid pid, A&&... a)
    {
        return remotecall_args(kernel, pid, make_args(std::forward<A>(a)...));
    }
    template <class... A> Value remotecall_fetch(std::string_view kernel, Pid pid, A&&... a)
    {
        return remotecall_fetch_args(kernel, pid, make_args(std::forward<A>(a)...));
    }
    template <class... A> Future remotecall_wait(std::string_view kernel, Pid pid, A&&... a)
    {
        return remotecall_wait_args(kernel, pid, make_args(std::forward<A>(a)...));
    }
    template <class... A> void remote_do(std::string_view kernel, Pid pid, A&&... a)
    {
        remote_do_args(kernel, pid, make_args(std::forward<A>(a)...));
    }
    // @spawnat pid kernel(args...)
    template <class... A> Future spawnat(Pid pid, std::string_view kernel, A&&... a)
    {
        return remotecall_args(kernel, pid, make_args(std::forward<A>(a)...));
    }
    // @spawn kernel(args...): on the next worker.
    template <class... A> Future spawn(std::string_view kernel, A&&... a)
    {
        return remotecall_args(kernel, next_worker(), make_args(std::forward<A>(a)...));
    }
};

} // namespace weft
