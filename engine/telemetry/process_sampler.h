#pragma once
// Samples its process every interval on a thread of its own and hands each sample on: a worker
// sends it to the master, the master gives it to its TelemetryHub. Off (interval 0) it records
// no spans and costs nothing.

#include "sample_codec.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace weft::detail {

class ProcessRuntime;

class ProcessSampler final {
public:
    using Deliver = std::function<void(WireSample&&)>;
    // `idle` (if given) runs once a second while sampling is off.
    ProcessSampler(ProcessRuntime& rt, Deliver deliver, std::size_t max_store_entries = 300,
        std::function<void()> idle = {});
    ~ProcessSampler();
    ProcessSampler(const ProcessSampler&) = delete;
    ProcessSampler& operator=(const ProcessSampler&) = delete;

    void set_interval(std::chrono::milliseconds interval); // 0: off
    [[nodiscard]] std::chrono::milliseconds interval() const;
    // One sample now (also drains the span buffers).
    WireSample sample();

private:
    void run();

    ProcessRuntime& rt_;
    Deliver deliver_;
    std::function<void()> idle_;
    const std::size_t max_store_entries_;
    std::int64_t last_cpu_ns_ = 0;
    std::int64_t last_wall_ns_ = 0;
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::chrono::milliseconds interval_ { 0 };
    bool stop_ = false;
    std::thread thread_;
};

} // namespace weft::detail
