#include "scheduler.h"

#include "spin_wait.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define WEFT_TSAN 1
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define WEFT_ASAN 1
#endif

#include <boost/context/fiber.hpp>
#include <boost/context/preallocated.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sched.h>

namespace weft::detail {

namespace {

constexpr std::size_t kStackBytes = 256 * 1024;
// How long an idle pool thread or a waiting plain thread spins before it sleeps in the kernel.
// Hand-offs inside this window cost a cache line instead of a futex wake-up.
// WEFT_SPIN_US overrides it, for measuring.
const std::chrono::microseconds kSpin { [] {
    const char* env = std::getenv("WEFT_SPIN_US");
    return env ? std::atoi(env) : 30;
}() };
constexpr std::size_t kMaxFreeTasks = 64; // idle fibers kept for reuse

// Every switch between a thread and a task goes through this one function, on both sides, and
// it is not instrumented itself. Boost's resume() stays out of line (and instrumented), but both
// sides make the same call after telling ThreadSanitizer: its frame is pushed on the context
// switched to, and popped there when that side's own call returns. Switches whose frames
// differed on the two sides pushed on one TSan shadow stack and popped off another, until one
// underflowed (a SEGV inside TSan's stack depot).
[[gnu::noinline, gnu::no_sanitize_thread]] boost::context::fiber jump(
    boost::context::fiber&& to, [[maybe_unused]] void* tsan_context)
{
#ifdef WEFT_TSAN
    __tsan_switch_to_fiber(tsan_context, 0);
#endif
    return std::move(to).resume();
}

thread_local Task* t_current = nullptr;
thread_local int t_thread_index = 0;
thread_local PoolScheduler* t_pool = nullptr;

} // namespace

// A fiber with its own stack that runs one function after another: finished tasks are recycled,
// so spawning costs no stack allocation.
// Several libraries a task holds (see add_task_code).
struct CodeSet {
    std::vector<std::shared_ptr<const void>> parts;
};

class Task final {
public:
    explicit Task(PoolScheduler* pool)
        : pool_(pool)
    {
#ifdef WEFT_TSAN
        tsan_fiber_ = __tsan_create_fiber(0);
#endif
        // The stack is allocated here so its bounds are known (AddressSanitizer is told of each
        // switch); the fiber frees it with the same allocator.
        boost::context::protected_fixedsize_stack alloc(kStackBytes);
        auto sc = alloc.allocate();
        stack_bottom_ = static_cast<char*>(sc.sp) - sc.size;
        stack_size_ = sc.size;
        fiber_ = boost::context::fiber(std::allocator_arg,
            boost::context::preallocated(sc.sp, sc.size, sc), alloc,
            [this](boost::context::fiber&& sink) { return loop(std::move(sink)); });
    }
    ~Task()
    {
        // Idle or suspended in a wait, the task is unwound on its own stack by ~fiber (Boost
        // throws forced_unwind there). Its loop never returns: a return would leave its frames
        // after the switch back to the thread, and ThreadSanitizer would pop them off the
        // thread's shadow stack, one frame too many per retired task, until it underflows.
        if (fiber_) {
#ifdef WEFT_TSAN
            void* here = __tsan_get_current_fiber();
            __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
#ifdef WEFT_ASAN
            void* fake = nullptr;
            __sanitizer_start_switch_fiber(&fake, stack_bottom_, stack_size_);
#endif
            {
                auto doomed = std::move(fiber_);
            }
#ifdef WEFT_ASAN
            __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
#ifdef WEFT_TSAN
            __tsan_switch_to_fiber(here, 0);
#endif
        }
#ifdef WEFT_TSAN
        __tsan_destroy_fiber(tsan_fiber_);
#endif
    }

    // Runs the task on the calling thread until it suspends or finishes.
    void resume()
    {
        // The continuation is read before ThreadSanitizer hears of the switch, so the read is
        // charged to the thread that makes it.
        auto f = std::move(fiber_);
        void* tsan_to = nullptr;
#ifdef WEFT_TSAN
        thread_fiber_ = __tsan_get_current_fiber();
        tsan_to = tsan_fiber_;
#endif
#ifdef WEFT_ASAN
        void* fake = nullptr;
        __sanitizer_start_switch_fiber(&fake, stack_bottom_, stack_size_);
#endif
        f = jump(std::move(f), tsan_to);
#ifdef WEFT_ASAN
        __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
        fiber_ = std::move(f);
    }

    PoolScheduler* pool() const
    {
        return pool_;
    }

    // Runs on the task: back to the scheduler of whichever thread runs us; returns when resumed.
    void switch_out()
    {
        if (unwind_to_)
            rethrow_unwind(); // being unwound: there is nothing to switch back to but the end
        auto back = std::move(sink_);
        void* tsan_to = nullptr;
#ifdef WEFT_TSAN
        tsan_to = thread_fiber_;
#endif
#ifdef WEFT_ASAN
        __sanitizer_start_switch_fiber(&fiber_fake_, thread_bottom_, thread_size_);
#endif
        try {
            back = jump(std::move(back), tsan_to);
        } catch (const boost::context::detail::forced_unwind& u) {
            // ~Task unwinds us. Remember where to: kernel code may swallow the exception with
            // a catch (...), and then the loop (or the next switch) throws it again.
#ifdef WEFT_ASAN
            // We are on this fiber's stack now, as after any switch in: tell ASan, or it keeps
            // the thread's bounds and later reports false overflows on that thread.
            __sanitizer_finish_switch_fiber(fiber_fake_, &thread_bottom_, &thread_size_);
#endif
            unwind_to_ = u.fctx;
            throw;
        }
#ifdef WEFT_ASAN
        __sanitizer_finish_switch_fiber(fiber_fake_, &thread_bottom_, &thread_size_);
#endif
        sink_ = std::move(back);
    }

    boost::context::fiber fiber_;
    // Declared before fn_, so destroyed after it: `fn_` may be the code this keeps loaded. One
    // library as a rule; several are held through a CodeSet, which code_set_ then points to.
    std::shared_ptr<const void> code_;
    const CodeSet* code_set_ = nullptr;
    std::function<void()> fn_;
    // Park protocol. The task marks itself Parking, unlocks what it waits on, and switches away;
    // the scheduler then marks it Parked. A waker that comes before that finds Parking and leaves
    // WokenEarly, and the scheduler requeues the task itself. So a task is never resumed before
    // it has switched away, and nobody unlocks a mutex another context locked.
    enum ParkState : int { Running, Parking, Parked, WokenEarly };
    std::atomic<int> park_state_ { Running };
    bool finished_ = false;
    int slot_ = -1; // pinned to this thread of its pool, or -1
    std::uint32_t label_ = 0;
    std::uint64_t epoch_ = 0; // the process's interrupt epoch when the task started

private:
    boost::context::fiber loop(boost::context::fiber&& sink)
    {
        sink_ = std::move(sink);
#ifdef WEFT_ASAN
        __sanitizer_finish_switch_fiber(nullptr, &thread_bottom_, &thread_size_);
#endif
        try {
            run_forever();
        } catch (const boost::context::detail::forced_unwind&) {
#ifdef WEFT_ASAN
            // Boost switches back to ~Task's thread right after this: the fiber's last switch.
            __sanitizer_start_switch_fiber(nullptr, thread_bottom_, thread_size_);
#endif
            throw;
        }
        return {}; // not reached: run_forever only ends by forced_unwind
    }

    [[noreturn]] void run_forever()
    {
        for (;;) { // left only by forced_unwind, from ~Task
            if (fn_) {
                try {
                    fn_();
                } catch (const boost::context::detail::forced_unwind&) {
                    throw;
                } catch (const std::exception& e) {
                    std::fprintf(
                        stderr, "weft: task ended with an uncaught exception: %s\n", e.what());
                } catch (...) {
                    std::fprintf(stderr, "weft: task ended with an uncaught exception\n");
                }
                fn_ = nullptr;
                code_.reset(); // the last hold on a replaced library: unloaded here
                code_set_ = nullptr;
                if (unwind_to_)
                    rethrow_unwind(); // a catch (...) in the task swallowed its unwinding
            }
            finished_ = true;
            switch_out();
        }
    }

    [[noreturn]] void rethrow_unwind()
    {
        throw boost::context::detail::forced_unwind(
            static_cast<boost::context::detail::fcontext_t>(unwind_to_));
    }

    PoolScheduler* pool_;
    boost::context::fiber sink_;
    void* unwind_to_ = nullptr; // set once ~Task has begun unwinding this fiber
    void* stack_bottom_ = nullptr;
    std::size_t stack_size_ = 0;
#ifdef WEFT_ASAN
    // The stack of the thread that resumed us, learnt at each switch in.
    const void* thread_bottom_ = nullptr;
    std::size_t thread_size_ = 0;
    void* fiber_fake_ = nullptr;
#endif
#ifdef WEFT_TSAN
    void* tsan_fiber_ = nullptr;
    void* thread_fiber_ = nullptr;
#endif
};

// Not inlined: a task may resume on another thread, so thread-locals must be re-read each time.
__attribute__((noinline)) Task* current_task()
{
    return t_current;
}
__attribute__((noinline)) int current_thread_index()
{
    return t_thread_index;
}
__attribute__((noinline)) PoolScheduler* current_pool()
{
    return t_pool;
}

// ---- Waiter / Condition -------------------------------------------------------------------

Waiter::Waiter()
    : task_(current_task())
{
}

void Waiter::park(std::unique_lock<std::mutex>& lk)
{
    if (task_) {
        auto* pool = task_->pool();
        task_->park_state_.store(Task::Parking, std::memory_order_release);
        pool->note_blocked(+1);
        lk.unlock();
        task_->switch_out();
        pool->note_blocked(-1);
        lk.lock();
        return;
    }
    lk.unlock();
    if (!spin_until(
            kSpin, [this] { return woken_.load(std::memory_order_acquire); },
            [] { return false; })) {
        while (!woken_.load(std::memory_order_acquire))
            woken_.wait(false, std::memory_order_acquire);
    }
    lk.lock();
}

void Waiter::wake()
{
    if (task_) {
        int s = task_->park_state_.load(std::memory_order_acquire);
        for (;;) {
            if (s == Task::Parked) {
                if (task_->park_state_.compare_exchange_weak(
                        s, Task::Running, std::memory_order_acq_rel)) {
                    task_->pool()->schedule(task_);
                    return;
                }
            } else if (s == Task::Parking) {
                if (task_->park_state_.compare_exchange_weak(
                        s, Task::WokenEarly, std::memory_order_acq_rel))
                    return; // the scheduler requeues it once it has switched away
            } else {
                return;
            }
        }
    }
    woken_.store(true, std::memory_order_release);
    woken_.notify_one();
}

void Condition::wait(std::unique_lock<std::mutex>& lk)
{
    Waiter w;
    if (tail_)
        tail_->next_ = &w;
    else
        head_ = &w;
    tail_ = &w;
    ++count_;
    w.park(lk);
}

void Condition::notify_one()
{
    Waiter* w = head_;
    if (!w)
        return;
    head_ = w->next_;
    if (!head_)
        tail_ = nullptr;
    --count_;
    w->wake();
}

void Condition::notify_all()
{
    Waiter* w = head_;
    head_ = tail_ = nullptr;
    count_ = 0;
    while (w) {
        Waiter* next = w->next_; // read first: a woken waiter may return and end its frame
        w->wake();
        w = next;
    }
}

void sleep_for(std::chrono::nanoseconds d)
{
    Task* t = current_task();
    if (!t) {
        std::this_thread::sleep_for(d);
        return;
    }
    std::mutex m;
    std::unique_lock lk(m);
    Waiter w;
    bool fired = false;
    t->pool()->timers().at(std::chrono::steady_clock::now() + d, [&] {
        std::lock_guard g(m);
        fired = true;
        w.wake();
    });
    while (!fired)
        w.park(lk);
}

// ---- TimerThread --------------------------------------------------------------------------

TimerThread::TimerThread()
    : thread_([this] { run(); })
{
}

TimerThread::~TimerThread()
{
    stop();
}

void TimerThread::stop()
{
    std::vector<Entry> dropped; // their wake-ups point into task frames about to be unwound
    {
        std::lock_guard g(m_);
        stop_ = true;
        dropped.swap(heap_);
    }
    cv_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void TimerThread::at(std::chrono::steady_clock::time_point when, std::function<void()> fn)
{
    bool earliest;
    {
        std::lock_guard g(m_);
        if (stop_)
            return; // shutting down: the sleeper is unwound, never woken
        heap_.push_back({ when, seq_++, std::move(fn) });
        std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
        earliest = heap_.front().seq == seq_ - 1;
    }
    if (earliest)
        cv_.notify_one();
}

void TimerThread::run()
{
    std::unique_lock lk(m_);
    while (!stop_) {
        if (heap_.empty()) {
            cv_.wait(lk);
            continue;
        }
        const auto when = heap_.front().when;
        if (std::chrono::steady_clock::now() < when) {
            cv_.wait_until(lk, when);
            continue;
        }
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
        auto fn = std::move(heap_.back().fn);
        heap_.pop_back();
        lk.unlock();
        fn();
        lk.lock();
    }
}

// ---- PoolScheduler ------------------------------------------------------------------------

PoolScheduler::PoolScheduler(PoolKind kind, int threads, int first_thread_index,
    TimerThread& timers, Scheduler& owner, std::shared_ptr<IdleWork> idle_work)
    : kind_(kind)
    , timers_(timers)
    , owner_(owner)
    , idle_work_(std::move(idle_work))
{
    pinned_.resize(static_cast<std::size_t>(threads));
    threads_.reserve(threads);
    for (int i = 0; i < threads; ++i)
        threads_.emplace_back([this, i, index = first_thread_index + i] { run_thread(i, index); });
}

PoolScheduler::~PoolScheduler()
{
    {
        std::lock_guard g(m_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
        t.join();
    // Tasks still suspended in a wait are unwound here, on this thread.
    all_.clear();
}

Task* PoolScheduler::acquire_task()
{
    {
        std::lock_guard g(free_m_);
        if (!free_.empty()) {
            Task* t = free_.back();
            free_.pop_back();
            return t;
        }
    }
    auto t = std::make_unique<Task>(this);
    Task* raw = t.get();
    std::lock_guard g(free_m_);
    all_.push_back(std::move(t));
    return raw;
}

void PoolScheduler::release_task(Task* t)
{
    std::lock_guard g(free_m_);
    if (free_.size() < kMaxFreeTasks) {
        free_.push_back(t);
        return;
    }
    auto it = std::find_if(all_.begin(), all_.end(), [t](auto& p) { return p.get() == t; });
    if (it != all_.end()) {
        std::swap(*it, all_.back());
        all_.pop_back();
    }
}

namespace {
std::uint32_t inherited_label()
{
    const Task* t = current_task();
    return t ? t->label_ : 0;
}

// What a spawned task inherits: the code its spawner holds.
std::pair<std::shared_ptr<const void>, const CodeSet*> inherited_code()
{
    const Task* t = current_task();
    return t ? std::pair { t->code_, t->code_set_ }
             : std::pair<std::shared_ptr<const void>, const CodeSet*> {};
}
} // namespace

void add_task_code(const std::shared_ptr<const void>& code)
{
    Task* t = current_task();
    if (!t || !code || t->code_ == code)
        return;
    if (!t->code_) {
        t->code_ = code;
        return;
    }
    std::vector<std::shared_ptr<const void>> parts;
    if (t->code_set_) {
        const auto& held = t->code_set_->parts;
        if (std::find(held.begin(), held.end(), code) != held.end())
            return;
        parts = held;
    } else {
        parts.push_back(t->code_);
    }
    parts.push_back(code);
    auto set = std::make_shared<const CodeSet>(CodeSet { std::move(parts) });
    t->code_set_ = set.get();
    t->code_ = std::move(set);
}

std::shared_ptr<const void> task_code()
{
    const Task* t = current_task();
    return t ? t->code_ : nullptr;
}

bool task_interrupted()
{
    const Task* t = current_task();
    return t && t->epoch_ != t->pool()->owner().interrupt_epoch();
}

void set_task_label(std::uint32_t label)
{
    if (Task* t = current_task())
        t->label_ = label;
}

void PoolScheduler::spawn(std::function<void()> fn)
{
    auto [code, set] = inherited_code();
    push({ nullptr, std::move(code), set, std::move(fn), -1, inherited_label() });
}

void PoolScheduler::spawn_labelled(std::uint32_t label, std::function<void()> fn)
{
    // A call: it holds its own kernel's code, added as it runs.
    push({ nullptr, {}, nullptr, std::move(fn), -1, label });
}

void PoolScheduler::spawn_pinned(int slot, std::function<void()> fn)
{
    auto [code, set] = inherited_code();
    push({ nullptr, std::move(code), set, std::move(fn), slot % std::max(1, nthreads()),
        inherited_label() });
}

void PoolScheduler::schedule(Task* t)
{
    push({ t, {}, nullptr, {}, t->slot_, 0 });
}

void PoolScheduler::push(Item item)
{
    bool wake;
    const bool pinned = item.slot >= 0;
    {
        std::lock_guard g(m_);
        if (pinned)
            pinned_[static_cast<std::size_t>(item.slot)].push_back(std::move(item));
        else
            queue_.push_back(std::move(item));
        queued_.fetch_add(1, std::memory_order_release);
        wake = sleeping_ > 0;
    }
    // Pinned work needs its own thread awake; any thread will do for the rest.
    if (wake && pinned)
        cv_.notify_all();
    else if (wake)
        cv_.notify_one();
}

bool PoolScheduler::pop(int slot, Item& out)
{
    auto& mine = pinned_[static_cast<std::size_t>(slot)];
    std::unique_lock lk(m_);
    auto nothing = [&] { return queue_.empty() && mine.empty(); };
    while (nothing() && !stop_) {
        lk.unlock();
        spinning_.fetch_add(1, std::memory_order_relaxed);
        const bool polls = idle_work_ && idle_work_->begin();
        spin_until(
            kSpin, [this] { return queued_.load(std::memory_order_acquire) > 0; },
            [&] { return polls && idle_work_->poll(); });
        if (polls)
            idle_work_->end();
        spinning_.fetch_sub(1, std::memory_order_relaxed);
        lk.lock();
        if (!nothing() || stop_)
            break;
        ++sleeping_;
        cv_.wait(lk, [&] { return !nothing() || stop_ || poked_; });
        --sleeping_;
        if (!std::exchange(poked_, false))
            break;
    }
    auto& from = !mine.empty() ? mine : queue_;
    if (from.empty())
        return false;
    out = std::move(from.front());
    from.pop_front();
    queued_.fetch_sub(1, std::memory_order_relaxed);
    return true;
}

void PoolScheduler::wake_idle_worker()
{
    if (spinning_.load(std::memory_order_relaxed) > 0
        || sleeping_.load(std::memory_order_relaxed) == 0)
        return; // someone polls already, or every thread is busy
    {
        std::lock_guard g(m_);
        if (sleeping_ == 0 || poked_)
            return;
        poked_ = true;
    }
    cv_.notify_one();
}

void PoolScheduler::run_thread(int slot, int index)
{
    t_thread_index = index;
    t_pool = this;
    SpanRing& ring = owner_.spans(index);
    Item item;
    while (pop(slot, item)) {
        Task* t = item.task;
        if (!t) {
            t = acquire_task();
            t->code_ = std::move(item.code);
            t->code_set_ = item.code_set;
            t->fn_ = std::move(item.fn);
            t->finished_ = false;
            t->slot_ = item.slot;
            t->label_ = item.label;
            t->epoch_ = owner_.interrupt_epoch();
        }
        item = {};
        busy_.fetch_add(1, std::memory_order_relaxed);
        const bool record = owner_.recording();
        const auto t0 = record ? steady_ns() : 0;
        t_current = t;
        t->resume();
        t_current = nullptr;
        if (record)
            ring.push({ t0, steady_ns(), t->label_, static_cast<std::uint16_t>(index),
                static_cast<std::uint8_t>(kind_), static_cast<std::uint8_t>(t->finished_) });
        busy_.fetch_sub(1, std::memory_order_relaxed);
        if (t->finished_) {
            completed_.fetch_add(1, std::memory_order_relaxed);
            release_task(t);
        } else {
            int expected = Task::Parking;
            if (!t->park_state_.compare_exchange_strong(
                    expected, Task::Parked, std::memory_order_acq_rel)) {
                // Woken while it was switching away: it runs again.
                t->park_state_.store(Task::Running, std::memory_order_relaxed);
                schedule(t);
            }
        }
    }
    t_pool = nullptr;
}

PoolStats PoolScheduler::stats() const
{
    PoolStats s;
    s.threads = nthreads();
    s.busy = busy_.load(std::memory_order_relaxed);
    s.runnable = queued_.load(std::memory_order_relaxed);
    s.blocked = static_cast<std::size_t>(std::max<std::int64_t>(0, blocked_.load()));
    s.completed = completed_.load(std::memory_order_relaxed);
    return s;
}

// ---- Scheduler ----------------------------------------------------------------------------

Scheduler::Scheduler(
    int default_threads, int interactive_threads, std::shared_ptr<IdleWork> idle_work)
{
    const int total = 1 + std::max(1, default_threads) + std::max(0, interactive_threads);
    for (int i = 0; i < total; ++i)
        rings_.push_back(std::make_unique<SpanRing>());
    default_ = std::make_unique<PoolScheduler>(
        PoolKind::Default, std::max(1, default_threads), 1, timers_, *this, std::move(idle_work));
    if (interactive_threads > 0)
        interactive_ = std::make_unique<PoolScheduler>(
            PoolKind::Interactive, interactive_threads, 1 + default_->nthreads(), timers_, *this);
}

Scheduler::~Scheduler()
{
    // First the timers: a sleeping task's wake-up points into its frame, which the pools unwind
    // and free below. A wake-up firing after that would write to a freed stack.
    timers_.stop();
}

PoolScheduler& Scheduler::pool(PoolKind k)
{
    return (k == PoolKind::Interactive && interactive_) ? *interactive_ : *default_;
}

bool Scheduler::has_pool(PoolKind k) const
{
    return k == PoolKind::Default || interactive_ != nullptr;
}

int Scheduler::nthreads(PoolKind k) const
{
    if (k == PoolKind::Interactive)
        return interactive_ ? interactive_->nthreads() : 0;
    return default_->nthreads();
}

} // namespace weft::detail
