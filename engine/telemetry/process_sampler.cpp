#include "process_sampler.h"

#include "kernel_registry.h"
#include "process_runtime.h"

#include <cstdio>
#include <ctime>
#include <set>
#include <unistd.h>

namespace weft::detail {

namespace {

std::int64_t cpu_time_ns()
{
    timespec ts {};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::uint64_t rss_bytes()
{
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    const int got = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return got == 2 ? resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

PoolSample pool_sample(const PoolStats& p)
{
    return { p.threads, p.busy, p.runnable, p.blocked, p.completed };
}

} // namespace

ProcessSampler::ProcessSampler(
    ProcessRuntime& rt, Deliver deliver, std::size_t max_store_entries, std::function<void()> idle)
    : rt_(rt)
    , deliver_(std::move(deliver))
    , idle_(std::move(idle))
    , max_store_entries_(max_store_entries)
    , last_cpu_ns_(cpu_time_ns())
    , last_wall_ns_(steady_ns())
    , thread_([this] { run(); })
{
}

ProcessSampler::~ProcessSampler()
{
    {
        std::lock_guard g(m_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    rt_.scheduler().set_recording(false);
}

void ProcessSampler::set_interval(std::chrono::milliseconds interval)
{
    {
        std::lock_guard g(m_);
        interval_ = interval;
    }
    rt_.scheduler().set_recording(interval.count() > 0);
    cv_.notify_all();
}

std::chrono::milliseconds ProcessSampler::interval() const
{
    std::lock_guard g(m_);
    return interval_;
}

WireSample ProcessSampler::sample()
{
    WireSample w;
    auto& s = w.sample;
    s.pid = rt_.myid();
    w.clock_ns = steady_ns();
    const auto cpu = cpu_time_ns();
    if (w.clock_ns > last_wall_ns_)
        s.cpu_percent = 100.0 * double(cpu - last_cpu_ns_) / double(w.clock_ns - last_wall_ns_);
    last_cpu_ns_ = cpu;
    last_wall_ns_ = w.clock_ns;
    s.rss_bytes = rss_bytes();
    auto& sched = rt_.scheduler();
    s.pools[0] = pool_sample(sched.pool(PoolKind::Default).stats());
    if (sched.has_pool(PoolKind::Interactive))
        s.pools[1] = pool_sample(sched.pool(PoolKind::Interactive).stats());
    s.channels = rt_.refs().channel_samples();
    s.store = rt_.refs().table(max_store_entries_, s.store_entries, s.store_bytes);
    s.traffic = rt_.mesh().traffic();
    std::set<std::uint32_t> labels;
    for (int t = 1; t <= sched.total_threads(); ++t) {
        auto& ring = sched.spans(t);
        ring.drain([&](const RawSpan& r) {
            w.spans.push_back(r);
            labels.insert(r.label);
        });
        s.spans_dropped += ring.dropped();
    }
    for (auto l : labels)
        w.labels.emplace_back(l, rt_.kernels().label_name(l));
    return w;
}

void ProcessSampler::run()
{
    std::unique_lock lk(m_);
    for (;;) {
        if (interval_.count() <= 0) {
            const bool woken = cv_.wait_for(
                lk, std::chrono::seconds(1), [&] { return stop_ || interval_.count() > 0; });
            if (!woken && idle_) {
                lk.unlock();
                idle_();
                lk.lock();
            }
        } else {
            // Every process samples on the same grid of the machine's steady clock: samples of
            // one instant describe the cluster at that instant, and they reach the master
            // together, read in one wake-up of its I/O thread instead of one each.
            const auto now = std::chrono::steady_clock::now().time_since_epoch();
            const auto next = (now / interval_ + 1) * interval_;
            cv_.wait_until(lk, std::chrono::steady_clock::time_point(next), [&] { return stop_; });
        }
        if (stop_)
            return;
        if (interval_.count() <= 0)
            continue;
        lk.unlock();
        auto w = sample();
        deliver_(std::move(w));
        lk.lock();
    }
}

} // namespace weft::detail
