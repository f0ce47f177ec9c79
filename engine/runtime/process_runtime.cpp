#include "process_runtime.h"

#include "error_capture.h"
#include "future_state.h"
#include "kernel_registry.h"
#include "process_access.h"
#include "sample_codec.h"
#include "weft/errors.h"

#include <capnp/serialize.h>

#include <chrono>
#include <cstdio>
#include <sched.h>

namespace weft::detail {

namespace {
// How long a plain thread polls for its reply before it sleeps. WEFT_REPLY_POLL_US overrides it.
const int kReplyPollMicros = [] {
    const char* env = std::getenv("WEFT_REPLY_POLL_US");
    return env ? std::atoi(env) : 100;
}();

} // namespace

// A worker's idle pool thread reads the master connection while it spins: a request that comes
// within the spin is answered without waking a thread. For that stretch it holds a PollScope:
// the I/O thread leaves the connection's input to it instead of racing it for each frame.
class ProcessRuntime::MasterPoller final : public IdleWork {
public:
    explicit MasterPoller(ProcessRuntime& rt)
        : rt_(rt)
    {
    }
    bool begin() override
    {
        if (taken_.exchange(true, std::memory_order_acquire))
            return false;
        {
            std::lock_guard g(rt_.poll_m_);
            conn_ = rt_.master_conn_;
        }
        if (!conn_) {
            taken_.store(false, std::memory_order_release);
            return false;
        }
        scope_.emplace(*conn_);
        return true;
    }
    bool poll() override { return conn_->poll_input(); }
    void end() override
    {
        scope_.reset();
        conn_.reset();
        taken_.store(false, std::memory_order_release);
    }

private:
    ProcessRuntime& rt_;
    std::atomic<bool> taken_ { false };
    // Only the thread that took the work touches these.
    std::shared_ptr<Connection> conn_;
    std::optional<Connection::PollScope> scope_;
};

// ---- construction ---------------------------------------------------------------------------

ProcessRuntime::ProcessRuntime(RuntimeOptions options, std::shared_ptr<KernelRegistry> kernels)
    : opts_(std::move(options))
    , kernels_(std::move(kernels))
    , pid_(opts_.pid)
    , sched_(std::make_unique<Scheduler>(opts_.threads.default_threads, opts_.threads.interactive,
          // A worker's idle pool threads read requests from the master themselves.
          opts_.pid != 1 ? std::make_shared<MasterPoller>(*this) : nullptr))
    , refs_(
          pid_,
          [this](Pid owner, const std::vector<ReferenceTracker::HolderOp>& ops, bool add) {
              std::shared_ptr<Connection> conn;
              try {
                  conn = mesh_->connection_to(owner);
              } catch (const Error&) {
                  return; // the owner is gone, and its values with it
              }
              conn->send(msg::ref_ops(ops, add));
          },
          [this](std::function<void()> fn) { loop_.post(std::move(fn)); })
{
    if (const char* ms = std::getenv("WEFT_HANDSHAKE_TIMEOUT_MS"); ms && std::atoi(ms) > 0)
        opts_.limits.handshake_timeout_ms = static_cast<std::uint32_t>(std::atoi(ms));
    if (const char* ms = std::getenv("WEFT_FRAME_STALL_MS"); ms && std::atoi(ms) > 0)
        opts_.limits.frame_stall_ms = static_cast<std::uint32_t>(std::atoi(ms));
    MeshEvents events;
    events.frame = [this](const std::shared_ptr<Connection>& c, Pid from, InFrame&& f) {
        on_frame(c, from, std::move(f));
    };
    events.exited = [this](Pid pid, const std::string& reason) { on_peer_exited(pid, reason); };
    events.master_attached = [this](const std::shared_ptr<Connection>& c) {
        std::lock_guard g(poll_m_);
        master_conn_ = c; // idle pool threads poll it
    };
    events.master_lost = [this](const std::string& why) { request_exit(why); };
    events.log = [this](const std::string& m) { log(m); };
    mesh_ = std::make_shared<Mesh>(loop_, pid_,
        MeshOptions { opts_.cookie, opts_.limits, opts_.topology, opts_.host }, std::move(events));
    listener_ = std::make_shared<Listener>(
        loop_, pid_, opts_.cookie, opts_.limits,
        [this](Pid peer, const std::shared_ptr<Connection>& c) { mesh_->adopt(peer, c); },
        [this](const std::string& m) { log(m); });
    loop_.run_sync([this] {
        loop_.add_stop_hook([this] {
            for (auto& c : mesh_->all_connections())
                c->close("this process is shutting down");
            listener_->stop();
        });
    });
}

ProcessRuntime::~ProcessRuntime() noexcept
{
    shutdown();
}

void ProcessRuntime::shutdown()
{
    if (shut_down_.exchange(true))
        return;
    refs_.stop();
    loop_.stop();
    calls_.fail_all(make_error(myid(), "ProcessExitedException", "this process is shutting down",
        ErrorKind::ProcessExited));
    {
        std::lock_guard g(poll_m_);
        master_conn_.reset();
    }
    sched_.reset();
    listener_->close();
    mesh_->clear();
    refs_.clear();
}

void ProcessRuntime::set_log(std::function<void(const std::string&)> cb)
{
    std::lock_guard g(log_m_);
    log_cb_ = std::move(cb);
}

void ProcessRuntime::log(const std::string& msg)
{
    std::function<void(const std::string&)> cb;
    {
        std::lock_guard g(log_m_);
        cb = log_cb_;
    }
    if (cb)
        cb(msg);
    else
        std::fprintf(stderr, "weft[%s]: %s\n", who(myid()).c_str(), msg.c_str());
}

// ---- the call API -----------------------------------------------------------------------------

Pid ProcessRuntime::next_worker()
{
    auto w = workers();
    return w[round_robin_.fetch_add(1, std::memory_order_relaxed) % w.size()];
}

std::vector<StoreEntryInfo> ProcessRuntime::store_table() const
{
    std::uint64_t entries = 0, bytes = 0;
    return refs_.table(std::numeric_limits<std::size_t>::max(), entries, bytes);
}

RefId ProcessRuntime::new_ref_id()
{
    return { myid(), next_ref_.fetch_add(1, std::memory_order_relaxed) };
}

Future ProcessRuntime::make_future(RemoteRef r)
{
    return ProcessAccess::future(std::make_shared<FutureState>(weak_from_this(), r));
}

std::shared_ptr<Completion> ProcessRuntime::start_call(
    CallKind kind, std::string_view kernel, Pid pid, List args, RefId ref, Pool pool)
{
    // Only fetch and wait calls are answered; the others need nothing to wait on.
    const bool answered = kind == CallKind::Fetch || kind == CallKind::Wait;
    auto done = answered ? std::make_shared<Completion>() : nullptr;
    if (shut_down_.load())
        throw ProcessExitedException(myid(), "this process is shutting down");
    const std::uint64_t id = answered ? calls_.next_ids() : 0;
    if (answered)
        calls_.add(id, pid, done);
    if (pid == myid()) {
        // References in the arguments keep their holds: the call shares this process's.
        IncomingCall c;
        c.kind = kind;
        c.call_id = id;
        c.ref = ref;
        c.kernel = std::string(kernel);
        c.args = std::move(args);
        c.pool = pool;
        c.caller = myid();
        dispatch_.accept(std::move(c));
        return done;
    }
    std::shared_ptr<Connection> conn;
    std::unique_ptr<OutFrame> f;
    try {
        conn = mesh_->connection_to(pid);
        f = msg::call(kind, id, ref, kernel, args, pool, &holding_);
        if (f->total_bytes() > opts_.limits.max_frame_bytes)
            throw Error("the call to " + std::string(kernel) + " on " + who(pid)
                + " makes a message of " + std::to_string(f->total_bytes())
                + " bytes, over the frame limit of "
                + std::to_string(opts_.limits.max_frame_bytes));
    } catch (...) {
        if (answered)
            calls_.remove(id);
        throw;
    }
    // Nobody waits on an asynchronous call's frame: in a burst it goes out with the next ones.
    if (!send_to(*conn, pid, std::move(f), !answered) && answered) {
        // The connection is gone. If the peer's end is already known, fail now; otherwise the
        // call stays pending and fails with the exact reason once it is known.
        if (auto reason = mesh_->exit_reason(pid); reason && calls_.remove(id)) {
            auto e = make_error(pid, "ProcessExitedException", *reason, ErrorKind::ProcessExited);
            done->set(e);
        }
    }
    return done;
}

Future ProcessRuntime::remotecall_args(std::string_view kernel, Pid pid, List args, CallOptions o)
{
    const RefId ref = new_ref_id();
    start_call(CallKind::Async, kernel, pid, std::move(args), ref, o.pool);
    return make_future({ RefKind::Future, ref, pid });
}

Value ProcessRuntime::remotecall_fetch_args(
    std::string_view kernel, Pid pid, List args, CallOptions o)
{
    auto done = start_call(CallKind::Fetch, kernel, pid, std::move(args), {}, o.pool);
    await_reply(*done, pid);
    return value_or_throw(done->wait());
}

Future ProcessRuntime::remotecall_wait_args(
    std::string_view kernel, Pid pid, List args, CallOptions o)
{
    const RefId ref = new_ref_id();
    auto done = start_call(CallKind::Wait, kernel, pid, std::move(args), ref, o.pool);
    auto fut = make_future({ RefKind::Future, ref, pid });
    await_reply(*done, pid);
    value_or_throw(done->wait());
    return fut;
}

std::vector<std::shared_ptr<Completion>> ProcessRuntime::call_each(
    std::string_view kernel, const std::vector<Pid>& pids, const List& args, Pool pool)
{
    return call_each(kernel, pids, std::vector<List>(pids.size(), args), pool);
}

std::vector<std::shared_ptr<Completion>> ProcessRuntime::call_each(
    std::string_view kernel, const std::vector<Pid>& pids, const std::vector<List>& args, Pool pool)
{
    std::vector<std::shared_ptr<Completion>> out;
    out.reserve(pids.size());
    for (std::size_t i = 0; i < pids.size(); ++i) {
        const Pid p = pids[i];
        try {
            out.push_back(start_call(CallKind::Fetch, kernel, p, args.at(i), {}, pool));
        } catch (...) {
            auto failed = std::make_shared<Completion>();
            failed->set(capture_current_exception(myid()));
            out.push_back(std::move(failed));
        }
    }
    return out;
}

void ProcessRuntime::remote_do_args(std::string_view kernel, Pid pid, List args, CallOptions o)
{
    start_call(CallKind::Do, kernel, pid, std::move(args), {}, o.pool);
}

void ProcessRuntime::await_reply(Completion& done, Pid pid)
{
    if (current_task() || pid == myid() || done.ready() || kReplyPollMicros <= 0)
        return;
    auto conn = mesh_->existing_connection(pid);
    if (!conn)
        return;
    const auto deadline
        = std::chrono::steady_clock::now() + std::chrono::microseconds(kReplyPollMicros);
    Connection::PollScope polling(*conn);
    // The first stretch re-reads without giving up the core (a reply usually comes within a
    // round trip, and sched_yield costs a system call each time); then it yields between reads.
    const auto eager_until = std::chrono::steady_clock::now() + std::chrono::microseconds(40);
    for (auto now = std::chrono::steady_clock::now(); !done.ready() && now < deadline;
         now = std::chrono::steady_clock::now()) {
        conn->poll_input();
        if (!done.ready() && now >= eager_until)
            sched_yield();
    }
}

bool ProcessRuntime::send_to(
    Connection& conn, Pid target, std::unique_ptr<OutFrame> f, bool batchable)
{
    for (const auto& [id, owner] : f->holds_for_receiver())
        refs_.add_hold({ RefKind::Future, id, owner }, target);
    return batchable ? conn.send_batchable(std::move(f)) : conn.send(std::move(f));
}

void ProcessRuntime::answer(Connection& conn, Pid to, std::uint64_t id, const Value& v)
{
    auto f = msg::result(id, v, &holding_);
    if (f->total_bytes() > opts_.limits.max_frame_bytes)
        f = msg::result(id,
            make_error(myid(), "ArgumentError",
                "the result is a message of " + std::to_string(f->total_bytes())
                    + " bytes, over the frame limit of "
                    + std::to_string(opts_.limits.max_frame_bytes)),
            nullptr);
    send_to(conn, to, std::move(f));
}

double ProcessRuntime::ping(Pid pid)
{
    const auto t0 = std::chrono::steady_clock::now();
    auto done = request(pid, [](std::uint64_t id) { return msg::ping(id); });
    await_reply(*done, pid);
    value_or_throw(done->wait());
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

ClockEstimate ProcessRuntime::estimate_clock(Pid pid, int probes)
{
    ClockEstimate best;
    for (int i = 0; i < probes; ++i) {
        const auto t0 = steady_ns();
        auto done = request(pid, [](std::uint64_t id) { return msg::clock_probe(id); });
        await_reply(*done, pid);
        const auto their = value_or_throw(done->wait()).as_int();
        const auto t1 = steady_ns();
        // Their clock was read somewhere in [t0, t1] of ours: the middle is off by at most half
        // the round trip. The shortest round trip bounds it best.
        const std::int64_t half = (t1 - t0) / 2;
        if (i == 0 || half < best.error_bound_ns) {
            best.error_bound_ns = half;
            best.offset_ns = their - (t0 + half);
        }
        best.probes = i + 1;
    }
    return best;
}

// ---- incoming messages ------------------------------------------------------------------------

void ProcessRuntime::on_frame(const std::shared_ptr<Connection>& conn, Pid from, InFrame&& frame)
{
    on_message(conn, from, std::move(frame));
    // The I/O thread read this request because no pool thread was polling: get one polling, so
    // that the next request, likely soon, wakes nobody.
    if (from == 1 && myid() != 1 && loop_.on_loop_thread())
        sched_->pool(Pool::Default).wake_idle_worker();
}

void ProcessRuntime::on_message(const std::shared_ptr<Connection>& conn, Pid from, InFrame&& frame)
{
    // What a frame that cannot be acted on must still answer, as far as it could be read: no
    // caller may wait forever on a frame that was dropped.
    std::optional<IncomingCall> call_read; // a call's kind, id and result slot
    std::uint64_t request_id = 0; // a request that expects a reply (fetch, channel op)
    std::uint64_t result_id = 0; // a result for one of this process's calls
    const bool from_master = from == 1;
    try {
        capnp::ReaderOptions ro;
        // Decoding may read each word of the frame a few times, never more: a small frame that
        // declares a huge list of empty elements fails here instead of stalling this thread.
        ro.traversalLimitInWords = frame.bytes / 8 * opts_.limits.traversal_words_per_word + 1024;
        ro.nestingLimit = opts_.limits.nesting_limit;
        capnp::SegmentArrayMessageReader reader(
            kj::arrayPtr(frame.segments.data(), frame.segments.size()), ro);
        auto m = reader.getRoot<wire::Message>();
        switch (m.which()) {
        case wire::Message::CALL: {
            auto call = m.getCall();
            IncomingCall c;
            c.call_id = request_id
                = call.getCallId(); // answered as a fetch until its kind is known
            c.kind = msg::read_call_kind(call.getKind());
            c.ref = decode_ref_id(call.getRef());
            c.caller = from;
            c.reply_conn = conn;
            call_read = c;
            request_id = 0;
            c.kernel = call.getKernel();
            c.pool = msg::read_pool(call.getPool());
            c.args.reserve(call.getArgs().size());
            for (auto a : call.getArgs())
                c.args.push_back(decode_value(a, frame.owner, &holding_));
            call_read.reset();
            dispatch_.accept(std::move(c));
            break;
        }
        case wire::Message::RESULT:
            result_id = m.getResult().getCallId();
            calls_.complete(
                result_id, decode_value(m.getResult().getValue(), frame.owner, &holding_));
            break;
        case wire::Message::RESULTS: {
            // One lock for the batch; the values are set (waking their waiters) outside it.
            const auto results = m.getResults();
            std::vector<std::uint64_t> ids;
            ids.reserve(results.size());
            for (auto r : results)
                ids.push_back(r.getCallId());
            auto done = calls_.take(ids);
            for (unsigned i = 0; i < results.size(); ++i)
                if (done[i])
                    done[i]->set(decode_value(results[i].getValue(), frame.owner, &holding_));
            break;
        }
        case wire::Message::FETCH_REF:
            request_id = m.getFetchRef().getCallId();
            fetches_.handle_fetch(conn, from, m.getFetchRef());
            break;
        case wire::Message::FETCH_MANY:
            fetches_.handle_fetch_many(conn, from, m.getFetchMany());
            break;
        case wire::Message::CHANNEL_OP:
            request_id = m.getChannelOp().getCallId();
            channels_.handle(conn, from, m.getChannelOp(), frame.owner);
            break;
        case wire::Message::REF_OPS:
            for (auto a : m.getRefOps().getAdds())
                refs_.change(decode_ref_id(a.getId()), a.getHolder(), +1);
            for (auto d : m.getRefOps().getRemoves())
                refs_.change(decode_ref_id(d.getId()), d.getHolder(), -1);
            break;
        case wire::Message::PING:
            conn->send(msg::pong(m.getPing()));
            break;
        case wire::Message::PONG:
            calls_.complete(m.getPong(), Value(true));
            break;
        case wire::Message::CLOCK_PROBE:
            // Read on the I/O thread, answered at once: the reading sits between the two ends
            // of the master's round trip.
            conn->send(msg::clock_reading(m.getClockProbe(), steady_ns()));
            break;
        case wire::Message::CLOCK_READING:
            result_id = m.getClockReading().getId();
            calls_.complete(result_id, Value(std::int64_t(m.getClockReading().getClockNs())));
            break;
        case wire::Message::TELEMETRY: {
            const auto received = steady_ns();
            TelemetrySink sink;
            {
                std::lock_guard g(telemetry_m_);
                sink = telemetry_sink_;
            }
            if (sink)
                sink(from, decode_sample(m.getTelemetry()), received);
            break;
        }
        // From the master only: a worker would never send these.
        case wire::Message::JOIN:
            if (from_master)
                on_join(m.getJoin());
            break;
        case wire::Message::PEER_ADDED:
            if (from_master)
                mesh_->peer_added(msg::read_peer(m.getPeerAdded()));
            break;
        case wire::Message::PEER_EXITED:
            if (from_master)
                mesh_->peer_exited(m.getPeerExited().getPid(), m.getPeerExited().getReason());
            break;
        case wire::Message::EXIT:
            if (from_master)
                request_exit("the master asked this worker to exit");
            break;
        case wire::Message::INTERRUPT:
            if (from_master)
                sched_->interrupt();
            break;
        case wire::Message::TELEMETRY_INTERVAL:
            if (from_master)
                apply_telemetry_interval(m.getTelemetryInterval());
            break;
        default:
            throw std::invalid_argument(
                "message of unknown kind " + std::to_string(unsigned(m.which())));
        }
    } catch (const kj::Exception& e) {
        reject_message(conn,
            "malformed message from " + who(from) + ": " + e.getDescription().cStr(),
            std::move(call_read), request_id, result_id);
    } catch (const std::exception& e) {
        reject_message(conn, std::string("malformed message from ") + who(from) + ": " + e.what(),
            std::move(call_read), request_id, result_id);
    }
}

void ProcessRuntime::reject_message(const std::shared_ptr<Connection>& conn, const std::string& why,
    std::optional<IncomingCall> call, std::uint64_t request_id, std::uint64_t result_id)
{
    log(why);
    const auto err = make_error(myid(), "ArgumentError", why);
    if (call) { // its Future (or its caller) gets the error, as for an unknown kernel
        dispatch_.accept(std::move(*call), err);
        return;
    }
    if (request_id) {
        conn->send(msg::result(request_id, err, nullptr));
        return;
    }
    if (result_id) { // our own call's answer could not be read: the call fails with why
        calls_.complete(result_id, err);
        return;
    }
    // Nothing says who waits on it (a reference operation, a batch of results, an unknown
    // kind): dropping it could leave someone waiting forever, so the connection ends with the
    // reason, and every call pending on it fails.
    conn->close(why);
}

void ProcessRuntime::on_peer_exited(Pid pid, const std::string& reason)
{
    refs_.holder_exited(pid); // a dead process holds nothing
    calls_.fail_to(
        pid, make_error(pid, "ProcessExitedException", reason, ErrorKind::ProcessExited));
}

void ProcessRuntime::on_join(wire::Join::Reader j)
{
    pid_.store(j.getPid(), std::memory_order_release);
    apply_telemetry_interval(j.getTelemetryMs());
    mesh_->join(j);
}

void ProcessRuntime::request_exit(const std::string& why)
{
    std::function<void(const std::string&)> cb;
    {
        std::lock_guard g(poll_m_);
        cb = std::exchange(exit_cb_, nullptr);
    }
    if (cb)
        cb(why);
}

// ---- worker and master sides ------------------------------------------------------------------

void ProcessRuntime::on_exit_requested(std::function<void(const std::string&)> cb)
{
    std::lock_guard g(poll_m_);
    exit_cb_ = std::move(cb);
}

std::vector<std::string> ProcessRuntime::listen()
{
    return listener_->listen(opts_.host, opts_.listen_tcp);
}

void ProcessRuntime::remove_socket_files()
{
    listener_->remove_socket_files();
}

void ProcessRuntime::connect_worker(
    Pid pid, const std::string& address, std::function<void(const std::string&)> ready)
{
    mesh_->connect_worker(pid, address, std::move(ready), telemetry_ms_.load());
}

// ---- telemetry --------------------------------------------------------------------------------

void ProcessRuntime::set_telemetry_sink(TelemetrySink sink)
{
    std::lock_guard g(telemetry_m_);
    telemetry_sink_ = std::move(sink);
}

void ProcessRuntime::on_telemetry_interval(std::function<void(std::uint32_t)> cb)
{
    std::lock_guard g(telemetry_m_);
    telemetry_interval_cb_ = std::move(cb);
}

void ProcessRuntime::set_telemetry_interval(std::uint32_t ms)
{
    telemetry_ms_.store(ms);
    mesh_->broadcast_to_workers([ms] { return msg::telemetry_interval(ms); });
}

void ProcessRuntime::apply_telemetry_interval(std::uint32_t ms)
{
    telemetry_ms_.store(ms);
    std::function<void(std::uint32_t)> cb;
    {
        std::lock_guard g(telemetry_m_);
        cb = telemetry_interval_cb_;
    }
    if (cb)
        cb(ms);
}

void ProcessRuntime::send_telemetry(const WireSample& sample)
{
    auto conn = mesh_->existing_connection(1);
    if (!conn)
        return;
    auto f = std::make_unique<OutFrame>(
        static_cast<unsigned>(64 + sample.spans.size() * 3 + sample.sample.store.size() * 12));
    encode_sample(sample, f->root().initTelemetry());
    f->finish();
    conn->send(std::move(f));
}

} // namespace weft::detail
