#include "weft/cluster.h"

#include "builtin_kernels.h"
#include "local_manager.h"
#include "process_runtime.h"
#include "process_sampler.h"
#include "telemetry_hub.h"
#include "weft/errors.h"
#include "weft/telemetry.h"
#include "weft/threads.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <sys/resource.h>
#include <thread>

namespace weft {

const char* worker_state_name(WorkerState s)
{
    switch (s) {
    case WorkerState::Starting:
        return "starting";
    case WorkerState::Running:
        return "running";
    case WorkerState::Exiting:
        return "exiting";
    case WorkerState::Exited:
        return "exited";
    }
    return "?";
}

void sleep(std::chrono::nanoseconds d)
{
    check_interrupt();
    if (!detail::current_task()) {
        detail::sleep_for(d);
        return;
    }
    // In slices, so an interrupt ends a long sleep within one.
    const auto end = std::chrono::steady_clock::now() + d;
    for (;;) {
        const auto left = end - std::chrono::steady_clock::now();
        if (left <= std::chrono::nanoseconds::zero())
            return;
        detail::sleep_for(std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(20)));
        check_interrupt();
    }
}

void check_interrupt()
{
    if (detail::task_interrupted())
        throw InterruptException();
}

void Cluster::interrupt(const std::vector<Pid>& pids)
{
    for (Pid p : pids.empty() ? workers() : pids) {
        if (p == 1)
            runtime_->scheduler().interrupt();
        else
            runtime_->send_interrupt(p);
    }
}

struct Cluster::Callbacks : detail::ClusterCallbacks {
    detail::CallbackList<std::shared_ptr<const TelemetrySnapshot>> telemetry;
};

Cluster::Cluster(ClusterOptions options)
    : callbacks_(std::make_unique<Callbacks>())
{
    check_threads(options.master_threads, "master_threads");
    auto kernels = std::make_shared<KernelRegistry>();
    register_builtin_kernels(*kernels);
    detail::RuntimeOptions ro;
    ro.pid = 1;
    ro.threads = options.master_threads;
    ro.cookie = detail::Cookie::random();
    ro.limits.max_frame_bytes = options.max_frame_bytes;
    ro.topology = options.topology;
    runtime_ = std::make_shared<detail::ProcessRuntime>(ro, std::move(kernels));
    runtime_->set_log([cbs = callbacks_.get()](const std::string& m) {
        if (cbs->log.empty()) {
            std::fprintf(stderr, "weft[process 1]: %s\n", m.c_str());
            return;
        }
        // A throwing log callback is reported where it cannot throw again.
        cbs->log.call(
            "on_log",
            [](const std::string& e) { std::fprintf(stderr, "weft[process 1]: %s\n", e.c_str()); },
            m);
    });
    TelemetryOptions to;
    to.interval = options.telemetry_interval;
    to.window = options.telemetry_window;
    to.max_spans = options.telemetry_max_spans;
    hub_ = std::make_unique<detail::TelemetryHub>(to, detail::steady_ns());
    hub_->process_added(1, "localhost");
    runtime_->set_telemetry_sink([hub = hub_.get(), rt = runtime_.get()](
                                     Pid from, Value v, std::int64_t received) {
        try {
            hub->ingest(from, detail::decode_sample(v), received);
        } catch (const std::exception& e) {
            rt->log("malformed telemetry from worker " + std::to_string(from) + ": " + e.what());
        }
    });
    local_ = std::make_unique<detail::LocalManager>(*runtime_, options, *callbacks_);
    on_worker_added([hub = hub_.get()](const WorkerInfo& w) { hub->process_added(w.pid, w.host); });
    on_worker_exiting(
        [hub = hub_.get()](Pid pid) { hub->process_state(pid, WorkerState::Exiting); });
    on_worker_exited([hub = hub_.get()](Pid pid, const std::string& reason) {
        hub->process_state(pid, WorkerState::Exited, reason);
    });
    sampler_ = std::make_unique<detail::ProcessSampler>(
        *runtime_,
        [this](detail::WireSample&& w) {
            hub_->ingest(1, std::move(w), detail::steady_ns());
            publish_telemetry();
        },
        to.max_store_entries);
    set_telemetry_interval(options.telemetry_interval);
}

void Cluster::publish_telemetry()
{
    if (callbacks_->telemetry.empty())
        return;
    callbacks_->telemetry.call(
        "on_telemetry", [rt = runtime_.get()](const std::string& m) { rt->log(m); },
        hub_->snapshot());
}

void Cluster::set_telemetry_interval(std::chrono::milliseconds interval)
{
    hub_->set_interval(interval);
    runtime_->set_telemetry_interval(static_cast<std::uint32_t>(interval.count()));
    sampler_->set_interval(interval);
}

std::chrono::milliseconds Cluster::telemetry_interval() const
{
    return sampler_->interval();
}

std::shared_ptr<const TelemetrySnapshot> Cluster::telemetry() const
{
    return hub_->snapshot();
}

CallbackId Cluster::on_telemetry(std::function<void(std::shared_ptr<const TelemetrySnapshot>)> cb)
{
    const auto id = callbacks_->ids.next();
    callbacks_->telemetry.add(id, std::move(cb));
    return id;
}

Cluster::~Cluster()
{
    try {
        auto all = runtime_->workers();
        all.erase(std::remove(all.begin(), all.end(), Pid(1)), all.end());
        local_->remove(all, std::chrono::seconds(2));
    } catch (const std::exception& e) {
        runtime_->log(std::string("while removing workers: ") + e.what());
    }
    sampler_.reset();
    local_.reset();
    runtime_->shutdown();
    runtime_->set_log(nullptr); // the callbacks go with this object; the runtime may not
}

int max_threads_per_pool()
{
    return std::max(64, 64 * static_cast<int>(std::thread::hardware_concurrency()));
}

void check_threads(const Threads& t, const std::string& who)
{
    const int max = max_threads_per_pool();
    const auto cores = std::to_string(std::thread::hardware_concurrency());
    if (t.default_threads < 1)
        throw std::invalid_argument(who + ": the default pool needs at least 1 thread (asked for "
            + std::to_string(t.default_threads) + ")");
    if (t.interactive < 0)
        throw std::invalid_argument(who + ": a negative number of interactive threads ("
            + std::to_string(t.interactive) + ")");
    for (const auto& [n, pool] :
        { std::pair { t.default_threads, "default" }, std::pair { t.interactive, "interactive" } })
        if (n > max)
            throw std::invalid_argument(who + ": " + std::to_string(n) + " threads in the " + pool
                + " pool is more than this machine runs sensibly (at most " + std::to_string(max)
                + ": 64 for each of its " + cores + " cores)");
}

namespace {

// What starting `n` more local workers costs this process and this machine, checked before any
// is started: a request beyond the descriptors or the memory fails at once, naming the limit
// (it used to start workers until something broke, and then hang).
void check_room_for_workers(int n, const Threads& threads)
{
    if (n < 0)
        throw std::invalid_argument(
            "addprocs: a negative number of workers (" + std::to_string(n) + ")");
    // The master's side of each worker: stdin, stdout and stderr pipes, its process handle, the
    // connection and the duplicate the event loop watches.
    constexpr long kFdsPerWorker = 6;
    constexpr long kFdsSpare = 64; // for everything else this process opens
    rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        long open = 0;
        std::error_code ec;
        for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
             !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
            ++open;
        const long room = (static_cast<long>(rl.rlim_cur) - open - kFdsSpare) / kFdsPerWorker;
        if (n > room)
            throw std::invalid_argument("addprocs(" + std::to_string(n)
                + "): each local worker takes " + std::to_string(kFdsPerWorker)
                + " file descriptors here, and this process may open " + std::to_string(rl.rlim_cur)
                + " (" + std::to_string(open) + " open now): room for "
                + std::to_string(std::max(0L, room))
                + " more workers (raise the limit with ulimit -n)");
    }
    // A worker's own memory (about 10 MiB) and its threads' stacks.
    const long long per_worker_kb
        = 16 * 1024 + 1024LL * (threads.default_threads + threads.interactive);
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    long long kb = 0;
    std::string unit;
    while (meminfo >> key >> kb >> unit)
        if (key == "MemAvailable:") {
            if (static_cast<long long>(n) * per_worker_kb > kb)
                throw std::invalid_argument("addprocs(" + std::to_string(n)
                    + "): " + std::to_string(n) + " workers need about "
                    + std::to_string(static_cast<long long>(n) * per_worker_kb / 1024)
                    + " MiB, and this machine has " + std::to_string(kb / 1024)
                    + " MiB available: room for " + std::to_string(kb / per_worker_kb)
                    + " more workers");
            break;
        }
}

} // namespace

std::vector<Pid> Cluster::addprocs(int n, Threads threads)
{
    check_threads(threads, "addprocs");
    check_room_for_workers(n, threads);
    return local_->launch(n, threads);
}

void Cluster::rmprocs(const std::vector<Pid>& pids, std::chrono::milliseconds timeout)
{
    for (Pid p : pids)
        if (p == 1)
            throw std::invalid_argument("rmprocs: process 1 (the master) cannot be removed");
    local_->remove(pids, timeout);
}

void Cluster::kill(Pid pid)
{
    if (pid == 1)
        throw std::invalid_argument("kill: process 1 is the master");
    if (!local_->kill(pid))
        throw UnknownProcessError(pid);
}

std::vector<WorkerInfo> Cluster::worker_info() const
{
    return local_->info();
}
PeerTraffic Cluster::traffic(Pid peer) const
{
    return runtime_->traffic(peer);
}
KernelRegistry& Cluster::kernels()
{
    return runtime_->kernels();
}

CallbackId Cluster::on_worker_added(std::function<void(const WorkerInfo&)> cb)
{
    const auto id = callbacks_->ids.next();
    callbacks_->added.add(id, std::move(cb));
    return id;
}
CallbackId Cluster::on_worker_exiting(std::function<void(Pid)> cb)
{
    const auto id = callbacks_->ids.next();
    callbacks_->exiting.add(id, std::move(cb));
    return id;
}
CallbackId Cluster::on_worker_exited(std::function<void(Pid, const std::string&)> cb)
{
    const auto id = callbacks_->ids.next();
    callbacks_->exited.add(id, std::move(cb));
    return id;
}
CallbackId Cluster::on_output(std::function<void(Pid, const std::string&)> cb)
{
    const auto id = callbacks_->ids.next();
    callbacks_->output.add(id, std::move(cb));
    return id;
}
CallbackId Cluster::on_log(std::function<void(const std::string&)> cb)
{
    const auto id = callbacks_->ids.next();
    callbacks_->log.add(id, std::move(cb));
    return id;
}
bool Cluster::remove_callback(CallbackId id)
{
    auto& c = *callbacks_;
    // Ids are unique across the lists: at most one of these finds it.
    return c.added.remove(id) || c.exiting.remove(id) || c.exited.remove(id) || c.output.remove(id)
        || c.log.remove(id) || c.telemetry.remove(id);
}

std::vector<Pid> Cluster::workers() const
{
    return runtime_->workers();
}
std::vector<Pid> Cluster::procs() const
{
    return runtime_->procs();
}
Future Cluster::remotecall_args(std::string_view k, Pid pid, List args, CallOptions o)
{
    return runtime_->remotecall_args(k, pid, std::move(args), o);
}
Value Cluster::remotecall_fetch_args(std::string_view k, Pid pid, List args, CallOptions o)
{
    return runtime_->remotecall_fetch_args(k, pid, std::move(args), o);
}
Future Cluster::remotecall_wait_args(std::string_view k, Pid pid, List args, CallOptions o)
{
    return runtime_->remotecall_wait_args(k, pid, std::move(args), o);
}
void Cluster::remote_do_args(std::string_view k, Pid pid, List args, CallOptions o)
{
    runtime_->remote_do_args(k, pid, std::move(args), o);
}
Pid Cluster::next_worker()
{
    return runtime_->next_worker();
}

} // namespace weft

namespace weft {
detail::Scheduler& Cluster::local_scheduler()
{
    return runtime_->local_scheduler();
}
} // namespace weft

namespace weft {

std::vector<StoreEntryInfo> Cluster::store_table() const
{
    return runtime_->store_table();
}

std::vector<StoreEntryInfo> Cluster::store_table(Pid pid)
{
    if (pid == 1)
        return store_table();
    CallOptions o;
    o.pool = Pool::Interactive;
    return store_table_from_value(remotecall_fetch_args("store_table", pid, {}, o));
}

} // namespace weft
