#pragma once
// Tasks (fibers) and the thread pools that run them. A task that waits suspends and frees its
// thread; a woken task is queued on its own pool again, possibly resuming on another thread.

#include "span_ring.h"
#include "weft/detail/sync.h"
#include "weft/process.h"
#include "weft/value.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weft::detail {

class PoolScheduler;
class Scheduler;
class Task;
struct CodeSet;

// A pool is named by the public enum (weft/process.h): default, interactive.
using PoolKind = Pool;

// The current task, or nullptr on a plain thread. Never cached across a suspension point.
[[nodiscard]] Task* current_task();
// 1-based index of the current thread within its process's pools (0 for other threads).
[[nodiscard]] int current_thread_index();
[[nodiscard]] PoolScheduler* current_pool();
// Names the current task for telemetry (a KernelRegistry label); tasks it spawns inherit it.
void set_task_label(std::uint32_t label);
// True if the current task started before its process's last interrupt.
[[nodiscard]] bool task_interrupted();

// The code a task runs that can be unloaded: the kernel libraries of the kernels it calls. A
// task holds its code until it ends; tasks it spawns hold it too, and so does an array a kernel
// wraps around a buffer of its own (whose deleter is the library's code). So a library is
// unloaded only once nothing that runs or frees its code is left. No-op outside a task.
void add_task_code(const std::shared_ptr<const void>& code);
// What the current task holds, as one hold (empty if nothing, or outside a task).
[[nodiscard]] std::shared_ptr<const void> task_code();

// Fires wake-ups at deadlines for sleeping tasks. One per process, owned by the Scheduler.
class TimerThread final {
public:
    TimerThread();
    ~TimerThread();
    // Ends the thread and drops every pending wake-up without running it. Idempotent.
    void stop();
    void at(std::chrono::steady_clock::time_point when, std::function<void()> fn);

private:
    void run();
    struct Entry {
        std::chrono::steady_clock::time_point when;
        std::uint64_t seq;
        std::function<void()> fn;
        bool operator>(const Entry& o) const
        {
            return when != o.when ? when > o.when : seq > o.seq;
        }
    };
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<Entry> heap_;
    std::uint64_t seq_ = 0;
    bool stop_ = false;
    std::thread thread_;
};

// Counters a pool keeps for telemetry and tests.
struct PoolStats {
    int threads = 0;
    int busy = 0; // threads running a task now
    std::size_t runnable = 0; // tasks queued, ready to run
    std::size_t blocked = 0; // tasks suspended in a wait
    std::uint64_t completed = 0;
};

// Work an idle pool thread does while it spins, before it sleeps: a worker reads its master
// connection there, so a request that comes within the spin needs no thread woken.
class IdleWork {
public:
    virtual ~IdleWork() = default;
    // A thread starts spinning. True if it takes the work: it then calls poll() until end().
    // One thread at a time takes it.
    virtual bool begin() = 0;
    // True when it served something, which starts the spin window afresh: a thread that answers
    // requests itself goes on answering them while they keep coming.
    virtual bool poll() = 0;
    virtual void end() = 0;
};

// A named pool of OS threads running tasks from one run queue. Threads that find the queue
// empty spin briefly before sleeping, which keeps hand-offs fast on a busy cluster.
class PoolScheduler final {
public:
    PoolScheduler(PoolKind kind, int threads, int first_thread_index, TimerThread& timers,
        Scheduler& owner, std::shared_ptr<IdleWork> idle_work = {});
    ~PoolScheduler(); // finishes queued tasks, then joins its threads
    PoolScheduler(const PoolScheduler&) = delete;
    PoolScheduler& operator=(const PoolScheduler&) = delete;

    // Runs `fn` as a new task on this pool. Safe from any thread.
    void spawn(std::function<void()> fn);
    // Runs `fn` as a task that only thread `slot` (0-based within the pool) runs, also after it
    // waits: Julia's @threads :static.
    void spawn_pinned(int slot, std::function<void()> fn);
    // Like spawn, with a telemetry label (see set_task_label), for a call: it inherits no code.
    void spawn_labelled(std::uint32_t label, std::function<void()> fn);
    [[nodiscard]] PoolKind kind() const { return kind_; }
    [[nodiscard]] int nthreads() const { return static_cast<int>(threads_.size()); }
    [[nodiscard]] PoolStats stats() const;
    [[nodiscard]] TimerThread& timers() { return timers_; }
    [[nodiscard]] Scheduler& owner() { return owner_; }

    void schedule(Task* t); // a woken task is runnable again

    void note_blocked(int delta) { blocked_.fetch_add(delta, std::memory_order_relaxed); }

    // If no thread is spinning, wakes a sleeping one to spin (and do the idle work) once more:
    // work that arrived another way (the I/O thread read a request) is likely to be followed.
    void wake_idle_worker();

private:
    // A runnable unit: a woken task, or new work that gets a fiber only when a thread starts it,
    // so a long queue costs no stacks.
    struct Item {
        Task* task = nullptr;
        std::shared_ptr<const void> code; // before fn: `fn` may be this code (see add_task_code)
        const CodeSet* code_set = nullptr;
        std::function<void()> fn;
        int slot = -1; // pinned to this thread of the pool, or -1
        std::uint32_t label = 0;
    };
    void run_thread(int slot, int index);
    bool pop(int slot, Item& out);
    void push(Item item);
    Task* acquire_task();
    void release_task(Task* t);

    PoolKind kind_;
    TimerThread& timers_;
    Scheduler& owner_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    const std::shared_ptr<IdleWork> idle_work_; // fixed before the threads start
    std::atomic<int> spinning_ { 0 };
    bool poked_ = false; // a sleeping thread is to spin once more (wake_idle_worker)
    std::deque<Item> queue_;
    std::vector<std::deque<Item>> pinned_; // per thread
    std::atomic<std::size_t> queued_ { 0 };
    // Changed under m_; read without it by wake_idle_worker, which runs for every frame the I/O
    // thread reads from the master and should not take the lock each time.
    std::atomic<int> sleeping_ { 0 };
    bool stop_ = false;
    std::atomic<int> busy_ { 0 };
    std::atomic<std::int64_t> blocked_ { 0 };
    std::atomic<std::uint64_t> completed_ { 0 };
    std::mutex free_m_;
    std::vector<Task*> free_;
    std::vector<std::unique_ptr<Task>> all_;
    std::vector<std::thread> threads_;
};

// A process's pools (default and interactive) and its timer thread.
class Scheduler final {
public:
    Scheduler(
        int default_threads, int interactive_threads, std::shared_ptr<IdleWork> idle_work = {});
    ~Scheduler();
    PoolScheduler& pool(PoolKind k);
    [[nodiscard]] bool has_pool(PoolKind k) const;
    [[nodiscard]] int nthreads(PoolKind k) const;

    // Task spans for telemetry: recorded only while on, one buffer per thread (1-based index).
    void set_recording(bool on) { recording_.store(on, std::memory_order_relaxed); }
    [[nodiscard]] bool recording() const { return recording_.load(std::memory_order_relaxed); }
    [[nodiscard]] SpanRing& spans(int thread_index) { return *rings_[thread_index]; }
    [[nodiscard]] int total_threads() const { return static_cast<int>(rings_.size()) - 1; }

    // Interrupts every task running now: their check_interrupt() throws from here on.
    void interrupt() { interrupt_epoch_.fetch_add(1, std::memory_order_release); }
    [[nodiscard]] std::uint64_t interrupt_epoch() const
    {
        return interrupt_epoch_.load(std::memory_order_acquire);
    }

private:
    std::atomic<bool> recording_ { false };
    std::atomic<std::uint64_t> interrupt_epoch_ { 0 };
    std::vector<std::unique_ptr<SpanRing>> rings_; // before the pools: their threads use them
    TimerThread timers_;
    std::unique_ptr<PoolScheduler> default_;
    std::unique_ptr<PoolScheduler> interactive_;
};

} // namespace weft::detail
