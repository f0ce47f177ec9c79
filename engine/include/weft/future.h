#pragma once
// A reference to the result of a remote call, like Julia's Future.

#include "weft/value.h"

#include <memory>
#include <vector>

namespace weft {

class Process;
namespace detail {
struct ProcessAccess;
}

class Future {
public:
    Future() = default;

    // A handle for a reference received as a value (in a channel item, a list, a result), like
    // RemoteChannel::attach: it shares the hold the reference came with.
    static Future attach(Process& p, const RemoteRef& ref);

    // The value; blocks (or suspends the task) until it is there. The first successful fetch
    // caches the value and releases the remote one: later fetches send nothing. A failed call
    // throws (RemoteException, ProcessExitedException, ...) every time and caches nothing.
    const Value& fetch() const;
    // Waits for the call to finish; throws if it failed.
    void wait() const;
    [[nodiscard]] bool isready() const;
    // Releases the remote value now instead of when the last copy of this handle goes, and
    // drops a fetched value too, as Julia's finalize(f) does: every later fetch, wait or isready
    // throws InvalidStateException, and a value fetch() returned must not be used any more.
    void finalize();

    // The fetched value, or nullptr before a successful fetch.
    [[nodiscard]] const Value* cached() const;
    [[nodiscard]] RemoteRef ref() const;
    [[nodiscard]] Pid where() const { return ref().owner; }
    [[nodiscard]] bool valid() const { return s_ != nullptr; }

private:
    friend struct detail::ProcessAccess; // the engine makes and reads handles
    explicit Future(std::shared_ptr<RefHold> s)
        : s_(std::move(s))
    {
    }
    std::shared_ptr<RefHold> s_; // this process's hold on the value, and the value once fetched
};

// Fetches every Future with all requests on the wire at once (one round trip, not one each), in
// order. Throws the first failure after every request has been answered.
std::vector<Value> fetch_all(const std::vector<Future>& futures);

} // namespace weft
