#pragma once
// One process of the cluster, as the composition root of its parts: the pools that run its
// tasks, the I/O loop, the mesh of peers, the calls it waits for, its reference tracker, and the
// servers that answer calls, fetches and channel operations. It implements the call API (a
// kernel's Context reaches it as a Process) and routes each incoming message to the part that
// handles it. Public methods are thread-safe.

#include "call_dispatch.h"
#include "call_table.h"
#include "channel_server.h"
#include "event_loop.h"
#include "fetch_server.h"
#include "holding_refs.h"
#include "listener.h"
#include "mesh.h"
#include "reference_tracker.h"
#include "scheduler.h"
#include "weft/cluster.h"
#include "weft/process.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace weft::detail {

class KernelRegistry;
struct WireSample;

struct RuntimeOptions {
    Pid pid = 0; // 1 for the master; a worker learns its id when it joins
    Threads threads;
    Cookie cookie;
    WireLimits limits;
    Topology topology = Topology::Lazy;
    std::string host = "127.0.0.1";
    bool listen_tcp = true; // false: a Unix socket only (local workers of a Unix cluster)
};

class ProcessRuntime final : public Process, public std::enable_shared_from_this<ProcessRuntime> {
public:
    ProcessRuntime(RuntimeOptions options, std::shared_ptr<KernelRegistry> kernels);
    ~ProcessRuntime() noexcept override;
    // Stops the I/O loop (closing every connection), then the pools. Idempotent.
    void shutdown();

    // ---- Process API ----
    [[nodiscard]] Pid myid() const override { return pid_.load(std::memory_order_acquire); }
    [[nodiscard]] std::vector<Pid> workers() const override { return mesh_->workers(); }
    [[nodiscard]] std::vector<Pid> procs() const override { return mesh_->procs(); }
    Future remotecall_args(
        std::string_view kernel, Pid pid, List args, CallOptions o = {}) override;
    Value remotecall_fetch_args(
        std::string_view kernel, Pid pid, List args, CallOptions o = {}) override;
    Future remotecall_wait_args(
        std::string_view kernel, Pid pid, List args, CallOptions o = {}) override;
    void remote_do_args(std::string_view kernel, Pid pid, List args, CallOptions o = {}) override;
    Pid next_worker() override;
    [[nodiscard]] std::vector<StoreEntryInfo> store_table() const override;

    // ---- the parts ----
    Scheduler& scheduler() { return *sched_; }
    EventLoop& loop() { return loop_; }
    KernelRegistry& kernels() { return *kernels_; }
    CallTable& calls() { return calls_; }
    ReferenceTracker& refs() { return refs_; }
    Mesh& mesh() { return *mesh_; }
    ChannelServer& channels() { return channels_; }
    FetchServer& fetches() { return fetches_; }
    CallDispatch& dispatch() { return dispatch_; }
    HoldingRefs& holding_refs() { return holding_; }
    [[nodiscard]] const WireLimits& limits() const { return opts_.limits; }
    [[nodiscard]] const RuntimeOptions& options() const { return opts_; }

    // Calls `kernel` with `args` on every process of `pids` at once (one request each, answered
    // directly: no Future, no fetch round trip) and returns what each answer completes, in
    // order: the kernel's value or its error (value_or_throw turns that into the exception).
    std::vector<std::shared_ptr<Completion>> call_each(
        std::string_view kernel, const std::vector<Pid>& pids, const List& args, Pool pool);
    // The same with each process's own arguments (`args[i]` for `pids[i]`).
    std::vector<std::shared_ptr<Completion>> call_each(std::string_view kernel,
        const std::vector<Pid>& pids, const std::vector<List>& args, Pool pool);

    // ---- the parts' shared means ----
    RefId new_ref_id();
    // Sends the request `build(id)` makes to process `to` and returns what its answer completes
    // (`into`, if given). Throws for an unknown or exited process.
    template <class Build>
    std::shared_ptr<Completion> request(
        Pid to, Build&& build, std::shared_ptr<Completion> into = nullptr);
    // Waits a moment for an answer from `pid` by reading the connection on this thread (a plain
    // thread; a task simply suspends in wait()). The answer usually comes within a round trip,
    // and reading it here saves waking the I/O thread and then being woken by it.
    void await_reply(Completion& done, Pid pid);
    // Sends `f` to `target`, after telling the owners of the references it carries that `target`
    // holds them (before the frame can reach it, so no owner frees a value on the way).
    bool send_to(Connection& conn, Pid target, std::unique_ptr<OutFrame> f, bool batchable = false);
    // Answers request `id` of `to` with `v` (an error naming the frame limit if `v` is too big).
    void answer(Connection& conn, Pid to, std::uint64_t id, const Value& v);

    // ---- worker side ----
    // Listens on TCP (and a Unix socket) and returns the addresses to announce.
    std::vector<std::string> listen();
    // Unlinks this process's Unix socket files (a worker about to end at once).
    void remove_socket_files();
    // Called once, on the loop thread, when the master asks this worker to exit or goes away.
    void on_exit_requested(std::function<void(const std::string& why)> cb);

    // ---- master side ----
    // Connects to a started worker, handshakes, and makes it join. Loop thread.
    void connect_worker(
        Pid pid, const std::string& address, std::function<void(const std::string& error)> ready);
    void send_interrupt(Pid pid) { mesh_->send(pid, msg::interrupt()); }
    void send_exit(Pid pid) { mesh_->send(pid, msg::exit()); }
    // Round trip of a protocol ping answered by the peer's I/O thread (no task), in microseconds.
    double ping(Pid pid);
    // The offset of `pid`'s steady clock from ours, from `probes` round trips (the shortest
    // bounds the error). Any thread but the I/O thread.
    ClockEstimate estimate_clock(Pid pid, int probes);

    // ---- telemetry ----
    // Master: where workers' samples go (on the I/O thread), with the time they arrived.
    using TelemetrySink = std::function<void(Pid, WireSample&&, std::int64_t received_ns)>;
    void set_telemetry_sink(TelemetrySink sink);
    // Master: the interval every worker samples at, now and when it joins (0: off).
    void set_telemetry_interval(std::uint32_t ms);
    [[nodiscard]] std::uint32_t telemetry_interval() const { return telemetry_ms_.load(); }
    // Worker: called (on the I/O thread) when the master sets the interval, at join too.
    void on_telemetry_interval(std::function<void(std::uint32_t ms)> cb);
    // Worker: sends one sample to the master.
    void send_telemetry(const WireSample& sample);

    void set_log(std::function<void(const std::string&)> cb);
    void log(const std::string& msg);

private:
    class MasterPoller;
    std::shared_ptr<Completion> start_call(
        CallKind kind, std::string_view kernel, Pid pid, List args, RefId ref, Pool pool);
    Future make_future(RemoteRef r);
    void on_frame(const std::shared_ptr<Connection>& conn, Pid from, InFrame&& frame);
    void on_message(const std::shared_ptr<Connection>& conn, Pid from, InFrame&& frame);
    // Answers what a frame that could not be acted on left waiting: the call it carried, the
    // request or result it named, or else the connection it came on (closed with `why`).
    void reject_message(const std::shared_ptr<Connection>& conn, const std::string& why,
        std::optional<IncomingCall> call, std::uint64_t request_id, std::uint64_t result_id);
    void on_peer_exited(Pid pid, const std::string& reason);
    void on_join(wire::Join::Reader j);
    void apply_telemetry_interval(std::uint32_t ms);
    void request_exit(const std::string& why);

    RuntimeOptions opts_;
    std::shared_ptr<KernelRegistry> kernels_;
    std::atomic<Pid> pid_;
    // Before sched_: its idle threads read these from the moment it starts.
    std::mutex poll_m_;
    std::shared_ptr<Connection> master_conn_; // a worker's connection from the master
    std::function<void(const std::string&)> exit_cb_; // guarded by poll_m_
    std::unique_ptr<Scheduler> sched_;
    EventLoop loop_;
    std::atomic<bool> shut_down_ { false };

    CallTable calls_;
    ReferenceTracker refs_;
    std::shared_ptr<Mesh> mesh_;
    std::shared_ptr<Listener> listener_;
    HoldingRefs holding_ { *this };
    ChannelServer channels_ { *this };
    FetchServer fetches_ { *this };
    CallDispatch dispatch_ { *this };
    std::atomic<std::uint64_t> next_ref_ { 1 };
    std::atomic<std::size_t> round_robin_ { 0 };

    std::atomic<std::uint32_t> telemetry_ms_ { 0 };
    std::mutex telemetry_m_;
    TelemetrySink telemetry_sink_;
    std::function<void(std::uint32_t)> telemetry_interval_cb_;
    std::mutex log_m_;
    std::function<void(const std::string&)> log_cb_;
};

template <class Build>
std::shared_ptr<Completion> ProcessRuntime::request(
    Pid to, Build&& build, std::shared_ptr<Completion> into)
{
    auto done = into ? std::move(into) : std::make_shared<Completion>();
    const std::uint64_t id = calls_.next_ids();
    // Waiting before it can be answered; and once waiting, a peer's exit fails it.
    calls_.add(id, to, done);
    std::shared_ptr<Connection> conn;
    std::unique_ptr<OutFrame> f;
    try {
        conn = mesh_->connection_to(to);
        f = build(id);
    } catch (...) {
        calls_.remove(id);
        throw;
    }
    send_to(*conn, to, std::move(f));
    return done;
}

} // namespace weft::detail
