#pragma once
// Fiber-aware waiting, shared by the engine and the header-only parts of the public API
// (Channel, task handles). Not for direct use.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <mutex>
#include <optional>

namespace weft::detail {

class Task;

// Whoever waits: the current task (which suspends) or the current plain thread (which blocks).
class Waiter final {
public:
    Waiter();
    // Suspends the caller until `wake`. `lk` is released while waiting and held again on return;
    // for a task it is released only once the task has switched away, so a waker holding the
    // same lock always finds it fully suspended.
    void park(std::unique_lock<std::mutex>& lk);
    // Call with the lock that `park` released held.
    void wake();

private:
    friend class Condition;
    Task* task_;
    Waiter* next_ = nullptr; // the Condition's queue, linked through the waiters' own frames
    std::atomic<bool> woken_ { false };
};

// Fiber-aware condition variable over std::mutex; notify with the mutex held. Waiters queue in
// FIFO order through their own stack frames, so a Condition never allocates (one lives in every
// Completion, made per call).
class Condition final {
public:
    void wait(std::unique_lock<std::mutex>& lk);
    template <class Pred> void wait(std::unique_lock<std::mutex>& lk, Pred pred)
    {
        while (!pred())
            wait(lk);
    }
    void notify_one();
    void notify_all();
    [[nodiscard]] std::size_t waiters() const { return count_; }

private:
    Waiter* head_ = nullptr;
    Waiter* tail_ = nullptr;
    std::size_t count_ = 0;
};

// Input iterator over anything with `std::optional<T> take_or_closed()`: takes until the source
// is closed and drained (Channel, RemoteChannel).
template <class Source, class T> class TakeIterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    TakeIterator() = default;
    explicit TakeIterator(Source* c)
        : c_(c)
    {
        ++*this;
    }
    T& operator*() { return *v_; }
    TakeIterator& operator++()
    {
        v_ = c_->take_or_closed();
        if (!v_)
            c_ = nullptr;
        return *this;
    }
    bool operator==(const TakeIterator& o) const { return c_ == o.c_; }

private:
    Source* c_ = nullptr;
    std::optional<T> v_;
};

// Sleeps the current task (freeing its thread) or the current plain thread.
void sleep_for(std::chrono::nanoseconds d);

} // namespace weft::detail
