#pragma once
// What every process reports about itself, and the master's bounded history of it. Snapshots are
// immutable: whoever holds one (the GUI, weft-cli, a trace writer) reads it without locks while
// the engine goes on.

#include "weft/cluster.h"
#include "weft/inspect.h"
#include "weft/value.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weft {

struct PoolSample {
    int threads = 0;
    int busy = 0; // threads running a task
    std::uint64_t runnable = 0; // tasks queued, ready to run
    std::uint64_t blocked = 0; // tasks suspended in a wait
    std::uint64_t completed = 0; // since the process started
};

struct ChannelSample {
    RefId id;
    std::uint64_t length = 0;
    std::uint64_t capacity = 0;
    std::uint64_t waiting_putters = 0;
    std::uint64_t waiting_takers = 0;
    bool closed = false;
};

// A stretch of time one thread ran one task: from when the task started or resumed on the thread
// to when it finished or suspended. Times are seconds since the cluster started, on the master's
// clock.
struct TaskSpan {
    double start = 0;
    double end = 0;
    Pid pid = 0;
    std::uint16_t thread = 0; // 1-based within the process (default pool first)
    std::uint8_t pool = 0; // 0 default, 1 interactive
    bool finished = false; // the task ended here (rather than suspended)
    std::uint32_t kernel = 0; // index into TelemetrySnapshot::kernel_names (0: an unnamed task)
    std::uint32_t merged = 1; // how many spans this one stands for (old spans are coalesced)
};

// One sample of one process.
struct ProcessSample {
    Pid pid = 0;
    double time = 0; // seconds since the cluster started, master's clock
    double cpu_percent = 0; // of one core; 200 = two cores busy
    std::uint64_t rss_bytes = 0;
    std::array<PoolSample, 2> pools; // default, interactive
    std::vector<ChannelSample> channels;
    std::uint64_t store_entries = 0;
    std::uint64_t store_bytes = 0;
    std::vector<StoreEntryInfo> store; // the first entries (at most a few hundred)
    std::map<Pid, PeerTraffic> traffic;
    std::uint64_t spans_dropped = 0; // spans lost because a thread's buffer was full
};

// The compact per-sample figures kept as a time series for each process.
struct ProcessPoint {
    double time = 0;
    float cpu_percent = 0;
    std::uint64_t rss_bytes = 0;
    std::array<std::uint16_t, 2> busy {};
    std::array<std::uint16_t, 2> threads {};
    std::array<std::uint32_t, 2> runnable {};
    std::array<std::uint32_t, 2> blocked {};
    std::uint32_t store_entries = 0;
    std::uint64_t store_bytes = 0;
    std::uint64_t messages = 0; // sent + received, all peers, since start
};

struct ChannelPoint {
    double time = 0;
    std::uint32_t length = 0;
    std::uint32_t capacity = 0;
};

// An append-only sequence in immutable chunks: a snapshot copies chunk pointers, not points.
template <class T> struct ChunkedSeries {
    std::vector<std::shared_ptr<const std::vector<T>>> chunks;
    [[nodiscard]] std::size_t size() const
    {
        std::size_t n = 0;
        for (auto& c : chunks)
            n += c->size();
        return n;
    }
    template <class F> void for_each(F&& f) const
    {
        for (auto& c : chunks)
            for (auto& x : *c)
                f(x);
    }
    [[nodiscard]] const T* last() const
    {
        for (auto it = chunks.rbegin(); it != chunks.rend(); ++it)
            if (!(*it)->empty())
                return &(*it)->back();
        return nullptr;
    }
};

// A process's membership (as Cluster::worker_info() tells it) and what it reported.
struct ProcessHistory {
    Pid pid = 0;
    std::string host;
    int os_pid = 0;
    Threads threads;
    std::string address;
    WorkerState state = WorkerState::Running;
    std::string exit_reason;
    ProcessSample latest;
    ChunkedSeries<ProcessPoint> points;
};

struct ChannelHistory {
    RefId id;
    Pid owner = 0;
    ChannelSample latest;
    bool gone = false; // freed, or its owner exited
    ChunkedSeries<ChannelPoint> points;
};

// A store entry that was freed: kept briefly so a view can fade it out.
struct FreedEntry {
    Pid owner = 0;
    StoreEntryInfo info;
    double freed_at = 0;
};

// Published after each of the master's samples and on every change of membership (a worker
// starting, joining, exiting, exited), and at least once a second with sampling off.
struct TelemetrySnapshot {
    double time = 0; // seconds since the cluster started
    double interval = 0.1; // seconds between samples
    std::uint64_t sequence = 0; // increases with every snapshot
    std::vector<ProcessHistory> processes; // by pid
    std::vector<ChannelHistory> channels; // by owner, then id
    std::vector<FreedEntry> recently_freed;
    ChunkedSeries<TaskSpan> spans; // the whole run, coalesced when over the memory bound
    std::uint64_t spans_recorded = 0;
    std::vector<std::string> kernel_names; // index 0 is "task"
};

} // namespace weft
