// pmap, distributed_reduce and everywhere: feeders and fan-outs over the call API.

#include "weft/patterns.h"

#include "pattern_kernels.h"
#include "weft/errors.h"
#include "weft/threads.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>

namespace weft {

namespace {

std::vector<Pid> pool_of(Process& p, const std::vector<Pid>& chosen)
{
    auto ws = chosen.empty() ? p.workers() : chosen;
    if (ws.empty())
        throw InvalidStateException("no processes to run on");
    return ws;
}

// The work of one pmap: batches handed to feeders, results in input order.
struct PmapRun {
    std::mutex m;
    detail::Condition cv;
    std::size_t nbatches = 0;
    std::size_t next = 0; // next batch never handed out
    std::deque<std::size_t> retry; // batches whose worker exited
    std::size_t inflight = 0;
    std::size_t live_feeders = 0;
    std::size_t items_done = 0;
    std::exception_ptr error;

    bool work_left() const { return next < nbatches || !retry.empty(); }
};

} // namespace

std::vector<Value> pmap(
    Process& p, std::string_view kernel, const List& items, const PmapOptions& o)
{
    const auto ws = pool_of(p, o.workers);
    const std::size_t n = items.size();
    std::vector<Value> results(n);
    if (n == 0)
        return results;
    const std::size_t bs = std::max<std::size_t>(1, o.batch_size);
    PmapRun run;
    run.nbatches = (n + bs - 1) / bs;
    run.live_feeders = ws.size();
    const std::string name(kernel);

    auto feeder = [&](Pid w) {
        std::unique_lock lk(run.m);
        for (;;) {
            run.cv.wait(lk, [&] { return run.error || run.work_left() || run.inflight == 0; });
            if (run.error || !run.work_left())
                break;
            std::size_t b;
            if (!run.retry.empty()) {
                b = run.retry.front();
                run.retry.pop_front();
            } else {
                b = run.next++;
            }
            ++run.inflight;
            lk.unlock();
            const std::size_t first = b * bs, last = std::min(n, first + bs);
            List batch(items.begin() + static_cast<std::ptrdiff_t>(first),
                items.begin() + static_cast<std::ptrdiff_t>(last));
            std::optional<Value> out;
            std::exception_ptr err;
            bool exited = false;
            try {
                out = p.remotecall_fetch_args(
                    "weft.map_batch", w, make_args(name, Value(std::move(batch))), o.call);
            } catch (const ProcessExitedException&) {
                exited = true;
                err = std::current_exception();
            } catch (...) {
                err = std::current_exception();
            }
            lk.lock();
            --run.inflight;
            if (exited) {
                run.retry.push_back(b);
                if (--run.live_feeders == 0 && !run.error)
                    run.error = err;
                run.cv.notify_all();
                return;
            }
            if (err) {
                if (!run.error)
                    run.error = err;
                run.cv.notify_all();
                break;
            }
            auto& vals = out->as_list();
            for (std::size_t i = 0; i < vals.size() && first + i < n; ++i)
                results[first + i] = std::move(vals[i]);
            run.items_done += last - first;
            const auto done = run.items_done;
            run.cv.notify_all();
            if (o.on_progress) {
                lk.unlock();
                o.on_progress(done, n);
                lk.lock();
            }
        }
        --run.live_feeders;
        run.cv.notify_all();
    };

    std::vector<TaskHandle<void>> feeders;
    feeders.reserve(ws.size());
    for (Pid w : ws)
        feeders.push_back(spawn_task(p, [&feeder, w] { feeder(w); }));
    for (auto& f : feeders)
        f.wait();
    if (run.error)
        std::rethrow_exception(run.error);
    return results;
}

Value distributed_reduce(Process& p, std::string_view reducer, std::string_view mapper,
    std::int64_t lo, std::int64_t hi, const ReduceOptions& o)
{
    if (hi <= lo)
        throw std::invalid_argument("distributed_reduce over an empty range");
    const auto ws = pool_of(p, o.workers);
    const auto chunks = detail::split_range(lo, hi, static_cast<std::int64_t>(ws.size()));
    std::vector<Future> parts;
    parts.reserve(chunks.size());
    for (std::size_t c = 0; c < chunks.size(); ++c)
        parts.push_back(p.remotecall_args("weft.reduce_range", ws[c],
            make_args(std::string(reducer), std::string(mapper), chunks[c].first, chunks[c].second),
            o.call));
    auto vals = fetch_all(parts);
    Context ctx(p);
    Value acc = std::move(vals.front());
    for (std::size_t i = 1; i < vals.size(); ++i)
        acc = detail::apply_reducer(ctx, reducer, acc, vals[i]);
    return acc;
}

std::map<Pid, Value> everywhere(Process& p, std::string_view kernel, const List& args)
{
    const auto ps = p.procs();
    std::vector<Future> fs;
    fs.reserve(ps.size());
    for (Pid q : ps)
        fs.push_back(p.remotecall_args(kernel, q, args));
    // Every answer first; then one CompositeException naming each process that failed.
    std::map<Pid, Value> out;
    std::vector<CompositeException::Entry> failed;
    for (std::size_t i = 0; i < ps.size(); ++i) {
        try {
            out.emplace(ps[i], fs[i].fetch());
        } catch (const std::exception& e) {
            failed.push_back({ ps[i], std::current_exception(), e.what() });
        }
    }
    if (!failed.empty())
        throw CompositeException(std::move(failed));
    return out;
}

} // namespace weft
