#include "weft/cluster.h"

#include "builtin_kernels.h"
#include "error_capture.h"
#include "inspect_codec.h"
#include "kernel_registry.h"
#include "library_checker.h"
#include "library_kernels.h"
#include "process_access.h"
#include "process_runtime.h"
#include "process_sampler.h"
#include "telemetry_hub.h"
#include "weft/cluster_manager.h"
#include "weft/errors.h"
#include "weft/ssh.h"
#include "weft/telemetry.h"
#include "weft/threads.h"
#include "worker_supervisor.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

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

struct Cluster::Impl {
    detail::ClusterCallbacks callbacks;
    detail::CallbackList<std::shared_ptr<const TelemetrySnapshot>> telemetry;
    std::shared_ptr<detail::ProcessRuntime> runtime;
    std::unique_ptr<detail::TelemetryHub> hub;
    std::unique_ptr<LocalManager> local;
    std::unique_ptr<detail::WorkerSupervisor> workers;
    std::unique_ptr<detail::ProcessSampler> sampler; // last: it feeds hub from its thread
    mutable std::mutex libraries_m;

    // Loaded on every worker as it joins, one per library name. `checked`: the master's own
    // check (a forked child) passed, so workers on this host need not repeat it.
    struct Library {
        std::string name, path;
        bool checked = false;
    };
    std::vector<Library> libraries;

    void publish_telemetry()
    {
        if (telemetry.empty())
            return;
        telemetry.call(
            "on_telemetry", [rt = runtime.get()](const std::string& m) { rt->log(m); },
            hub->snapshot());
    }
};

detail::ProcessRuntime& detail::ProcessAccess::runtime(Process& p)
{
    if (auto* c = dynamic_cast<Cluster*>(&p))
        return *c->impl_->runtime;
    if (auto* rt = dynamic_cast<ProcessRuntime*>(&p))
        return *rt;
    throw std::invalid_argument("this Process was not made by the Weft engine");
}

void Cluster::interrupt(const std::vector<Pid>& pids)
{
    for (Pid p : pids.empty() ? workers() : pids) {
        if (p == 1)
            impl_->runtime->scheduler().interrupt();
        else
            impl_->runtime->send_interrupt(p);
    }
}

Cluster::Cluster(ClusterOptions options, const detail::KernelDef* program_kernels)
    : impl_(std::make_unique<Impl>())
{
    check_threads(options.master_threads, "master_threads");
    auto& d = *impl_;
    auto kernels = std::make_shared<detail::KernelRegistry>();
    detail::register_builtin_kernels(*kernels);
    kernels->add_defined(program_kernels);
    // The master checks each library in a forked child first (a static initialiser that throws
    // would abort the process inside dlopen); workers on this host then trust that check.
    for (const auto& path : options.kernel_libraries) {
        d.libraries.push_back({ detail::load_library(*kernels, path, true).name, path, true });
    }
    detail::RuntimeOptions ro;
    ro.pid = 1;
    ro.threads = options.master_threads;
    ro.cookie = detail::Cookie::random();
    ro.limits.max_frame_bytes = options.max_frame_bytes;
    ro.topology = options.topology;
    d.runtime = std::make_shared<detail::ProcessRuntime>(ro, std::move(kernels));
    d.runtime->set_log([cbs = &d.callbacks](const std::string& m) {
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
    detail::TelemetryOptions to;
    to.interval = options.telemetry_interval;
    to.window = options.telemetry_window;
    to.max_spans = options.telemetry_max_spans;
    d.hub = std::make_unique<detail::TelemetryHub>(to, detail::steady_ns());
    WorkerInfo master;
    master.pid = 1;
    master.host = "localhost";
    master.os_pid = static_cast<int>(::getpid());
    master.threads = options.master_threads;
    master.state = WorkerState::Running;
    d.hub->membership(master);
    d.runtime->set_telemetry_sink(
        [hub = d.hub.get()](Pid from, detail::WireSample&& w, std::int64_t received) {
            hub->ingest(from, std::move(w), received);
        });
    d.local = std::make_unique<LocalManager>(options.worker_path);
    // Kernel libraries are checked in a child of a small helper (see library_checker.h); it
    // starts now, beside the rest of the start-up.
    detail::start_library_checker(d.local->worker_path());
    d.workers = std::make_unique<detail::WorkerSupervisor>(*d.runtime, options, d.callbacks);
    // Membership is part of what the engine publishes: a snapshot goes out at every change.
    d.callbacks.membership.add(d.callbacks.ids.next(), [&d](const WorkerInfo& w) {
        d.hub->membership(w);
        d.publish_telemetry();
    });
    d.sampler = std::make_unique<detail::ProcessSampler>(
        *d.runtime,
        [&d](detail::WireSample&& w) {
            d.hub->ingest(1, std::move(w), detail::steady_ns());
            d.publish_telemetry();
        },
        to.max_store_entries,
        // With sampling off, the record still goes out once a second (membership, exits).
        [&d] { d.publish_telemetry(); });
    set_telemetry_interval(options.telemetry_interval);
}

void Cluster::set_telemetry_interval(std::chrono::milliseconds interval)
{
    impl_->hub->set_interval(interval);
    impl_->runtime->set_telemetry_interval(static_cast<std::uint32_t>(interval.count()));
    impl_->sampler->set_interval(interval);
}

std::chrono::milliseconds Cluster::telemetry_interval() const
{
    return impl_->sampler->interval();
}

std::shared_ptr<const TelemetrySnapshot> Cluster::telemetry() const
{
    return impl_->hub->snapshot();
}

CallbackId Cluster::on_telemetry(std::function<void(std::shared_ptr<const TelemetrySnapshot>)> cb)
{
    const auto id = impl_->callbacks.ids.next();
    impl_->telemetry.add(id, std::move(cb));
    return id;
}

Cluster::~Cluster()
{
    auto& d = *impl_;
    try {
        auto all = d.runtime->workers();
        all.erase(std::remove(all.begin(), all.end(), Pid(1)), all.end());
        d.workers->remove(all, std::chrono::seconds(2));
    } catch (const std::exception& e) {
        d.runtime->log(std::string("while removing workers: ") + e.what());
    }
    d.sampler.reset();
    d.workers.reset();
    d.runtime->shutdown();
    d.runtime->set_log(nullptr); // the callbacks go with this object; the runtime may not
}

std::string bundled_kernel_library(const std::string& name)
{
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec)
        return {};
    const auto p
        = (exe.parent_path() / ".." / WEFT_KERNEL_DIR / ("lib" + name + ".so")).lexically_normal();
    return std::filesystem::is_regular_file(p, ec) ? p.string() : std::string();
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
    return addprocs(*impl_->local, n, threads);
}

std::vector<Pid> Cluster::addprocs(const SshSpec& spec)
{
    return addprocs(std::vector<SshSpec> { spec });
}

std::vector<Pid> Cluster::addprocs(const std::vector<SshSpec>& specs)
{
    // Hosts with the same threads per worker log in together, in parallel.
    std::vector<Pid> out;
    std::vector<bool> done(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
        if (done[i])
            continue;
        std::vector<SshSpec> group;
        for (std::size_t j = i; j < specs.size(); ++j)
            if (!done[j] && specs[j].threads == specs[i].threads) {
                group.push_back(specs[j]);
                done[j] = true;
            }
        SshManager m(group);
        auto pids = addprocs(m, m.count(), specs[i].threads);
        out.insert(out.end(), pids.begin(), pids.end());
    }
    return out;
}

std::vector<Pid> Cluster::addprocs(ClusterManager& manager, int n, Threads threads)
{
    check_threads(threads, "addprocs");
    check_room_for_workers(n, threads);
    auto pids = impl_->workers->launch(manager, n, threads);
    // Spans from another host's clock land on this one's timeline through a measured offset.
    for (Pid p : pids)
        if (!impl_->workers->on_this_host(p)) {
            try {
                (void)estimate_clock(p);
            } catch (const std::exception& e) {
                impl_->runtime->log(
                    "cannot measure the clock of worker " + std::to_string(p) + ": " + e.what());
            }
        }
    // New workers load what the others have before anyone can call them.
    std::vector<Impl::Library> libraries;
    {
        std::lock_guard g(impl_->libraries_m);
        libraries = impl_->libraries;
    }
    for (const auto& lib : libraries)
        for (auto& r : load_on(lib.path, pids, lib.checked))
            if (!r.ok)
                impl_->runtime->log(r.error);
    return pids;
}

namespace {
std::string where_is(const Cluster& c, Pid pid)
{
    if (pid == 1)
        return "the master (process 1)";
    std::string host = "localhost";
    for (auto& w : c.worker_info())
        if (w.pid == pid && !w.host.empty())
            host = w.host;
    return "worker " + std::to_string(pid) + " on " + host;
}

KernelLoadResult load_result(Pid pid, detail::LibraryListing l)
{
    return { pid, true, std::move(l.name), std::move(l.version), std::move(l.kernels), {} };
}
} // namespace

std::vector<KernelLoadResult> Cluster::load_on(const std::string& path,
    const std::vector<Pid>& pids, bool preflighted, const std::function<void()>& meanwhile,
    const std::string& refused_here)
{
    // Each worker loads its host's copy: the same file on this machine, or one its manager
    // has deployed. A worker on another host checks the library itself (this machine's check
    // says nothing of that host).
    std::vector<Pid> calling;
    std::vector<List> args;
    std::vector<std::string> staging_errors(pids.size());
    for (std::size_t i = 0; i < pids.size(); ++i) {
        if (!refused_here.empty() && impl_->workers->on_this_host(pids[i])) {
            staging_errors[i] = refused_here; // the same file, refused by the same check
            continue;
        }
        try {
            args.push_back(List { impl_->workers->stage_file(pids[i], path),
                !preflighted || !impl_->workers->on_this_host(pids[i]) });
            calling.push_back(pids[i]);
        } catch (const std::exception& e) {
            staging_errors[i] = e.what();
        }
    }
    auto calls = impl_->runtime->call_each("weft.load_kernels", calling, args, Pool::Default);
    if (meanwhile)
        meanwhile();
    // A worker answers with a digest of its kernel table: when it is this process's table for
    // that library (the same file, as a rule), the table is copied from here; the others are
    // asked for theirs.
    std::optional<std::vector<detail::LibraryListing>> here;
    std::int64_t here_digest = 0;
    auto table_here = [&](const detail::LoadSummary& s) -> const detail::LibraryListing* {
        if (!here) {
            here = impl_->runtime->kernels().libraries();
            auto it = std::find_if(
                here->begin(), here->end(), [&](auto& l) { return l.name == s.name; });
            if (it != here->end())
                here_digest = detail::listing_digest(it->kernels);
        }
        for (const auto& l : *here)
            if (l.name == s.name && l.version == s.version && here_digest == s.digest)
                return &l;
        return nullptr;
    };
    std::vector<KernelLoadResult> out;
    std::vector<std::size_t> ask; // indices in `out` whose table is not the one here
    for (std::size_t i = 0, next = 0; i < pids.size(); ++i) {
        if (!staging_errors[i].empty()) {
            out.push_back({ pids[i], false, {}, {}, {},
                where_is(*this, pids[i]) + ": " + staging_errors[i] });
            continue;
        }
        try {
            auto s = detail::summary_from_value(detail::value_or_throw(calls[next++]->wait()));
            KernelLoadResult r { pids[i], true, s.name, s.version, {}, {} };
            if (const auto* l = table_here(s))
                r.kernels = l->kernels;
            else
                ask.push_back(out.size());
            out.push_back(std::move(r));
        } catch (const RemoteException& e) {
            out.push_back({ pids[i], false, {}, {}, {},
                where_is(*this, pids[i]) + ": " + e.remote_message() });
        } catch (const std::exception& e) {
            out.push_back(
                { pids[i], false, {}, {}, {}, where_is(*this, pids[i]) + ": " + e.what() });
        }
    }
    std::vector<Pid> asking;
    for (auto i : ask)
        asking.push_back(out[i].pid);
    auto tables
        = impl_->runtime->call_each("weft.kernel_libraries", asking, List {}, Pool::Default);
    for (std::size_t j = 0; j < ask.size(); ++j) {
        auto& r = out[ask[j]];
        try {
            for (const auto& v : detail::value_or_throw(tables[j]->wait()).as_list())
                if (auto l = detail::listing_from_value(v); l.name == r.library)
                    r.kernels = std::move(l.kernels);
        } catch (const std::exception& e) {
            r.ok = false;
            r.error = where_is(*this, r.pid) + ": loaded " + path
                + ", but its list of kernels cannot be read: " + e.what();
        }
    }
    return out;
}

std::vector<KernelLoadResult> Cluster::load_kernels(const std::string& path)
{
    // First the check, in a child of the library checker's helper: a library whose initialiser
    // throws or crashes is then refused on this machine without any process trying it for real
    // (workers on other hosts check their copy themselves). Then the workers load it while the
    // master does.
    const auto check = detail::check_library(path);
    const bool checked = check.empty();
    auto pids = workers();
    pids.erase(std::remove(pids.begin(), pids.end(), Pid(1)), pids.end());
    std::vector<KernelLoadResult> out(1);
    auto on_workers = load_on(
        path, pids, checked,
        [&] {
            try {
                if (!checked)
                    throw std::runtime_error(check);
                out[0]
                    = load_result(1, detail::load_library(impl_->runtime->kernels(), path, false));
            } catch (const std::exception& e) {
                out[0] = { 1, false, {}, {}, {}, where_is(*this, 1) + ": " + e.what() };
            }
        },
        check);
    for (auto& r : on_workers)
        out.push_back(std::move(r));
    detail::library_checker_idle(); // the next check's child is forked now, not during a load
    if (std::any_of(out.begin(), out.end(), [](auto& r) { return r.ok; })) {
        std::lock_guard g(impl_->libraries_m);
        // A reload (the same library name, from this file or another) takes the old one's place.
        const auto& name
            = std::find_if(out.begin(), out.end(), [](auto& r) { return r.ok; })->library;
        auto& l = impl_->libraries;
        auto it = std::find_if(l.begin(), l.end(), [&](auto& e) { return e.name == name; });
        if (it == l.end())
            l.push_back({ name, path, checked });
        else
            *it = { name, path, checked };
    }
    return out;
}

std::vector<ProcessKernelLibraries> Cluster::kernel_libraries()
{
    std::vector<ProcessKernelLibraries> out;
    out.push_back({ 1, impl_->runtime->kernels().libraries(), {} });
    auto pids = workers();
    pids.erase(std::remove(pids.begin(), pids.end(), Pid(1)), pids.end());
    auto calls
        = impl_->runtime->call_each("weft.kernel_libraries", pids, List {}, Pool::Interactive);
    for (std::size_t i = 0; i < pids.size(); ++i) {
        ProcessKernelLibraries r { pids[i], {}, {} };
        try {
            for (auto& l : detail::value_or_throw(calls[i]->wait()).as_list())
                r.libraries.push_back(detail::listing_from_value(l));
        } catch (const std::exception& e) {
            r.error = where_is(*this, pids[i]) + ": " + e.what();
        }
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<std::vector<KernelDescription>> Cluster::kernels_on(const std::vector<Pid>& pids)
{
    std::vector<Pid> remote;
    std::copy_if(
        pids.begin(), pids.end(), std::back_inserter(remote), [](Pid p) { return p != 1; });
    auto calls = impl_->runtime->call_each("weft.kernel_table", remote, List {}, Pool::Interactive);
    std::vector<std::vector<KernelDescription>> out;
    std::size_t next = 0;
    for (Pid p : pids) {
        if (p == 1) {
            out.push_back(kernels());
            continue;
        }
        auto& list = out.emplace_back();
        for (auto& k : detail::value_or_throw(calls[next++]->wait()).as_list())
            list.push_back(detail::kernel_from_value(k));
    }
    return out;
}

std::vector<std::string> Cluster::kernel_library_paths() const
{
    std::lock_guard g(impl_->libraries_m);
    std::vector<std::string> out;
    for (auto& l : impl_->libraries)
        out.push_back(l.path);
    return out;
}

void Cluster::rmprocs(const std::vector<Pid>& pids, std::chrono::milliseconds timeout)
{
    for (Pid p : pids)
        if (p == 1)
            throw std::invalid_argument("rmprocs: process 1 (the master) cannot be removed");
    impl_->workers->remove(pids, timeout);
}

void Cluster::kill(Pid pid)
{
    if (pid == 1)
        throw std::invalid_argument("kill: process 1 is the master");
    if (!impl_->workers->kill(pid))
        throw UnknownProcessError(pid);
}

ClockEstimate Cluster::estimate_clock(Pid pid, int probes)
{
    if (pid == 1)
        return { 0, 0, 0 };
    const auto c = impl_->runtime->estimate_clock(pid, std::max(1, probes));
    impl_->hub->set_clock_offset(pid, c.offset_ns);
    impl_->workers->set_clock(pid, c);
    return c;
}

std::vector<WorkerInfo> Cluster::worker_info() const
{
    return impl_->workers->info();
}
PeerTraffic Cluster::traffic(Pid peer) const
{
    return impl_->runtime->mesh().traffic(peer);
}
std::vector<KernelDescription> Cluster::kernels() const
{
    return impl_->runtime->kernels().list();
}

CallbackId Cluster::on_worker_added(std::function<void(const WorkerInfo&)> cb)
{
    const auto id = impl_->callbacks.ids.next();
    impl_->callbacks.added.add(id, std::move(cb));
    return id;
}
CallbackId Cluster::on_worker_exiting(std::function<void(Pid)> cb)
{
    const auto id = impl_->callbacks.ids.next();
    impl_->callbacks.exiting.add(id, std::move(cb));
    return id;
}
CallbackId Cluster::on_worker_exited(std::function<void(Pid, const std::string&)> cb)
{
    const auto id = impl_->callbacks.ids.next();
    impl_->callbacks.exited.add(id, std::move(cb));
    return id;
}
CallbackId Cluster::on_output(std::function<void(Pid, const std::string&)> cb)
{
    const auto id = impl_->callbacks.ids.next();
    impl_->callbacks.output.add(id, std::move(cb));
    return id;
}
CallbackId Cluster::on_log(std::function<void(const std::string&)> cb)
{
    const auto id = impl_->callbacks.ids.next();
    impl_->callbacks.log.add(id, std::move(cb));
    return id;
}
bool Cluster::remove_callback(CallbackId id)
{
    auto& c = impl_->callbacks;
    // Ids are unique across the lists: at most one of these finds it.
    return c.added.remove(id) || c.exiting.remove(id) || c.exited.remove(id) || c.output.remove(id)
        || c.log.remove(id) || impl_->telemetry.remove(id);
}

std::vector<Pid> Cluster::workers() const
{
    return impl_->runtime->workers();
}
std::vector<Pid> Cluster::procs() const
{
    return impl_->runtime->procs();
}
Future Cluster::remotecall_args(std::string_view k, Pid pid, List args, CallOptions o)
{
    return impl_->runtime->remotecall_args(k, pid, std::move(args), o);
}
Value Cluster::remotecall_fetch_args(std::string_view k, Pid pid, List args, CallOptions o)
{
    return impl_->runtime->remotecall_fetch_args(k, pid, std::move(args), o);
}
Future Cluster::remotecall_wait_args(std::string_view k, Pid pid, List args, CallOptions o)
{
    return impl_->runtime->remotecall_wait_args(k, pid, std::move(args), o);
}
void Cluster::remote_do_args(std::string_view k, Pid pid, List args, CallOptions o)
{
    impl_->runtime->remote_do_args(k, pid, std::move(args), o);
}
Pid Cluster::next_worker()
{
    return impl_->runtime->next_worker();
}

std::vector<StoreEntryInfo> Cluster::store_table() const
{
    return impl_->runtime->store_table();
}

std::vector<StoreEntryInfo> Cluster::store_table(Pid pid)
{
    if (pid == 1)
        return store_table();
    CallOptions o;
    o.pool = Pool::Interactive;
    return detail::store_table_from_value(remotecall_fetch_args("store_table", pid, {}, o));
}

} // namespace weft
