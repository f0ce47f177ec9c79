#pragma once
// The master process (pid 1): membership, worker launching and the call API.

#include "weft/process.h"
#include "weft/remote_channel.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weft {

namespace detail {
struct ProcessAccess;
} // namespace detail

struct TelemetrySnapshot;
class ClusterManager;
struct SshSpec;

// Names a registered callback (see Cluster::remove_callback).
enum class CallbackId : std::uint64_t {};

// Threads of a process, like Julia's --threads N,M: N in `default`, M in `interactive`.
struct Threads {
    int default_threads = 1;
    int interactive = 0;
    friend bool operator==(const Threads&, const Threads&) = default;
};
// The most threads a pool may have here: 64 per core, and at least 64.
[[nodiscard]] int max_threads_per_pool();
// Throws std::invalid_argument naming the limit when `t` asks for more than this machine can run
// (or for no default thread). `who` says whose threads they are ("addprocs", "--threads").
void check_threads(const Threads& t, const std::string& who);

enum class Transport : std::uint8_t { Unix, Tcp };
enum class Topology : std::uint8_t { Lazy, AllToAll, MasterWorker };

struct ClusterOptions {
    Threads master_threads { 2, 1 };
    Transport transport = Transport::Unix; // how the master reaches local workers
    Topology topology = Topology::Lazy;
    std::chrono::milliseconds worker_timeout { 60000 }; // launch to ready
    std::string worker_path; // default: $WEFT_WORKER, else weft-worker beside this program
    std::size_t max_frame_bytes = std::size_t(2) << 30;
    // Sampling of every process (see weft/telemetry.h); interval 0 turns it off.
    std::chrono::milliseconds telemetry_interval { 100 };
    std::chrono::seconds telemetry_window { 600 };
    std::size_t telemetry_max_spans = 1'000'000;
    // Kernel libraries loaded on the master when the cluster starts and on every worker as it
    // joins (as Cluster::load_kernels does). One the master cannot load fails the constructor.
    std::vector<std::string> kernel_libraries;
};

// What loading a kernel library did on one process.
struct KernelLoadResult {
    Pid pid = 0;
    bool ok = false;
    std::string library; // its name (a reload replaces the library of the same name)
    std::string version;
    std::vector<KernelDescription> kernels; // what it added, on success
    std::string error; // on failure: why, naming the process, its host and the file
};

// The kernel libraries one process has loaded (or why it could not say).
struct ProcessKernelLibraries {
    Pid pid = 0;
    std::vector<KernelLibraryInfo> libraries;
    std::string error;
};

// A kernel library installed with Weft, by name (e.g. "classroom"):
// <this program's directory>/../<libdir>/weft/kernels/lib<name>.so, or "" if there is none.
[[nodiscard]] std::string bundled_kernel_library(const std::string& name);

enum class WorkerState : std::uint8_t { Starting, Running, Exiting, Exited };
[[nodiscard]] const char* worker_state_name(WorkerState s);

// How a worker's clock relates to the master's: its steady clock minus the master's, and the
// most that estimate can be off (half the shortest round trip of `probes`). Workers on the
// master's host share its clock (probes 0).
struct ClockEstimate {
    std::int64_t offset_ns = 0;
    std::int64_t error_bound_ns = 0;
    int probes = 0;
};

struct WorkerInfo {
    Pid pid = 0;
    std::string host;
    int os_pid = 0;
    Threads threads;
    WorkerState state = WorkerState::Starting;
    std::string exit_reason;
    std::string address;
    ClockEstimate clock; // measured when it joined, for a worker on another host
};

// Message and byte counts on the connections between this process and one peer.
struct PeerTraffic {
    std::uint64_t messages_sent = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t messages_received = 0;
    std::uint64_t bytes_received = 0;
};

class Cluster final : public Process {
public:
    // The kernels this program defines with WEFT_KERNEL are loaded on the master (the program
    // that constructs the cluster passes its own list).
    explicit Cluster(ClusterOptions options = {})
        : Cluster(std::move(options), detail::g_kernel_defs)
    {
    }
    ~Cluster() override; // removes every worker; none outlives the cluster
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    // Starts `n` local workers in parallel and returns their ids (sorted) once all have joined.
    // Throws ConnectionError naming each worker that failed to start (the others stay).
    std::vector<Pid> addprocs(int n, Threads threads = {});
    // The same with another manager (weft/cluster_manager.h), e.g. SshManager (weft/ssh.h).
    std::vector<Pid> addprocs(ClusterManager& manager, int n, Threads threads = {});
    // Workers over SSH (weft/ssh.h): `count` on the spec's host, or each spec's on its host,
    // the hosts logged in to in parallel.
    std::vector<Pid> addprocs(const SshSpec& spec);
    std::vector<Pid> addprocs(const std::vector<SshSpec>& specs);
    // Asks the workers to exit, waits for them (killing stragglers after `timeout`).
    void rmprocs(
        const std::vector<Pid>& pids, std::chrono::milliseconds timeout = std::chrono::seconds(5));

    // Interrupts the calls running now on `pids` (default: every worker), like Julia's
    // interrupt(): kernels see it at their next check_interrupt() or sleep and fail with
    // InterruptException; the workers stay.
    void interrupt(const std::vector<Pid>& pids = {});
    // Kills a local worker at once (SIGKILL), as a crash would: its pending calls fail with
    // ProcessExitedException and it shows as exited with that reason. Throws
    // UnknownProcessError for a pid that was never a worker; nothing for one already gone.
    void kill(Pid pid);
    [[nodiscard]] std::vector<WorkerInfo> worker_info() const;
    // Measures `pid`'s clock against this one's with `probes` round trips, and from then on
    // places its spans on the master's timeline with it. addprocs does this for every worker
    // on another host.
    ClockEstimate estimate_clock(Pid pid, int probes = 16);
    [[nodiscard]] PeerTraffic traffic(Pid peer) const;
    // The kernels the master has loaded (pid 1 runs calls too), sorted by name.
    [[nodiscard]] std::vector<KernelDescription> kernels() const;

    // Loads a kernel library (see weft/kernel_library.h) on every process, the master first, and
    // on every worker added later: Julia's @everywhere include("mycode.jl"). Returns one result
    // per process (the master first). A failure on one process changes nothing on the others.
    // Loading a rebuilt library of the same name replaces its kernels for calls that start
    // afterwards; calls already running finish on the old code, which is unloaded after them.
    std::vector<KernelLoadResult> load_kernels(const std::string& path);
    // What every process has loaded (the master first).
    [[nodiscard]] std::vector<ProcessKernelLibraries> kernel_libraries();
    // Every kernel each of `pids` has loaded, sorted by name; asked of all at once (a process
    // that cannot answer throws, as remotecall_fetch would).
    [[nodiscard]] std::vector<std::vector<KernelDescription>> kernels_on(
        const std::vector<Pid>& pids);
    // The libraries every new worker loads as it joins, in load order (one per library name).
    [[nodiscard]] std::vector<std::string> kernel_library_paths() const;

    // Callbacks run on the engine's I/O thread: keep them short, never block in them. Each
    // returns an id for remove_callback. One that throws is caught and reported through on_log;
    // the event, and the other callbacks, carry on as if it had returned.
    CallbackId on_worker_added(std::function<void(const WorkerInfo&)> cb);
    CallbackId on_worker_exiting(std::function<void(Pid)> cb);
    CallbackId on_worker_exited(std::function<void(Pid, const std::string& reason)> cb);
    // Each line a worker prints (stdout or stderr), as Julia shows it: "From worker N: line".
    CallbackId on_output(std::function<void(Pid, const std::string& line)> cb);
    // Engine events worth a user's attention (a rejected connection, a malformed message).
    // Without any, they go to stderr.
    CallbackId on_log(std::function<void(const std::string& message)> cb);
    // Unregisters a callback: it is not called for events reported after this returns (a call
    // already under way on another thread may finish). False if the id is unknown.
    bool remove_callback(CallbackId id);

    // Telemetry: every process samples itself at this interval (0: off), on every worker at once.
    void set_telemetry_interval(std::chrono::milliseconds interval);
    [[nodiscard]] std::chrono::milliseconds telemetry_interval() const;
    // The latest record of every process, channel and task span (immutable, cheap to take).
    [[nodiscard]] std::shared_ptr<const TelemetrySnapshot> telemetry() const;
    // Called with a new snapshot after each of the master's own samples (on the sampler's thread:
    // keep it short, e.g. hand the pointer to another thread).
    CallbackId on_telemetry(std::function<void(std::shared_ptr<const TelemetrySnapshot>)> cb);

    // Process API
    [[nodiscard]] Pid myid() const override { return 1; }
    [[nodiscard]] std::vector<Pid> workers() const override;
    [[nodiscard]] std::vector<Pid> procs() const override;
    Future remotecall_args(
        std::string_view kernel, Pid pid, List args, CallOptions o = {}) override;
    Value remotecall_fetch_args(
        std::string_view kernel, Pid pid, List args, CallOptions o = {}) override;
    Future remotecall_wait_args(
        std::string_view kernel, Pid pid, List args, CallOptions o = {}) override;
    void remote_do_args(std::string_view kernel, Pid pid, List args, CallOptions o = {}) override;
    Pid next_worker() override;
    [[nodiscard]] std::vector<StoreEntryInfo> store_table() const override;
    // Any process's store table (asks the worker; its interactive pool answers if it has one).
    [[nodiscard]] std::vector<StoreEntryInfo> store_table(Pid pid);

private:
    Cluster(ClusterOptions options, const detail::KernelDef* program_kernels);
    // Loads `path` on `pids` (workers) in parallel, running `meanwhile` here while they do; one
    // result each, in order of `pids`. `refused_here`: why this machine's check refused the
    // library, given as the answer of every worker on this machine without asking it.
    std::vector<KernelLoadResult> load_on(const std::string& path, const std::vector<Pid>& pids,
        bool preflighted, const std::function<void()>& meanwhile = {},
        const std::string& refused_here = {});

    friend struct detail::ProcessAccess; // the engine reaches the runtime behind the master
    struct Impl; // the runtime, the telemetry record, the local manager, the callbacks
    std::unique_ptr<Impl> impl_;
};

} // namespace weft
