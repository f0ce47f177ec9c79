#pragma once
// The requests this process has sent and awaits answers to (remotecall_fetch and _wait, fetches,
// channel operations, pings), by call id, each with the process that must answer it. Owns its
// lock; any thread. An answer completes its request once; a peer's exit fails every request
// still waiting on that peer.

#include "completion.h"
#include "weft/value.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

namespace weft::detail {

class CallTable final {
public:
    // `n` consecutive fresh call ids; the first is returned.
    std::uint64_t next_ids(std::size_t n = 1)
    {
        return next_.fetch_add(n, std::memory_order_relaxed);
    }
    // Awaits an answer from `target` to call `id`.
    void add(std::uint64_t id, Pid target, std::shared_ptr<Completion> done);
    // Awaits answers from `target` to the calls first, first + 1, ...
    void add_range(
        std::uint64_t first, Pid target, std::span<const std::shared_ptr<Completion>> done);
    // Forgets call `id` (it could not be sent); true if it was waiting.
    bool remove(std::uint64_t id);
    // Completes call `id` with `v`; false if nothing waits on it (answered, failed, unknown).
    bool complete(std::uint64_t id, Value v);
    // Takes the requests of many answers under one lock (one per id, null where none waits),
    // so the values can be set (waking their waiters) outside it.
    std::vector<std::shared_ptr<Completion>> take(std::span<const std::uint64_t> ids);
    // Fails every request waiting on `target` with `e`.
    void fail_to(Pid target, const ErrorValue& e);
    // Fails every request (this process is shutting down).
    void fail_all(const ErrorValue& e);
    [[nodiscard]] std::size_t size() const;

private:
    struct Pending {
        std::shared_ptr<Completion> done;
        Pid target = 0;
    };
    mutable std::mutex m_;
    std::unordered_map<std::uint64_t, Pending> pending_;
    std::atomic<std::uint64_t> next_ { 1 };
};

} // namespace weft::detail
