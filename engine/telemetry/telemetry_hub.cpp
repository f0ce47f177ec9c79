#include "telemetry_hub.h"

#include <algorithm>
#include <unordered_set>

namespace weft::detail {

namespace {
constexpr double kFreedFadeSeconds = 3.0;
}

TelemetryHub::TelemetryHub(TelemetryOptions options, std::int64_t start_ns)
    : opts_(options)
    , start_ns_(start_ns)
{
}

double TelemetryHub::seconds_since_start(std::int64_t ns) const
{
    return double(ns - start_ns_) * 1e-9;
}

void TelemetryHub::set_interval(std::chrono::milliseconds interval)
{
    std::lock_guard g(m_);
    opts_.interval = interval;
}

TelemetryHub::Proc& TelemetryHub::proc(Pid pid)
{
    auto& p = procs_[pid];
    p.history.pid = pid;
    return p;
}

void TelemetryHub::membership(const WorkerInfo& w)
{
    std::lock_guard g(m_);
    auto& p = proc(w.pid);
    auto& h = p.history;
    h.host = w.host;
    if (w.os_pid > 0)
        h.os_pid = w.os_pid;
    h.threads = w.threads;
    if (!w.address.empty())
        h.address = w.address;
    h.state = w.state;
    if (!w.exit_reason.empty())
        h.exit_reason = w.exit_reason;
    if (w.state == WorkerState::Exited) {
        // Its pools are gone: the last sample no longer describes anything running.
        h.latest.pools = {};
        h.latest.cpu_percent = 0;
        for (auto& [key, c] : channels_)
            if (std::get<0>(key) == w.pid)
                c.history.gone = true;
    }
}

std::uint32_t TelemetryHub::kernel_index(const std::string& name)
{
    auto [it, added] = kernel_ids_.emplace(name, std::uint32_t(kernel_names_.size()));
    if (added)
        kernel_names_.push_back(name);
    return it->second;
}

void TelemetryHub::set_clock_offset(Pid from, std::int64_t offset_ns)
{
    std::lock_guard g(m_);
    auto& p = proc(from);
    p.offset_ns = -offset_ns;
    p.offset_measured = true;
}

void TelemetryHub::ingest(Pid from, WireSample&& w, std::int64_t received_ns)
{
    std::lock_guard g(m_);
    auto& p = proc(from);
    // The sender's clock, mapped onto ours: the smallest (arrival - send) seen so far is the
    // clock offset plus the shortest transit, which is as close as one-way samples can get.
    if (!p.offset_measured)
        p.offset_ns = std::min(p.offset_ns, received_ns - w.clock_ns);
    const auto to_local = [&](std::int64_t ns) { return seconds_since_start(ns + p.offset_ns); };
    auto& s = w.sample;
    s.pid = from;
    s.time = seconds_since_start(received_ns);

    ProcessPoint pt;
    pt.time = s.time;
    pt.cpu_percent = static_cast<float>(s.cpu_percent);
    pt.rss_bytes = s.rss_bytes;
    for (std::size_t i = 0; i < 2; ++i) {
        pt.busy[i] = static_cast<std::uint16_t>(s.pools[i].busy);
        pt.threads[i] = static_cast<std::uint16_t>(s.pools[i].threads);
        pt.runnable[i] = static_cast<std::uint32_t>(s.pools[i].runnable);
        pt.blocked[i] = static_cast<std::uint32_t>(s.pools[i].blocked);
    }
    pt.store_entries = static_cast<std::uint32_t>(s.store_entries);
    pt.store_bytes = s.store_bytes;
    for (auto& [peer, t] : s.traffic)
        pt.messages += t.messages_sent + t.messages_received;
    p.points.append(pt);
    const double horizon = s.time - double(opts_.window.count());
    p.points.trim([&](const ProcessPoint& x) { return x.time < horizon; });

    // Channels: one series each; one missing from the sample was freed.
    std::set<ChannelKey> seen;
    for (auto& c : s.channels) {
        ChannelKey key { from, c.id.whence, c.id.n };
        seen.insert(key);
        auto& ch = channels_[key];
        ch.history.id = c.id;
        ch.history.owner = from;
        ch.history.latest = c;
        ch.history.gone = false;
        ch.points.append({ s.time, static_cast<std::uint32_t>(c.length),
            static_cast<std::uint32_t>(c.capacity) });
        ch.points.trim([&](const ChannelPoint& x) { return x.time < horizon; });
    }
    for (auto it = channels_.begin(); it != channels_.end();) {
        auto& ch = it->second;
        if (std::get<0>(it->first) == from && !seen.count(it->first))
            ch.history.gone = true;
        // A channel gone for longer than the window has nothing left to show.
        const auto* last = ch.history.gone ? ch.points.last() : nullptr;
        if (ch.history.gone && (!last || last->time < horizon))
            it = channels_.erase(it);
        else
            ++it;
    }

    // Store entries that were there last time and are not now were freed (only knowable when
    // both samples list the whole store).
    const bool complete = s.store.size() == s.store_entries;
    if (complete && p.last_store_complete && !p.last_store.empty()) {
        std::unordered_set<RefId> now;
        now.reserve(s.store.size());
        for (auto& e : s.store)
            now.insert(e.id);
        for (auto& old : p.last_store)
            if (!now.count(old.id))
                freed_.push_back({ from, old, s.time });
    }
    p.last_store = s.store;
    p.last_store_complete = complete;
    while (!freed_.empty() && freed_.front().freed_at < s.time - kFreedFadeSeconds)
        freed_.pop_front();
    if (freed_.size() > 2000)
        freed_.erase(freed_.begin(), freed_.end() - 2000);

    // Spans.
    for (auto& [label, name] : w.labels)
        p.kernels[label] = kernel_index(name);
    for (const auto& r : w.spans) {
        TaskSpan t;
        t.start = to_local(r.start_ns);
        t.end = to_local(r.end_ns);
        t.pid = from;
        t.thread = r.thread;
        t.pool = r.pool;
        t.finished = r.finished != 0;
        auto it = p.kernels.find(r.label);
        t.kernel = it == p.kernels.end() ? 0 : it->second;
        spans_.append(t);
    }
    spans_recorded_ += w.spans.size();
    if (spans_.size() > opts_.max_spans)
        coalesce_spans();

    p.history.latest = std::move(s);
}

// Keeps the whole run's timeline within max_spans: neighbouring spans on one thread are merged
// into one bar standing for all of them, first those of the same kernel, and with a wider gap
// each time the bound is reached again. Recent detail is kept as long as the bound allows.
void TelemetryHub::coalesce_spans()
{
    auto all = spans_.take_all();
    std::sort(all.begin(), all.end(), [](const TaskSpan& a, const TaskSpan& b) {
        return std::tie(a.pid, a.thread, a.start) < std::tie(b.pid, b.thread, b.start);
    });
    const std::size_t target = opts_.max_spans / 2;
    bool any_kernel = false;
    while (all.size() > target) {
        std::vector<TaskSpan> out;
        out.reserve(all.size());
        for (const auto& s : all) {
            if (!out.empty()) {
                auto& last = out.back();
                const bool same_row = last.pid == s.pid && last.thread == s.thread;
                if (same_row && s.start - last.end <= merge_gap_
                    && (any_kernel || last.kernel == s.kernel)) {
                    if (s.end - s.start > last.end - last.start)
                        last.kernel = s.kernel;
                    last.end = std::max(last.end, s.end);
                    last.merged += s.merged;
                    last.finished = s.finished;
                    continue;
                }
            }
            out.push_back(s);
        }
        const bool progressed = out.size() < all.size();
        all = std::move(out);
        if (all.size() > target) {
            if (!progressed && !any_kernel)
                any_kernel = true;
            else
                merge_gap_ *= 2;
        }
    }
    std::sort(all.begin(), all.end(),
        [](const TaskSpan& a, const TaskSpan& b) { return a.start < b.start; });
    for (auto& s : all)
        spans_.append(s);
}

std::shared_ptr<const TelemetrySnapshot> TelemetryHub::snapshot() const
{
    auto snap = std::make_shared<TelemetrySnapshot>();
    std::lock_guard g(m_);
    snap->time = seconds_since_start(steady_ns());
    snap->interval = double(opts_.interval.count()) / 1000.0;
    snap->sequence = ++sequence_;
    snap->processes.reserve(procs_.size());
    for (auto& [pid, p] : procs_) {
        auto h = p.history;
        h.points = p.points.snapshot();
        snap->processes.push_back(std::move(h));
    }
    for (auto& [key, c] : channels_) {
        auto h = c.history;
        h.points = c.points.snapshot();
        snap->channels.push_back(std::move(h));
    }
    snap->recently_freed.assign(freed_.begin(), freed_.end());
    snap->spans = spans_.snapshot();
    snap->spans_recorded = spans_recorded_;
    snap->kernel_names = kernel_names_;
    return snap;
}

} // namespace weft::detail
