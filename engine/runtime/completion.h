#pragma once
// A value that arrives once, awaited by tasks (which suspend) and plain threads (which block).

#include "scheduler.h"
#include "weft/value.h"

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

namespace weft::detail {

class Completion final {
public:
    // The first value wins; later ones are ignored (returns false).
    bool set(Value v);
    // Blocks or suspends until set. The reference stays valid while the Completion lives.
    const Value& wait();
    [[nodiscard]] bool ready() const { return ready_.load(std::memory_order_acquire); }
    // The value if it is set, else nullptr; never waits. Unlike wait(), it does not wait for the
    // setter's callbacks to finish, so it is safe under locks those callbacks may take.
    [[nodiscard]] const Value* peek() const { return ready() ? &value_ : nullptr; }
    // Runs `cb` now if set, else on the setting thread right after `set`.
    void on_ready(std::function<void(const Value&)> cb);

private:
    friend class RefStore; // counts a stored value's bytes once, whichever comes first
    enum Counting : std::uint8_t { NotYet, Counted, Uncounted };
    std::atomic<Counting> counted_ { NotYet };
    std::size_t counted_bytes_ = 0;

    mutable std::mutex m_;
    Condition cv_;
    std::atomic<bool> ready_ { false }; // value_ is final
    bool done_ = false; // callbacks ran; waiters may go (and destroy us)
    Value value_;
    std::vector<std::function<void(const Value&)>> callbacks_;
};

// A waiter returns only once `done_` is set under the lock, so a Completion on a waiter's stack
// is never destroyed while its setter still uses it.
inline bool Completion::set(Value v)
{
    std::vector<std::function<void(const Value&)>> cbs;
    {
        std::lock_guard g(m_);
        if (ready_.load(std::memory_order_relaxed))
            return false;
        value_ = std::move(v);
        ready_.store(true, std::memory_order_release);
        cbs.swap(callbacks_);
    }
    for (auto& cb : cbs)
        cb(value_);
    std::lock_guard g(m_);
    done_ = true;
    cv_.notify_all();
    return true;
}

inline const Value& Completion::wait()
{
    std::unique_lock lk(m_);
    cv_.wait(lk, [this] { return done_; });
    return value_;
}

inline void Completion::on_ready(std::function<void(const Value&)> cb)
{
    {
        std::lock_guard g(m_);
        if (!ready_.load(std::memory_order_relaxed)) {
            callbacks_.push_back(std::move(cb));
            return;
        }
    }
    cb(value_);
}

} // namespace weft::detail
