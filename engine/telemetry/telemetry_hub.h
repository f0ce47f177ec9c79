#pragma once
// The master's record of every process's samples: bounded time series per process and channel,
// recently freed references, and the whole run's task spans within a memory bound. Thread-safe;
// snapshots are immutable and share the record's finished chunks.

#include "sample_codec.h"
#include "weft/telemetry.h"

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>

namespace weft::detail {

// An append-only series built from closed immutable chunks plus one open chunk.
template <class T> class SeriesBuilder {
public:
    static constexpr std::size_t kChunk = 512;
    void append(T x)
    {
        open_.push_back(std::move(x));
        ++size_;
        if (open_.size() >= kChunk) {
            closed_.push_back(std::make_shared<const std::vector<T>>(std::move(open_)));
            open_ = {};
            open_.reserve(kChunk);
        }
    }
    // Drops whole closed chunks whose last element is older than `keep`.
    template <class Old> void trim(Old&& is_old)
    {
        while (!closed_.empty() && is_old(closed_.front()->back())) {
            size_ -= closed_.front()->size();
            closed_.pop_front();
        }
    }
    [[nodiscard]] ChunkedSeries<T> snapshot() const
    {
        ChunkedSeries<T> s;
        s.chunks.assign(closed_.begin(), closed_.end());
        if (!open_.empty())
            s.chunks.push_back(std::make_shared<const std::vector<T>>(open_));
        return s;
    }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] const T* last() const
    {
        if (!open_.empty())
            return &open_.back();
        return closed_.empty() ? nullptr : &closed_.back()->back();
    }
    [[nodiscard]] std::vector<T> take_all()
    {
        std::vector<T> all;
        all.reserve(size_);
        for (auto& c : closed_)
            all.insert(all.end(), c->begin(), c->end());
        all.insert(all.end(), open_.begin(), open_.end());
        closed_.clear();
        open_.clear();
        size_ = 0;
        return all;
    }

private:
    std::deque<std::shared_ptr<const std::vector<T>>> closed_;
    std::vector<T> open_;
    std::size_t size_ = 0;
};

struct TelemetryOptions {
    std::chrono::milliseconds interval { 100 }; // 0 turns sampling off
    std::chrono::seconds window { 600 }; // time series older than this are dropped
    std::size_t max_spans = 1'000'000; // above this, old spans are merged
    std::size_t max_store_entries = 300; // entries sent per sample
};

class TelemetryHub final {
public:
    TelemetryHub(TelemetryOptions options, std::int64_t start_ns);

    void ingest(Pid from, WireSample&& s, std::int64_t received_ns);
    // `from`'s clock minus ours, measured by round trips: used from now on instead of the
    // one-way estimate (which includes the shortest transit).
    void set_clock_offset(Pid from, std::int64_t offset_ns);
    // A process's membership changed (starting, running, exiting, exited).
    void membership(const WorkerInfo& w);
    [[nodiscard]] std::shared_ptr<const TelemetrySnapshot> snapshot() const;
    [[nodiscard]] double seconds_since_start(std::int64_t steady_ns) const;
    [[nodiscard]] const TelemetryOptions& options() const { return opts_; }
    void set_interval(std::chrono::milliseconds interval);

private:
    struct Proc {
        ProcessHistory history; // `points` unused: the builder holds them
        SeriesBuilder<ProcessPoint> points;
        std::int64_t offset_ns = std::numeric_limits<std::int64_t>::max();
        bool offset_measured = false; // by round trips (set_clock_offset)
        std::unordered_map<std::uint32_t, std::uint32_t> kernels; // its labels -> our index
        std::vector<StoreEntryInfo> last_store;
        bool last_store_complete = true;
    };
    using ChannelKey = std::tuple<Pid, Pid, std::uint64_t>; // owner, whence, n
    struct Chan {
        ChannelHistory history;
        SeriesBuilder<ChannelPoint> points;
    };
    std::uint32_t kernel_index(const std::string& name);
    void coalesce_spans();
    Proc& proc(Pid pid);

    TelemetryOptions opts_;
    const std::int64_t start_ns_;
    mutable std::mutex m_;
    std::map<Pid, Proc> procs_;
    std::map<ChannelKey, Chan> channels_;
    std::deque<FreedEntry> freed_;
    SeriesBuilder<TaskSpan> spans_;
    std::uint64_t spans_recorded_ = 0;
    double merge_gap_ = 0.0005; // seconds; doubles at each coalescing
    std::vector<std::string> kernel_names_ { "task" };
    std::unordered_map<std::string, std::uint32_t> kernel_ids_ { { "task", 0 } };
    mutable std::uint64_t sequence_ = 0;
};

} // namespace weft::detail
