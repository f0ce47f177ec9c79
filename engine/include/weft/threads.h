#pragma once
// Threads and tasks inside one process, like Julia's Base.Threads: tasks run on the `default` or
// `interactive` pool; a task that waits frees its thread.

#include "weft/detail/sync.h"
#include "weft/errors.h"
#include "weft/process.h"

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

namespace weft {

namespace detail {
// Runs `fn` as a task on `pool` of process `p`, or (null) of the process whose task is running
// (outside a task that throws InvalidStateException). `thread_slot` pins it to one thread.
void spawn_on(Process* p, Pool pool, std::function<void()> fn, int thread_slot = -1);
int pool_threads(Process* p, Pool pool);
} // namespace detail

// Threads in `pool` of the current process (inside a task), like Threads.nthreads(:default).
int nthreads(Pool pool = Pool::Default);
int nthreads(Process& p, Pool pool = Pool::Default);
// 1-based id of the thread running the caller within its process's pools; 0 on other threads.
int threadid();
// The pool of the running task (Default outside tasks).
Pool threadpool();

// Throws InterruptException if this process was interrupted since the running task started
// (Cluster::interrupt). Long-running kernels call it now and then; weft::sleep does too.
void check_interrupt();

// The result of a spawned local task, like Julia's Task: fetch() waits and returns it.
template <class T> class TaskHandle {
public:
    struct State {
        std::mutex m;
        detail::Condition cv;
        bool done = false;
        std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
        std::exception_ptr error;
    };
    explicit TaskHandle(std::shared_ptr<State> s)
        : s_(std::move(s))
    {
    }
    void wait() const
    {
        std::unique_lock lk(s_->m);
        s_->cv.wait(lk, [&] { return s_->done; });
        if (s_->error)
            std::rethrow_exception(s_->error);
    }
    decltype(auto) fetch() const
    {
        wait();
        if constexpr (!std::is_void_v<T>)
            return static_cast<const T&>(*s_->value);
    }
    [[nodiscard]] bool isdone() const
    {
        std::lock_guard g(s_->m);
        return s_->done;
    }

private:
    std::shared_ptr<State> s_;
};

namespace detail {
template <class F> auto spawn_in(Process* p, F&& f, Pool pool, int thread_slot = -1)
{
    using R = std::invoke_result_t<F>;
    auto st = std::make_shared<typename TaskHandle<R>::State>();
    spawn_on(
        p, pool,
        [st, fn = std::forward<F>(f)]() mutable {
            std::exception_ptr err;
            std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> v;
            try {
                if constexpr (std::is_void_v<R>) {
                    fn();
                    v = true;
                } else {
                    v = fn();
                }
            } catch (...) {
                err = std::current_exception();
            }
            std::lock_guard g(st->m);
            st->value = std::move(v);
            st->error = err;
            st->done = true;
            st->cv.notify_all();
        },
        thread_slot);
    return TaskHandle<R>(st);
}
} // namespace detail

// Threads.@spawn: runs `f` as a task on `pool` of the current process (inside a task).
template <class F> auto spawn_task(F&& f, Pool pool = Pool::Default)
{
    return detail::spawn_in(nullptr, std::forward<F>(f), pool);
}
// The same from any thread, on process `p` (the master's pools, for a driver program).
template <class F> auto spawn_task(Process& p, F&& f, Pool pool = Pool::Default)
{
    return detail::spawn_in(&p, std::forward<F>(f), pool);
}

enum class Schedule : std::uint8_t { Static, Dynamic };

namespace detail {
template <class F>
void parallel_for_on(
    Process* s, std::int64_t lo, std::int64_t hi, F f, Schedule schedule, Pool pool)
{
    if (hi <= lo)
        return;
    const std::int64_t n = hi - lo;
    const std::int64_t nt = std::max(1, pool_threads(s, pool));
    std::vector<TaskHandle<void>> tasks;
    if (schedule == Schedule::Static) {
        for (std::int64_t t = 0; t < nt; ++t) {
            const std::int64_t b = lo + n * t / nt, e = lo + n * (t + 1) / nt;
            if (b < e)
                tasks.push_back(spawn_in(
                    s,
                    [&f, b, e] {
                        for (std::int64_t i = b; i < e; ++i)
                            f(i);
                    },
                    pool, static_cast<int>(t)));
        }
    } else {
        auto next = std::make_shared<std::atomic<std::int64_t>>(lo);
        const std::int64_t chunk = std::max<std::int64_t>(1, n / (nt * 8));
        for (std::int64_t t = 0; t < nt; ++t)
            tasks.push_back(spawn_in(
                s,
                [&f, next, hi, chunk] {
                    for (;;) {
                        const std::int64_t b = next->fetch_add(chunk);
                        if (b >= hi)
                            return;
                        for (std::int64_t i = b; i < std::min(hi, b + chunk); ++i)
                            f(i);
                    }
                },
                pool));
    }
    std::exception_ptr first;
    for (auto& t : tasks) {
        try {
            t.wait();
        } catch (...) {
            if (!first)
                first = std::current_exception();
        }
    }
    if (first)
        std::rethrow_exception(first);
}
} // namespace detail

// Threads.@threads: runs f(i) for i in [lo, hi) on the pools of the process whose task is
// running. Static: one contiguous block per thread of the pool, block t on thread t (like
// Julia's :static). Dynamic: as many tasks as threads take chunks from a shared counter (load
// balancing).
template <class F>
void parallel_for(std::int64_t lo, std::int64_t hi, F f, Schedule schedule = Schedule::Dynamic,
    Pool pool = Pool::Default)
{
    detail::parallel_for_on(nullptr, lo, hi, std::move(f), schedule, pool);
}
// The same from any thread, on process `p`'s pools (the master's, for a driver program).
template <class F>
void parallel_for(Process& p, std::int64_t lo, std::int64_t hi, F f,
    Schedule schedule = Schedule::Dynamic, Pool pool = Pool::Default)
{
    detail::parallel_for_on(&p, lo, hi, std::move(f), schedule, pool);
}

// Threads.Atomic{T}: a value updated atomically; a[] reads it.
template <class T> class Atomic {
public:
    explicit Atomic(T v = T {})
        : v_(v)
    {
    }
    T operator[](int) const = delete;
    T load() const { return v_.load(); }
    void store(T x) { v_.store(x); }
    std::atomic<T>& raw() { return v_; }

private:
    std::atomic<T> v_;
};
// atomic_add!(a, x): returns the old value.
template <class T> T atomic_add(Atomic<T>& a, T x)
{
    return a.raw().fetch_add(x);
}
template <class T> T atomic_sub(Atomic<T>& a, T x)
{
    return a.raw().fetch_sub(x);
}
template <class T> T atomic_xchg(Atomic<T>& a, T x)
{
    return a.raw().exchange(x);
}
template <class T> T atomic_cas(Atomic<T>& a, T expected, T desired)
{
    a.raw().compare_exchange_strong(expected, desired);
    return expected;
}

// A lock whose waiters suspend (a task frees its thread while it waits), like ReentrantLock
// without reentrancy. Works with std::lock_guard.
class Mutex {
public:
    void lock()
    {
        std::unique_lock lk(m_);
        cv_.wait(lk, [&] { return !locked_; });
        locked_ = true;
    }
    bool try_lock()
    {
        std::lock_guard g(m_);
        if (locked_)
            return false;
        locked_ = true;
        return true;
    }
    void unlock()
    {
        std::lock_guard g(m_);
        locked_ = false;
        cv_.notify_one();
    }

private:
    std::mutex m_;
    detail::Condition cv_;
    bool locked_ = false;
};

} // namespace weft
