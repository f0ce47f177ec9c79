#pragma once
// One process's engine state: its pools, its connections to peers, the calls it waits for, and
// the store of values it owns with the processes that hold references to them.

#include "codec.h"
#include "completion.h"
#include "connection.h"
#include "event_loop.h"
#include "handshake.h"
#include "ref_store.h"
#include "rejection_log.h"
#include "scheduler.h"
#include "weft.capnp.h"
#include "weft/channel.h"
#include "weft/cluster.h"
#include "weft/process.h"
#include "weft/telemetry.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace weft::detail {

class ProcessRuntime;

struct RuntimeOptions {
    Pid pid = 0; // 1 for the master; a worker learns its id when it joins
    Threads threads;
    Cookie cookie;
    WireLimits limits;
    Topology topology = Topology::Lazy;
    std::string host = "127.0.0.1";
    bool listen_tcp = true; // false: a Unix socket only (local workers of a Unix cluster)
};

enum class CallKind : std::uint8_t { Async, Fetch, Wait, Do };

// The shared state behind every copy of one Future handle in this process: this process's hold
// on the value, and the value once fetched.
class FutureState final : public RefHold {
public:
    FutureState(std::weak_ptr<ProcessRuntime> rt, RemoteRef ref)
        : rt_(std::move(rt))
        , ref_(address_of(std::move(ref)))
    {
    }
    ~FutureState() override; // releases this process's hold on the value, if it still has one
    // A reference carrying this state as its hold.
    static RemoteRef address_of(RemoteRef r)
    {
        r.hold.reset(); // the state never holds itself
        return r;
    }

    const std::weak_ptr<ProcessRuntime> rt_;
    const RemoteRef ref_;
    std::mutex m_;
    std::optional<Value> cached_;
    bool released_ = false;
    std::shared_ptr<Completion> inflight_; // a fetch on its way, shared by concurrent fetchers
};

// One process's hold on a RemoteChannel, shared by every handle and reference to it here.
class ChannelHandle final : public RefHold {
public:
    ChannelHandle(std::weak_ptr<ProcessRuntime> rt, RemoteRef ref)
        : rt_(std::move(rt))
        , ref_(FutureState::address_of(std::move(ref)))
    {
    }
    ~ChannelHandle() override;
    std::shared_ptr<ProcessRuntime> runtime() const;
    const RemoteRef& ref() const { return ref_; }

private:
    std::weak_ptr<ProcessRuntime> rt_;
    RemoteRef ref_;
};

// The handle of type H (FutureState or ChannelHandle) for `r` in this process: the hold the
// reference carries if it has one (made here, or received in a message), else a new hold.
template <class H> std::shared_ptr<H> handle_for(ProcessRuntime& rt, const RemoteRef& r);

struct PeerState {
    std::string host;
    std::string tcp_address;
    std::string unix_address;
    std::shared_ptr<Connection> out; // the one connection this process sends to the peer on
    std::vector<std::shared_ptr<Connection>> all; // every live connection with the peer
    bool joined = false; // master side: the worker completed its join
    bool exited = false;
    std::string exit_reason;
};

class ProcessRuntime final : public Process, public std::enable_shared_from_this<ProcessRuntime> {
public:
    ProcessRuntime(RuntimeOptions options, std::shared_ptr<KernelRegistry> kernels);
    ~ProcessRuntime() noexcept override;
    // Stops the I/O loop (closing every connection), then the pools. Idempotent.
    void shutdown();

    // ---- Process API ----
    [[nodiscard]] Pid myid() const override { return pid_.load(std::memory_order_acquire); }
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
    Scheduler& local_scheduler() override { return *sched_; }
    ProcessRuntime& runtime_impl() override { return *this; }
    [[nodiscard]] std::vector<StoreEntryInfo> store_table() const override;

    // ---- RemoteChannels ----
    RemoteRef create_channel(std::size_t capacity, Pid owner);
    // Carries out `op` on the channel's owner; blocks (or suspends) like the local operation.
    Value channel_op(const RemoteRef& r, wire::ChannelOpKind op, Value v = {});

    // ---- Futures ----
    const Value& fetch(FutureState& f);
    // The two halves of fetch, so many fetches can be on the wire at once.
    // With `batch`, the request is added to it (per owner) instead of sent; send_fetch_batch sends.
    struct FetchBatch {
        struct Item {
            std::shared_ptr<Completion> done;
            RefId ref;
        };
        std::map<Pid, std::vector<Item>> by_owner; // call ids are taken when it is sent
    };
    std::shared_ptr<Completion> start_fetch(FutureState& f, FetchBatch* batch = nullptr);
    void send_fetch_batch(FetchBatch& batch);
    const Value& finish_fetch(FutureState& f, const std::shared_ptr<Completion>& req);
    // finalize() gave up its hold before it had a value: the owner may have freed it.
    static void throw_if_finalized(FutureState& f);
    void wait(FutureState& f);
    bool isready(FutureState& f);
    void release(FutureState& f);
    // Julia's finalize(f): releases the hold now and drops a fetched value too.
    void finalize(FutureState& f);
    // Drops `holder`'s hold on a reference (batched to a remote owner).
    void release_hold(const RemoteRef& r, Pid holder);
    // Adds `holder` as a holder of a reference at its owner (sent at once).
    void add_hold(const RemoteRef& r, Pid holder) { send_ref_op(r.owner, r.id, holder, true); }

    // ---- Worker side ----
    // Unlinks this process's Unix socket files (a worker about to end at once, without a
    // shutdown); the sockets stay open.
    void remove_socket_files();
    // Listens on TCP (and a Unix socket) and returns the addresses to announce.
    std::vector<std::string> listen();
    // Called once, on the loop thread, when the master asks this worker to exit or goes away.
    void on_exit_requested(std::function<void(const std::string& why)> cb);

    // ---- Master side ----
    // Registers a worker that is starting (its id is taken from now on).
    void add_starting_worker(Pid pid, const std::string& host);
    void set_peer_addresses(Pid pid, const std::string& tcp, const std::string& unix_address);
    // Connects to a started worker, handshakes, and makes it join. Loop thread.
    void connect_worker(
        Pid pid, const std::string& address, std::function<void(const std::string& error)> ready);
    // A peer has exited for `reason` (authoritative: the OS said so, or the master did).
    void peer_exited(Pid pid, const std::string& reason);
    void send_exit(Pid pid);
    void send_interrupt(Pid pid);
    // Round trip of a protocol ping answered by the peer's I/O thread (no task), in microseconds.
    double ping(Pid pid);

    // ---- Telemetry ----
    // Master: where workers' samples go (on the I/O thread), with the time they arrived.
    void set_telemetry_sink(std::function<void(Pid, Value, std::int64_t received_ns)> sink);
    // Master: the interval every worker samples at, now and when it joins (0: off).
    void set_telemetry_interval(std::uint32_t ms);
    [[nodiscard]] std::uint32_t telemetry_interval() const { return telemetry_ms_.load(); }
    // Worker: called (on the I/O thread) when the master sets the interval, at join too.
    void on_telemetry_interval(std::function<void(std::uint32_t ms)> cb);
    // Worker: sends one sample to the master.
    void send_telemetry(const Value& sample);
    [[nodiscard]] std::vector<ChannelSample> channel_samples() const;
    // The first `max` entries of the store table (by id), and the whole store's size.
    [[nodiscard]] std::vector<StoreEntryInfo> store_table(
        std::size_t max, std::uint64_t& entries, std::uint64_t& bytes) const;
    [[nodiscard]] std::vector<Pid> peer_ids() const;

    // ---- Introspection ----
    [[nodiscard]] PeerTraffic traffic(Pid peer) const;
    [[nodiscard]] std::optional<std::string> peer_exit_reason(Pid pid) const;

    EventLoop& loop() { return loop_; }
    Scheduler& scheduler() { return *sched_; }
    KernelRegistry& kernels() { return *kernels_; }
    const RuntimeOptions& options() const { return opts_; }

    void set_log(std::function<void(const std::string&)> cb);
    void log(const std::string& msg);

private:
    struct IncomingCall {
        CallKind kind = CallKind::Fetch;
        std::uint64_t call_id = 0;
        RefId ref;
        std::string kernel;
        List args;
        PoolKind pool = PoolKind::Default;
        Pid caller = 0;
        std::shared_ptr<Connection> reply_conn; // null for a call this process made to itself
        std::shared_ptr<Completion> slot; // the store entry's value, for async and wait
    };
    struct PendingCall {
        std::shared_ptr<Completion> done;
        Pid target = 0;
    };
    // A fetched value that is ready, on its way back in a `results` message.
    struct ReadyResult {
        std::uint64_t call_id = 0;
        std::shared_ptr<Completion> value;
        RefId ref;
        bool release = false; // the asker's hold goes once the value is sent (unless an error)
    };
    struct LateResults; // a fetch_many's values that were not ready when it arrived

    std::shared_ptr<Completion> start_call(
        CallKind kind, std::string_view kernel, Pid pid, List args, RefId ref, PoolKind pool);
    // Runs `c` as a task, or answers it with `failed` (a call that could not be read).
    void accept_call(IncomingCall c, std::optional<ErrorValue> failed = std::nullopt);
    void run_call(IncomingCall& c, const KernelInfo& k);
    void reply(const IncomingCall& c, const Value& v);
    List resolve_args(const List& args, Pid caller, const std::vector<bool>& keeps);
    // Sends `f` to `target`, after telling the owners of the references it carries that
    // `target` holds them (before the frame can reach it, so no owner frees a value on the way).
    bool send_to(Connection& conn, Pid target, std::unique_ptr<OutFrame> f, bool batchable = false);
    // Gives the references in outgoing values their receiver's hold, and those in incoming
    // values this process's hold (RemoteRef's protocol).
    class HoldingRefs final : public RefWriter, public RefReader {
    public:
        explicit HoldingRefs(ProcessRuntime& rt)
            : rt_(rt)
        {
        }
        void write(const RemoteRef& r, wire::RemoteRef::Builder out, OutFrame& frame) override;
        RemoteRef read(
            wire::RemoteRef::Reader in, const std::shared_ptr<const void>& owner) override;

    private:
        ProcessRuntime& rt_;
    };
    RefId new_ref_id();
    Future make_future(RemoteRef r);

    std::shared_ptr<Connection> connection_to_locked(Pid pid); // m_ held; throws
    void start_peer_connection(Pid pid, const std::shared_ptr<Connection>& conn);
    void attach(Pid peer, const std::shared_ptr<Connection>& conn);
    kj::Promise<void> accept_loop(kj::UnixEventPort::FdObserver* obs, int fd, bool tcp);
    kj::Promise<void> accept_ready(kj::UnixEventPort::FdObserver* obs, int fd, bool tcp);
    void accept_trouble(const std::string& why); // loop thread; logged once per episode
    void accept_connection(int fd, std::string what);
    // A rejected incoming connection, logged in full or counted for the next summary.
    void note_rejection(const std::string& line); // loop thread
    static constexpr auto kAcceptRetry = 100 * kj::MILLISECONDS;
    static constexpr int kRejectionWindow = 10; // seconds; WEFT_REJECTION_WINDOW_S overrides it
    void on_message(const std::shared_ptr<Connection>& conn, Pid from, InFrame&& frame);
    // Answers what a frame that could not be acted on left waiting: the call it carried, the
    // request or result it named, or else the connection it came on (closed with `why`).
    void reject_message(const std::shared_ptr<Connection>& conn, const std::string& why,
        std::optional<IncomingCall> call, std::uint64_t request_id, std::uint64_t result_id);
    void on_connection_closed(
        const std::shared_ptr<Connection>& conn, Pid peer, const std::string& reason);
    void handle_channel_op(const std::shared_ptr<Connection>& conn, Pid from,
        wire::ChannelOp::Reader r, const std::shared_ptr<const void>& frame_owner);
    Value run_channel_op(
        const std::shared_ptr<Channel<Value>>& ch, wire::ChannelOpKind op, Value v);
    std::shared_ptr<Channel<Value>> local_channel(const RefId& id);
    void handle_fetch(const std::shared_ptr<Connection>& conn, Pid from, wire::FetchRef::Reader r);
    void handle_fetch_many(
        const std::shared_ptr<Connection>& conn, Pid from, wire::FetchMany::Reader r);
    // Sends ready values in as few `results` messages as the frame limit allows, then drops the
    // holds they release.
    void send_results(Connection& conn, Pid from, std::vector<ReadyResult>& results);
    void add_late_result(const std::shared_ptr<LateResults>& late, ReadyResult r);
    void answer_fetch(Connection& conn, Pid from, std::uint64_t id, const RefId& ref,
        wire::FetchMode mode, bool release, const Value& v);
    void handle_ref_ops(Pid from, wire::RefOps::Reader r);
    void handle_join(wire::Join::Reader j);
    void apply_telemetry_interval(std::uint32_t ms);
    void add_holder(const RefId& id, Pid holder, int delta);
    void flush_removes(Pid owner);
    void send_ref_ops(Pid owner, const std::vector<std::pair<RefId, Pid>>& ops, bool add);
    void send_ref_op(Pid owner, const RefId& id, Pid holder, bool add);
    void complete_pending(std::uint64_t id, Value v);
    void complete_results(
        capnp::List<wire::Result>::Reader results, const std::shared_ptr<const void>& owner);
    std::shared_ptr<Completion> stored_value(const RefId& id) const;
    // A new request to process `to`: its id, what its answer completes, and the connection.
    struct OpenRequest {
        std::uint64_t id;
        std::shared_ptr<Completion> done;
        std::shared_ptr<Connection> conn;
    };
    OpenRequest open_request(Pid to, std::shared_ptr<Completion> into = nullptr);
    // Sends a FetchRef to the reference's owner; the returned Completion (`into`, if given) gets
    // the answer.
    std::shared_ptr<Completion> request_ref(const RemoteRef& r, wire::FetchMode mode, bool release,
        std::shared_ptr<Completion> into = nullptr);
    void await_reply(Completion& done, Pid pid);
    void fail_pending_to(Pid pid, const ErrorValue& e);
    ErrorValue make_error(std::string type, std::string message, std::string subject = {}) const;
    ErrorValue error_from_current_exception() const; // call inside a catch block
    std::unique_ptr<OutFrame> frame_for_result(std::uint64_t call_id, const Value& v);
    void request_exit(const std::string& why);

    RuntimeOptions opts_;
    std::shared_ptr<KernelRegistry> kernels_;
    HoldingRefs refs_ { *this };
    std::atomic<Pid> pid_;
    class MasterPoller;
    // Before sched_: its idle threads read these from the moment it starts.
    std::mutex poll_m_;
    std::shared_ptr<Connection> master_conn_; // a worker's connection from the master
    std::unique_ptr<Scheduler> sched_;
    EventLoop loop_;
    std::atomic<bool> shut_down_ { false };

    mutable std::mutex m_;
    std::map<Pid, PeerState> peers_;
    std::unordered_map<std::uint64_t, PendingCall> pending_;
    RefStore store_;
    std::atomic<std::uint64_t> next_call_ { 1 };
    std::atomic<std::uint64_t> next_ref_ { 1 };
    std::atomic<std::size_t> round_robin_ { 0 };
    std::mutex removes_m_;
    std::map<Pid, std::vector<std::pair<RefId, Pid>>> removes_; // batched, per owner

    std::vector<std::unique_ptr<kj::UnixEventPort::FdObserver>> listen_observers_; // loop thread
    std::vector<int> listen_fds_;
    std::vector<std::string> listen_paths_; // Unix sockets' files, unlinked at shutdown
    bool accept_troubled_ = false; // loop thread
    RejectionLog rejections_; // loop thread
    std::vector<std::shared_ptr<Connection>> handshaking_; // loop thread
    std::function<void(const std::string&)> exit_cb_; // guarded by poll_m_
    std::atomic<std::uint32_t> telemetry_ms_ { 0 };
    std::mutex telemetry_m_;
    std::function<void(Pid, Value, std::int64_t)> telemetry_sink_;
    std::function<void(std::uint32_t)> telemetry_interval_cb_;
    std::mutex log_m_;
    std::function<void(const std::string&)> log_cb_;
};

template <class H> std::shared_ptr<H> handle_for(ProcessRuntime& rt, const RemoteRef& r)
{
    if (auto h = std::dynamic_pointer_cast<H>(r.hold))
        return h;
    rt.add_hold(r, rt.myid());
    return std::make_shared<H>(rt.weak_from_this(), r);
}

} // namespace weft::detail
