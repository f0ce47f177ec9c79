#include "process_runtime.h"

#include "codec.h"
#include "exception_name.h"
#include "socket.h"
#include "throw_trace.h"
#include "weft/errors.h"

#include <capnp/serialize.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft::detail {

namespace {
// What fetch, wait and isready say about a Future whose hold finalize() gave up before it had
// a value here: the owner may have freed it (and, asked anyway, would wait for it forever).
constexpr const char* kFinalized = "this Future's value was already released (finalize)";

// How long a plain thread polls for its reply before it sleeps. WEFT_REPLY_POLL_US overrides it.
const int kReplyPollMicros = [] {
    const char* env = std::getenv("WEFT_REPLY_POLL_US");
    return env ? std::atoi(env) : 100;
}();

std::string who(Pid pid)
{
    return pid == 1 ? std::string("process 1") : "worker " + std::to_string(pid);
}

wire::CallKind to_wire(CallKind k)
{
    return static_cast<wire::CallKind>(k);
}

kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments_of(const InFrame& f)
{
    return { f.segments.data(), f.segments.size() };
}

} // namespace

// ---- FutureState ----------------------------------------------------------------------------

FutureState::~FutureState()
{
    if (released_)
        return;
    if (auto rt = rt_.lock())
        rt->release(*this);
}

ChannelHandle::~ChannelHandle()
{
    if (auto rt = rt_.lock())
        rt->release_hold(ref_, rt->myid());
}

std::shared_ptr<ProcessRuntime> ChannelHandle::runtime() const
{
    auto rt = rt_.lock();
    if (!rt)
        throw InvalidStateException(
            "the process that made this RemoteChannel handle has shut down");
    return rt;
}

// ---- references inside values ----------------------------------------------------------------

void ProcessRuntime::HoldingRefs::write(
    const RemoteRef& r, wire::RemoteRef::Builder out, OutFrame& frame)
{
    encode_ref_address(r, out);
    if (r.kind == RefKind::Future)
        if (auto* fs = dynamic_cast<FutureState*>(r.hold.get())) {
            std::lock_guard g(fs->m_);
            // Fetched here: the value goes along, and the receiver needs no hold at the owner
            // (which freed it, or will). Finalized: nothing to hold any more.
            if (fs->cached_) {
                encode_value(*fs->cached_, out.initCached(), frame, this);
                return;
            }
            if (fs->released_) {
                out.setReleased(true);
                return;
            }
        }
    frame.hold_for_receiver(r.id, r.owner);
}

RemoteRef ProcessRuntime::HoldingRefs::read(
    wire::RemoteRef::Reader in, const std::shared_ptr<const void>& owner)
{
    RemoteRef r = decode_ref_address(in);
    if (r.kind == RefKind::Channel) {
        r.hold = std::make_shared<ChannelHandle>(rt_.weak_from_this(), r);
        return r;
    }
    auto fs = std::make_shared<FutureState>(rt_.weak_from_this(), r);
    if (in.hasCached()) {
        fs->cached_ = decode_value(in.getCached(), owner, this);
        fs->released_ = true;
    } else if (in.getReleased()) {
        fs->released_ = true;
    }
    r.hold = std::move(fs);
    return r;
}

bool ProcessRuntime::send_to(
    Connection& conn, Pid target, std::unique_ptr<OutFrame> f, bool batchable)
{
    for (const auto& [id, owner] : f->holds_for_receiver())
        send_ref_op(owner, id, target, true);
    return batchable ? conn.send_batchable(std::move(f)) : conn.send(std::move(f));
}

// ---- construction -------------------------------------------------------------------------

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

ProcessRuntime::ProcessRuntime(RuntimeOptions options, std::shared_ptr<KernelRegistry> kernels)
    : opts_(std::move(options))
    , kernels_(std::move(kernels))
    , pid_(opts_.pid)
    , sched_(std::make_unique<Scheduler>(opts_.threads.default_threads, opts_.threads.interactive,
          // A worker's idle pool threads read requests from the master themselves.
          opts_.pid != 1 ? std::make_shared<MasterPoller>(*this) : nullptr))
{
    if (const char* ms = std::getenv("WEFT_HANDSHAKE_TIMEOUT_MS"); ms && std::atoi(ms) > 0)
        opts_.limits.handshake_timeout_ms = static_cast<std::uint32_t>(std::atoi(ms));
    if (const char* ms = std::getenv("WEFT_FRAME_STALL_MS"); ms && std::atoi(ms) > 0)
        opts_.limits.frame_stall_ms = static_cast<std::uint32_t>(std::atoi(ms));
    loop_.run_sync([this] {
        loop_.add_stop_hook([this] {
            std::vector<std::shared_ptr<Connection>> conns;
            {
                std::lock_guard g(m_);
                for (auto& [pid, p] : peers_)
                    for (auto& c : p.all)
                        conns.push_back(c);
            }
            for (auto& c : handshaking_)
                conns.push_back(c);
            for (auto& c : conns)
                c->close("this process is shutting down");
            listen_observers_.clear();
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
    loop_.stop();
    {
        std::lock_guard g(m_);
        ErrorValue e = make_error("ProcessExitedException", "this process is shutting down");
        for (auto& [id, p] : pending_)
            p.done->set(e);
        pending_.clear();
    }
    {
        std::lock_guard g(poll_m_);
        master_conn_.reset();
    }
    sched_.reset();
    for (int fd : listen_fds_)
        ::close(fd);
    listen_fds_.clear();
    for (const auto& path : listen_paths_)
        ::unlink(path.c_str());
    listen_paths_.clear();
    std::lock_guard g(m_);
    peers_.clear();
    store_.clear();
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

ErrorValue ProcessRuntime::error_from_current_exception() const
{
    try {
        throw;
    } catch (const RemoteException& e) {
        return e.captured();
    } catch (const ProcessExitedException& e) {
        return { "ProcessExitedException", e.reason(), e.pid(), {}, {} };
    } catch (const UnknownProcessError& e) {
        return { "UnknownProcessError", e.what(), e.pid(), {}, {} };
    } catch (const KernelNotFound& e) {
        return { "KernelNotFound", e.what(), e.pid(), {}, e.kernel() };
    } catch (const ConnectionError& e) {
        return make_error("ConnectionError", e.what());
    } catch (const InvalidStateException& e) {
        return make_error("InvalidStateException", e.what());
    } catch (const std::exception& e) {
        return make_error(current_exception_type(), e.what());
    } catch (...) {
        return make_error(current_exception_type(), "a non-standard exception");
    }
}

ErrorValue ProcessRuntime::make_error(
    std::string type, std::string message, std::string subject) const
{
    ErrorValue e;
    e.type = std::move(type);
    e.message = std::move(message);
    e.origin = myid();
    e.subject = std::move(subject);
    return e;
}

// ---- membership ---------------------------------------------------------------------------

std::vector<Pid> ProcessRuntime::workers() const
{
    std::vector<Pid> out;
    {
        std::lock_guard g(m_);
        for (auto& [pid, p] : peers_)
            if (pid != 1 && !p.exited && (p.out || myid() != 1))
                out.push_back(pid);
    }
    if (myid() != 1 && myid() != 0)
        out.push_back(myid());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    if (out.empty())
        out.push_back(1);
    return out;
}

std::vector<Pid> ProcessRuntime::procs() const
{
    auto w = workers();
    if (w.size() == 1 && w[0] == 1)
        return w;
    w.insert(w.begin(), 1);
    return w;
}

Pid ProcessRuntime::next_worker()
{
    auto w = workers();
    return w[round_robin_.fetch_add(1, std::memory_order_relaxed) % w.size()];
}

std::optional<std::string> ProcessRuntime::peer_exit_reason(Pid pid) const
{
    std::lock_guard g(m_);
    auto it = peers_.find(pid);
    if (it == peers_.end() || !it->second.exited)
        return std::nullopt;
    return it->second.exit_reason;
}

PeerTraffic ProcessRuntime::traffic(Pid peer) const
{
    PeerTraffic t;
    std::lock_guard g(m_);
    auto it = peers_.find(peer);
    if (it == peers_.end())
        return t;
    for (auto& c : it->second.all) {
        auto s = c->stats();
        t.messages_sent += s.frames_sent;
        t.bytes_sent += s.bytes_sent;
        t.messages_received += s.frames_received;
        t.bytes_received += s.bytes_received;
    }
    return t;
}

// ---- making calls -------------------------------------------------------------------------

RefId ProcessRuntime::new_ref_id()
{
    return { myid(), next_ref_.fetch_add(1, std::memory_order_relaxed) };
}

Future ProcessRuntime::make_future(RemoteRef r)
{
    return Future(std::make_shared<FutureState>(weak_from_this(), r));
}

std::shared_ptr<Connection> ProcessRuntime::connection_to_locked(Pid pid)
{
    auto it = peers_.find(pid);
    if (it == peers_.end())
        throw UnknownProcessError(pid);
    PeerState& p = it->second;
    if (p.exited)
        throw ProcessExitedException(pid, p.exit_reason);
    if (p.out)
        return p.out;
    if (myid() == 1)
        throw ConnectionError(
            p.joined ? "lost the connection to " + who(pid) : who(pid) + " is still starting");
    if (opts_.topology == Topology::MasterWorker && pid != 1)
        throw ConnectionError("the master_worker topology forbids worker-to-worker connections ("
            + who(myid()) + " -> " + who(pid) + ")");
    const bool same_host = p.host == opts_.host && !p.unix_address.empty();
    const std::string address = same_host ? p.unix_address : p.tcp_address;
    if (address.empty())
        throw ConnectionError("no address known for " + who(pid));
    int fd = connect_socket(address);
    auto conn = std::make_shared<Connection>(loop_, fd, who(pid) + " at " + address, opts_.limits);
    p.out = conn;
    p.all.push_back(conn);
    auto self = shared_from_this();
    loop_.post([self, pid, conn] { self->start_peer_connection(pid, conn); });
    return conn;
}

void ProcessRuntime::start_peer_connection(Pid pid, const std::shared_ptr<Connection>& conn)
{
    auto self = shared_from_this();
    conn->start(
        true, [](InFrame&&) {},
        [self, conn, pid](
            const std::string& reason) { self->on_connection_closed(conn, pid, reason); },
        [self, pid](
            const std::string& e) { self->log("frame from " + who(pid) + " rejected: " + e); });
    handshake_as_connector(conn, opts_.cookie, myid(), [self, conn, pid](HandshakeResult r) {
        if (!r.ok) {
            self->log("cannot connect to " + who(pid) + ": " + r.error);
            return; // the close handler fails what waited on it
        }
        self->attach(pid, conn);
    });
}

void ProcessRuntime::attach(Pid peer, const std::shared_ptr<Connection>& conn)
{
    if (peer == 1 && myid() != 1) {
        std::lock_guard g(poll_m_);
        master_conn_ = conn; // idle pool threads poll it
    }
    std::weak_ptr<Connection> weak = conn;
    auto self = shared_from_this();
    const bool from_master = peer == 1 && myid() != 1;
    conn->set_frame_handler([self, weak, peer, from_master](InFrame&& f) {
        auto c = weak.lock();
        if (!c)
            return;
        self->on_message(c, peer, std::move(f));
        // The I/O thread read this request because no pool thread was polling: get one
        // polling, so that the next request, likely soon, wakes nobody.
        if (from_master && self->loop_.on_loop_thread())
            self->sched_->pool(PoolKind::Default).wake_idle_worker();
    });
    conn->open_gate();
}

void ProcessRuntime::send_ref_op(Pid owner, const RefId& id, Pid holder, bool add)
{
    if (owner == myid()) {
        add_holder(id, holder, add ? +1 : -1);
        return;
    }
    send_ref_ops(owner, { { id, holder } }, add);
}

void ProcessRuntime::send_ref_ops(
    Pid owner, const std::vector<std::pair<RefId, Pid>>& ops, bool add)
{
    std::shared_ptr<Connection> conn;
    try {
        std::lock_guard g(m_);
        conn = connection_to_locked(owner);
    } catch (const Error&) {
        return; // the owner is gone, and its values with it
    }
    auto f = std::make_unique<OutFrame>(static_cast<unsigned>(16 + 4 * ops.size()));
    auto refs = f->root().initRefOps();
    const auto n = static_cast<unsigned>(ops.size());
    auto list = add ? refs.initAdds(n) : refs.initRemoves(n);
    for (unsigned i = 0; i < n; ++i) {
        encode_ref_id(ops[i].first, list[i].initId());
        list[i].setHolder(ops[i].second);
    }
    f->finish();
    conn->send(std::move(f));
}

std::shared_ptr<Completion> ProcessRuntime::start_call(
    CallKind kind, std::string_view kernel, Pid pid, List args, RefId ref, PoolKind pool)
{
    // Only fetch and wait calls are answered; the others need nothing to wait on.
    const bool answered = kind == CallKind::Fetch || kind == CallKind::Wait;
    auto done = answered ? std::make_shared<Completion>() : nullptr;
    if (shut_down_.load())
        throw ProcessExitedException(myid(), "this process is shutting down");
    if (pid == myid()) {
        // References in the arguments keep their holds: the call shares this process's.
        IncomingCall c;
        c.kind = kind;
        c.ref = ref;
        c.kernel = std::string(kernel);
        c.args = std::move(args);
        c.pool = pool;
        c.caller = myid();
        if (answered) {
            c.call_id = next_call_.fetch_add(1, std::memory_order_relaxed);
            std::lock_guard g(m_);
            pending_[c.call_id] = { done, pid };
        }
        accept_call(std::move(c));
        return done;
    }

    std::shared_ptr<Connection> conn;
    const std::uint64_t id = next_call_.fetch_add(1, std::memory_order_relaxed);
    {
        std::lock_guard g(m_);
        conn = connection_to_locked(pid);
        if (answered)
            pending_[id] = { done, pid };
    }
    // A first segment sized for the common call (a short name, a few small arguments): capnp
    // zeroes it, so a generous default costs more than the message.
    auto f = std::make_unique<OutFrame>(
        static_cast<unsigned>(24 + kernel.size() / 8 + 8 * args.size()));
    try {
        auto call = f->root().initCall();
        call.setKind(to_wire(kind));
        call.setCallId(id);
        encode_ref_id(ref, call.initRef());
        call.setKernel(std::string(kernel));
        call.setPool(pool == PoolKind::Interactive ? "interactive" : "default");
        auto wargs = call.initArgs(static_cast<unsigned>(args.size()));
        for (unsigned i = 0; i < args.size(); ++i)
            encode_value(args[i], wargs[i], *f, &refs_);
        f->finish();
        if (f->total_bytes() > opts_.limits.max_frame_bytes)
            throw Error("the call to " + std::string(kernel) + " on " + who(pid)
                + " makes a message of " + std::to_string(f->total_bytes())
                + " bytes, over the frame limit of "
                + std::to_string(opts_.limits.max_frame_bytes));
    } catch (...) {
        std::lock_guard g(m_);
        pending_.erase(id);
        throw;
    }
    // Nobody waits on an asynchronous call's frame: in a burst it goes out with the next ones.
    const bool sent = send_to(*conn, pid, std::move(f), !answered);
    if (!sent) {
        // The connection is gone. If the peer's end is already known, fail now; otherwise the
        // call stays pending and fails with the exact reason once it is known.
        std::shared_ptr<Completion> failed;
        ErrorValue e;
        {
            std::lock_guard g(m_);
            auto& p = peers_[pid];
            if (answered && p.exited && pending_.erase(id)) {
                e = make_error("ProcessExitedException", p.exit_reason);
                e.origin = pid;
                failed = done;
            }
        }
        if (failed)
            failed->set(e);
    }
    return done;
}

namespace {
const Value& checked(const Value& v)
{
    if (v.is_error())
        throw_error_value(v.as_error());
    return v;
}
PoolKind pool_of(const CallOptions& o)
{
    return o.pool == Pool::Interactive ? PoolKind::Interactive : PoolKind::Default;
}
} // namespace

Future ProcessRuntime::remotecall_args(std::string_view kernel, Pid pid, List args, CallOptions o)
{
    const RefId ref = new_ref_id();
    start_call(CallKind::Async, kernel, pid, std::move(args), ref, pool_of(o));
    return make_future({ RefKind::Future, ref, pid });
}

Value ProcessRuntime::remotecall_fetch_args(
    std::string_view kernel, Pid pid, List args, CallOptions o)
{
    auto done = start_call(CallKind::Fetch, kernel, pid, std::move(args), {}, pool_of(o));
    await_reply(*done, pid);
    return checked(done->wait());
}

void ProcessRuntime::await_reply(Completion& done, Pid pid)
{
    // A task simply suspends. A plain thread polls the connection itself for a moment first:
    // the reply usually comes within a round trip, and reading it here saves waking the I/O
    // thread and then being woken by it.
    if (current_task() || pid == myid() || done.ready() || kReplyPollMicros <= 0)
        return;
    std::shared_ptr<Connection> conn;
    {
        std::lock_guard g(m_);
        auto it = peers_.find(pid);
        if (it != peers_.end())
            conn = it->second.out;
    }
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

Future ProcessRuntime::remotecall_wait_args(
    std::string_view kernel, Pid pid, List args, CallOptions o)
{
    const RefId ref = new_ref_id();
    auto done = start_call(CallKind::Wait, kernel, pid, std::move(args), ref, pool_of(o));
    auto fut = make_future({ RefKind::Future, ref, pid });
    await_reply(*done, pid);
    checked(done->wait());
    return fut;
}

void ProcessRuntime::remote_do_args(std::string_view kernel, Pid pid, List args, CallOptions o)
{
    start_call(CallKind::Do, kernel, pid, std::move(args), {}, pool_of(o));
}

void ProcessRuntime::complete_pending(std::uint64_t id, Value v)
{
    std::shared_ptr<Completion> done;
    {
        std::lock_guard g(m_);
        auto it = pending_.find(id);
        if (it == pending_.end())
            return;
        done = std::move(it->second.done);
        pending_.erase(it);
    }
    done->set(std::move(v));
}

void ProcessRuntime::complete_results(
    capnp::List<wire::Result>::Reader results, const std::shared_ptr<const void>& owner)
{
    // One lock for the batch; the values are set (waking their waiters) outside it.
    std::vector<std::shared_ptr<Completion>> done(results.size());
    {
        std::lock_guard g(m_);
        for (unsigned i = 0; i < results.size(); ++i) {
            auto it = pending_.find(results[i].getCallId());
            if (it == pending_.end())
                continue;
            done[i] = std::move(it->second.done);
            pending_.erase(it);
        }
    }
    for (unsigned i = 0; i < results.size(); ++i)
        if (done[i])
            done[i]->set(decode_value(results[i].getValue(), owner, &refs_));
}

void ProcessRuntime::fail_pending_to(Pid pid, const ErrorValue& e)
{
    std::vector<std::shared_ptr<Completion>> failed;
    {
        std::lock_guard g(m_);
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (it->second.target == pid) {
                failed.push_back(std::move(it->second.done));
                it = pending_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& d : failed)
        d->set(e);
}

// ---- running calls ------------------------------------------------------------------------

void ProcessRuntime::accept_call(IncomingCall c, std::optional<ErrorValue> failed)
{
    const KernelInfo* k = failed ? nullptr : kernels_->find(c.kernel);
    if (c.kind == CallKind::Async || c.kind == CallKind::Wait) {
        std::lock_guard g(m_);
        auto& e = store_.get(c.ref);
        if (e.claimed || e.kind == RefKind::Channel) {
            // Ids are never reused by a real peer; a second call naming one would race the
            // first for its result.
            failed = make_error("ArgumentError",
                "reference (" + std::to_string(c.ref.whence) + ", " + std::to_string(c.ref.n)
                    + ") from " + who(c.caller) + " already names another call's result");
        } else {
            e.claimed = true;
            if (++e.holders[c.caller] == 0)
                e.holders.erase(c.caller);
            c.slot = e.value; // where the result goes, without looking it up again
        }
    }
    if (failed) {
        if (c.kind == CallKind::Async && !c.slot)
            log("a call from " + who(c.caller) + " was refused: " + failed->message);
        reply(c, *failed);
        return;
    }
    if (!k) {
        auto e = make_error("KernelNotFound",
            "kernel '" + c.kernel + "' is not loaded on " + who(myid()), c.kernel);
        reply(c, e);
        return;
    }
    auto& pool = sched_->pool(c.pool);
    auto self = shared_from_this();
    pool.spawn_labelled(k->label, [self, c = std::move(c), k]() mutable { self->run_call(c, *k); });
}

List ProcessRuntime::resolve_args(const List& args, Pid caller, const std::vector<bool>& keeps)
{
    List out;
    out.reserve(args.size());
    for (std::size_t i = 0; i < args.size(); ++i) {
        const Value& a = args[i];
        const bool kept = i < keeps.size() && keeps[i];
        if (a.kind() != Value::Kind::Ref || a.as_ref().kind != RefKind::Future || kept) {
            out.push_back(a);
            continue;
        }
        const RemoteRef& r = a.as_ref();
        if (auto fs = std::dynamic_pointer_cast<FutureState>(r.hold)) {
            out.push_back(fetch(*fs)); // this process's hold, received with the call
            continue;
        }
        // A bare address (a call this process made to itself with a hand-made reference).
        if (r.owner == myid()) {
            auto v = stored_value(r.id);
            if (!v)
                throw InvalidStateException("Future(" + std::to_string(r.owner) + ", "
                    + std::to_string(r.id.whence) + ", " + std::to_string(r.id.n) + ") passed by "
                    + who(caller) + " was already freed");
            out.push_back(checked(v->wait()));
            continue;
        }
        add_hold(r, myid());
        FutureState tmp(weak_from_this(), r);
        out.push_back(fetch(tmp));
    }
    return out;
}

void ProcessRuntime::run_call(IncomingCall& c, const KernelInfo& k)
{
    Value result;
    // The pattern kernels (weft.map_batch, weft.reduce_range) run the user's kernel: an error
    // there is the user's, reported as if the user's kernel had been called directly.
    const bool internal = k.name.rfind("weft.", 0) == 0;
    const auto where
        = [&](std::string line) { return internal ? "on " + who(myid()) : std::move(line); };
    // Where the user's code threw, down to the kernel (a pattern's own frames are not theirs).
    const auto kernel_frames = [] {
        return last_throw_frames({ "ProcessRuntime::run_call", "map_batch", "reduce_range" });
    };
    const bool has_refs = std::any_of(
        c.args.begin(), c.args.end(), [](const Value& a) { return a.kind() == Value::Kind::Ref; });
    try {
        Context ctx(*this);
        if (has_refs)
            result = k.fn(ctx, resolve_args(c.args, c.caller, k.keeps_ref));
        else
            result = k.fn(ctx, c.args); // the common case: nothing to fetch, nothing to copy
    } catch (const RemoteException& e) {
        auto ev = e.captured();
        ev.backtrace.push_back(where("in kernel '" + k.name + "' on " + who(myid())));
        result = ev;
    } catch (const KernelNotFound& e) {
        ErrorValue ev { "KernelNotFound", e.what(), e.pid(), {}, e.kernel() };
        if (!internal) // a pattern's missing kernel is the caller's typed KernelNotFound
            ev.backtrace.push_back("in kernel '" + k.name + "' on " + who(myid()));
        result = ev;
    } catch (const ProcessExitedException& e) {
        ErrorValue ev { "ProcessExitedException", e.reason(), e.pid(), {}, {} };
        ev.backtrace.push_back(where("in kernel '" + k.name + "' on " + who(myid())));
        result = ev;
    } catch (const std::exception& e) {
        auto ev = make_error(current_exception_type(), e.what(), internal ? "" : k.name);
        ev.backtrace = kernel_frames();
        ev.backtrace.push_back(
            where("in kernel '" + k.name + "' on " + who(myid()) + ", called by " + who(c.caller)));
        result = ev;
    } catch (...) {
        auto ev = make_error(
            current_exception_type(), "a non-standard exception", internal ? "" : k.name);
        ev.backtrace = kernel_frames();
        ev.backtrace.push_back(
            where("in kernel '" + k.name + "' on " + who(myid()) + ", called by " + who(c.caller)));
        result = ev;
    }
    // The holds that came with the arguments end with the call (when `c` goes).
    reply(c, result);
}

std::unique_ptr<OutFrame> ProcessRuntime::frame_for_result(std::uint64_t call_id, const Value& v)
{
    auto f = std::make_unique<OutFrame>(64);
    auto r = f->root().initResult();
    r.setCallId(call_id);
    encode_value(v, r.initValue(), *f, &refs_);
    f->finish();
    if (f->total_bytes() > opts_.limits.max_frame_bytes) {
        auto e = make_error("ArgumentError",
            "the result is a message of " + std::to_string(f->total_bytes())
                + " bytes, over the frame limit of "
                + std::to_string(opts_.limits.max_frame_bytes));
        return frame_for_result(call_id, e);
    }
    return f;
}

void ProcessRuntime::reply(const IncomingCall& c, const Value& v)
{
    if (c.slot) {
        c.slot->set(v);
        store_.count_value(*c.slot, value_bytes(v));
    }
    if (c.kind == CallKind::Async)
        return;
    if (c.kind == CallKind::Do) {
        if (v.is_error())
            log("remote_do of '" + c.kernel + "' failed: " + v.as_error().type + ": "
                + v.as_error().message);
        return;
    }
    static const Value nil;
    const Value& out = (c.kind == CallKind::Wait && !v.is_error()) ? nil : v;
    if (!c.reply_conn) {
        complete_pending(c.call_id, out);
        return;
    }
    send_to(*c.reply_conn, c.caller, frame_for_result(c.call_id, out));
}

// ---- futures ------------------------------------------------------------------------------

std::shared_ptr<Completion> ProcessRuntime::start_fetch(FutureState& f, FetchBatch* batch)
{
    std::shared_ptr<Completion> req;
    {
        std::lock_guard g(f.m_);
        if (f.cached_ || f.ref_.owner == myid())
            return nullptr;
        if (f.inflight_)
            return f.inflight_; // someone asked already: wait for the same answer
        if (f.released_) { // finalized: the owner may have freed it, and would wait for it
            req = std::make_shared<Completion>();
            req->set(make_error("InvalidStateException", kFinalized));
            return req;
        }
        f.inflight_ = req = std::make_shared<Completion>();
    }
    // Ask the owner; it replies once the value is there and drops our hold (we still have one:
    // not finalized, not fetched) unless it is an error. The answer completes `req` directly;
    // finish_fetch caches it.
    try {
        if (!batch) {
            request_ref(f.ref_, wire::FetchMode::VALUE, true, req);
            return req;
        }
        batch->by_owner[f.ref_.owner].push_back({ req, f.ref_.id }); // sent later
    } catch (const Error&) {
        req->set(error_from_current_exception());
    }
    return req;
}

void ProcessRuntime::send_fetch_batch(FetchBatch& batch)
{
    constexpr std::size_t kChunk = 4096; // keeps each message small enough to start early
    for (auto& [owner, items] : batch.by_owner) {
        // One lock and one range of call ids for the owner's whole batch.
        const std::uint64_t first_id
            = next_call_.fetch_add(items.size(), std::memory_order_relaxed);
        std::shared_ptr<Connection> conn;
        try {
            std::lock_guard g(m_);
            conn = connection_to_locked(owner);
            pending_.reserve(pending_.size() + items.size());
            for (std::size_t i = 0; i < items.size(); ++i)
                pending_.emplace(first_id + i, PendingCall { items[i].done, owner });
        } catch (const Error&) {
            const auto e = error_from_current_exception();
            for (auto& item : items)
                item.done->set(e);
            continue;
        }
        for (std::size_t b = 0; b < items.size(); b += kChunk) {
            const std::size_t n = std::min(kChunk, items.size() - b);
            auto out = std::make_unique<OutFrame>(static_cast<unsigned>(8 + n * 6));
            auto list = out->root().initFetchMany().initItems(static_cast<unsigned>(n));
            for (std::size_t i = 0; i < n; ++i) {
                const auto& [done, ref] = items[b + i];
                auto r = list[static_cast<unsigned>(i)];
                r.setCallId(first_id + b + i);
                encode_ref_id(ref, r.initRef());
                r.setMode(wire::FetchMode::VALUE);
                r.setRelease(true); // see start_fetch
            }
            out->finish();
            conn->send(std::move(out));
        }
    }
}

const Value& ProcessRuntime::finish_fetch(FutureState& f, const std::shared_ptr<Completion>& req)
{
    if (req) {
        const Value& v = req->wait();
        std::lock_guard g(f.m_);
        if (f.inflight_ == req)
            f.inflight_.reset();
        if (v.is_error())
            throw_error_value(v.as_error()); // a failure caches nothing
        if (!f.cached_) {
            f.cached_ = v;
            f.released_ = true; // the owner dropped our hold when it answered
        }
        return *f.cached_;
    }
    {
        std::lock_guard g(f.m_);
        if (f.cached_)
            return *f.cached_;
    }
    // The value lives here.
    throw_if_finalized(f);
    auto slot = stored_value(f.ref_.id);
    if (!slot)
        throw InvalidStateException(kFinalized);
    const Value& v = checked(slot->wait());
    std::lock_guard g(f.m_);
    if (!f.cached_) {
        f.cached_ = v;
        if (!f.released_) {
            f.released_ = true;
            add_holder(f.ref_.id, myid(), -1);
        }
    }
    return *f.cached_;
}

const Value& ProcessRuntime::fetch(FutureState& f)
{
    return finish_fetch(f, start_fetch(f));
}

void ProcessRuntime::wait(FutureState& f)
{
    {
        std::lock_guard g(f.m_);
        if (f.cached_)
            return;
    }
    throw_if_finalized(f);
    if (f.ref_.owner == myid()) {
        auto slot = stored_value(f.ref_.id);
        if (!slot)
            throw InvalidStateException(kFinalized);
        checked(slot->wait());
        return;
    }
    auto got = request_ref(f.ref_, wire::FetchMode::WAIT, false);
    await_reply(*got, f.ref_.owner);
    checked(got->wait());
}

bool ProcessRuntime::isready(FutureState& f)
{
    {
        std::lock_guard g(f.m_);
        if (f.cached_)
            return true;
    }
    // Finalized is finalized wherever the value lives: here it may linger while another process
    // holds it, and asking would then answer for a value this handle gave up.
    throw_if_finalized(f);
    if (f.ref_.owner == myid()) {
        auto slot = stored_value(f.ref_.id);
        return slot && slot->ready();
    }
    auto got = request_ref(f.ref_, wire::FetchMode::PROBE, false);
    await_reply(*got, f.ref_.owner);
    return checked(got->wait()).as_bool();
}

void ProcessRuntime::throw_if_finalized(FutureState& f)
{
    std::lock_guard g(f.m_);
    if (f.released_ && !f.cached_)
        throw InvalidStateException(kFinalized);
}

ProcessRuntime::OpenRequest ProcessRuntime::open_request(Pid to, std::shared_ptr<Completion> into)
{
    OpenRequest r { next_call_.fetch_add(1, std::memory_order_relaxed),
        into ? std::move(into) : std::make_shared<Completion>(), nullptr };
    std::lock_guard g(m_);
    r.conn = connection_to_locked(to); // throws for an unknown or exited process
    pending_[r.id] = { r.done, to };
    return r;
}

std::shared_ptr<Completion> ProcessRuntime::stored_value(const RefId& id) const
{
    std::lock_guard g(m_);
    const StoreEntry* e = store_.find(id);
    return e ? e->value : nullptr;
}

std::shared_ptr<Completion> ProcessRuntime::request_ref(
    const RemoteRef& r, wire::FetchMode mode, bool release, std::shared_ptr<Completion> into)
{
    auto [id, got, conn] = open_request(r.owner, std::move(into));
    auto out = std::make_unique<OutFrame>(16);
    auto req = out->root().initFetchRef();
    req.setCallId(id);
    encode_ref_id(r.id, req.initRef());
    req.setMode(mode);
    req.setRelease(release);
    out->finish();
    conn->send(std::move(out));
    return got;
}

void ProcessRuntime::release(FutureState& f)
{
    {
        std::lock_guard g(f.m_);
        if (f.released_)
            return;
        f.released_ = true;
    }
    release_hold(f.ref_, myid());
}

void ProcessRuntime::finalize(FutureState& f)
{
    std::optional<Value> dropped; // destroyed outside the lock: it may hold references
    bool release_now = false;
    {
        std::lock_guard g(f.m_);
        dropped = std::move(f.cached_);
        f.cached_.reset();
        release_now = !f.released_;
        f.released_ = true;
    }
    if (release_now)
        release_hold(f.ref_, myid());
}

void ProcessRuntime::release_hold(const RemoteRef& r, Pid holder)
{
    if (shut_down_.load())
        return;
    if (r.owner == myid()) {
        add_holder(r.id, holder, -1);
        return;
    }
    // Removes travel in batches. Adds go at once, so they always reach an owner before the
    // removes queued after them.
    bool first;
    {
        std::lock_guard g(removes_m_);
        auto& q = removes_[r.owner];
        first = q.empty();
        q.push_back({ r.id, holder });
    }
    if (first)
        loop_.post([self = shared_from_this(), owner = r.owner] { self->flush_removes(owner); });
}

void ProcessRuntime::flush_removes(Pid owner)
{
    std::vector<std::pair<RefId, Pid>> batch;
    {
        std::lock_guard g(removes_m_);
        batch.swap(removes_[owner]);
    }
    if (!batch.empty())
        send_ref_ops(owner, batch, false);
}

void ProcessRuntime::add_holder(const RefId& id, Pid holder, int delta)
{
    ErasedEntry freed; // dropped outside the lock
    std::lock_guard g(m_);
    // A dead process holds nothing: an add for it that was still on its way (sent by a third
    // process before the holder died) would never be matched by a remove.
    if (delta > 0 && holder != myid())
        if (auto it = peers_.find(holder); it != peers_.end() && it->second.exited)
            return;
    freed = store_.add_holds(id, holder, delta);
}

// ---- incoming messages --------------------------------------------------------------------

void ProcessRuntime::on_message(const std::shared_ptr<Connection>& conn, Pid from, InFrame&& frame)
{
    // What a frame that cannot be acted on must still answer, as far as it could be read: no
    // caller may wait forever on a frame that was dropped.
    std::optional<IncomingCall> call_read; // a call's kind, id and result slot
    std::uint64_t request_id = 0; // a request that expects a reply (fetch, channel op)
    std::uint64_t result_id = 0; // a result for one of this process's calls
    try {
        capnp::ReaderOptions ro;
        // Decoding may read each word of the frame a few times, never more: a small frame that
        // declares a huge list of empty elements fails here instead of stalling this thread.
        ro.traversalLimitInWords = frame.bytes / 8 * opts_.limits.traversal_words_per_word + 1024;
        ro.nestingLimit = opts_.limits.nesting_limit;
        capnp::SegmentArrayMessageReader reader(segments_of(frame), ro);
        auto msg = reader.getRoot<wire::Message>();
        switch (msg.which()) {
        case wire::Message::CALL: {
            auto call = msg.getCall();
            IncomingCall c;
            c.kind = static_cast<CallKind>(call.getKind());
            c.call_id = call.getCallId();
            c.ref = decode_ref_id(call.getRef());
            c.caller = from;
            c.reply_conn = conn;
            request_id = c.call_id; // answered as a fetch until its kind is known
            if (static_cast<unsigned>(c.kind) > static_cast<unsigned>(CallKind::Do))
                throw std::invalid_argument(
                    "unknown call kind " + std::to_string(static_cast<unsigned>(call.getKind())));
            call_read = c;
            request_id = 0;
            c.kernel = call.getKernel();
            c.pool = std::string_view(call.getPool().cStr()) == "interactive"
                    && sched_->has_pool(PoolKind::Interactive)
                ? PoolKind::Interactive
                : PoolKind::Default;
            c.args.reserve(call.getArgs().size());
            for (auto a : call.getArgs())
                c.args.push_back(decode_value(a, frame.owner, &refs_));
            call_read.reset();
            accept_call(std::move(c));
            break;
        }
        case wire::Message::RESULT: {
            auto r = msg.getResult();
            result_id = r.getCallId();
            complete_pending(result_id, decode_value(r.getValue(), frame.owner, &refs_));
            break;
        }
        case wire::Message::FETCH_MANY:
            handle_fetch_many(conn, from, msg.getFetchMany());
            break;
        case wire::Message::RESULTS:
            complete_results(msg.getResults(), frame.owner);
            break;
        case wire::Message::CHANNEL_OP:
            request_id = msg.getChannelOp().getCallId();
            handle_channel_op(conn, from, msg.getChannelOp(), frame.owner);
            break;
        case wire::Message::FETCH_REF:
            request_id = msg.getFetchRef().getCallId();
            handle_fetch(conn, from, msg.getFetchRef());
            break;
        case wire::Message::REF_OPS:
            handle_ref_ops(from, msg.getRefOps());
            break;
        case wire::Message::JOIN:
            if (from == 1)
                handle_join(msg.getJoin());
            break;
        case wire::Message::PEER_ADDED: {
            if (from != 1)
                break;
            auto p = msg.getPeerAdded();
            std::lock_guard g(m_);
            auto& ps = peers_[p.getPid()];
            ps.host = p.getHost();
            ps.tcp_address = p.getTcp();
            ps.unix_address = p.getUnix();
            break;
        }
        case wire::Message::PEER_EXITED:
            if (from == 1)
                peer_exited(msg.getPeerExited().getPid(), msg.getPeerExited().getReason());
            break;
        case wire::Message::EXIT:
            if (from == 1)
                request_exit("the master asked this worker to exit");
            break;
        case wire::Message::PONG:
            complete_pending(msg.getPong(), Value(true));
            break;
        case wire::Message::TELEMETRY: {
            const auto received = steady_ns();
            std::function<void(Pid, Value, std::int64_t)> sink;
            {
                std::lock_guard g(telemetry_m_);
                sink = telemetry_sink_;
            }
            if (sink)
                sink(from, decode_value(msg.getTelemetry(), frame.owner), received);
            break;
        }
        case wire::Message::INTERRUPT:
            if (from == 1)
                sched_->interrupt();
            break;
        case wire::Message::TELEMETRY_INTERVAL:
            if (from == 1)
                apply_telemetry_interval(msg.getTelemetryInterval());
            break;
        case wire::Message::PING: {
            auto f = std::make_unique<OutFrame>(8);
            f->root().setPong(msg.getPing());
            f->finish();
            conn->send(std::move(f));
            break;
        }
        default:
            throw std::invalid_argument(
                "message of unknown kind " + std::to_string(unsigned(msg.which())));
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
    const auto err = make_error("ArgumentError", why);
    if (call) { // its Future (or its caller) gets the error, as for an unknown kernel
        accept_call(std::move(*call), err);
        return;
    }
    if (request_id) {
        conn->send(frame_for_result(request_id, err));
        return;
    }
    if (result_id) { // our own call's answer could not be read: the call fails with why
        complete_pending(result_id, err);
        return;
    }
    // Nothing says who waits on it (a reference operation, a batch of results, an unknown
    // kind): dropping it could leave someone waiting forever, so the connection ends with the
    // reason, and every call pending on it fails.
    conn->close(why);
}

void ProcessRuntime::handle_fetch(
    const std::shared_ptr<Connection>& conn, Pid from, wire::FetchRef::Reader r)
{
    const std::uint64_t id = r.getCallId();
    const RefId ref = decode_ref_id(r.getRef());
    const auto mode = r.getMode();
    const bool release = r.getRelease();
    if (mode == wire::FetchMode::PROBE) {
        auto slot = stored_value(ref);
        conn->send(frame_for_result(id, Value(slot && slot->ready())));
        return;
    }
    // A reference we have not heard of yet is one whose call (or whose holder's add) is still on
    // its way here on another connection: the fetcher got it from a process that sent both
    // before passing it on, but messages on different connections race. As Julia's lookup_ref
    // does, make the entry now; the call fills it in. (Ids are never reused, and a process
    // fetches only what it holds, so a freed id is never asked for.)
    std::shared_ptr<Completion> slot;
    {
        std::lock_guard g(m_);
        slot = store_.get(ref).value;
    }
    if (slot->ready()) {
        answer_fetch(*conn, from, id, ref, mode, release, slot->wait());
        return;
    }
    auto self = shared_from_this();
    std::weak_ptr<Connection> weak = conn;
    slot->on_ready([self, weak, id, ref, mode, release, from](const Value& v) {
        if (auto c = weak.lock())
            self->answer_fetch(*c, from, id, ref, mode, release, v);
    });
}

// Results of one fetch_many that arrive after it: whatever is ready when the loop gets to them
// goes back in one message, so a worker that lags behind its caller's fetch_all answers in
// batches, not with a message (and a wake-up) per value.
struct ProcessRuntime::LateResults {
    LateResults(std::weak_ptr<Connection> c, Pid f)
        : conn(std::move(c))
        , from(f)
    {
    }
    const std::weak_ptr<Connection> conn;
    const Pid from;
    std::mutex m;
    std::vector<ReadyResult> ready;
    bool posted = false; // a flush is on its way to the loop
};

void ProcessRuntime::handle_fetch_many(
    const std::shared_ptr<Connection>& conn, Pid from, wire::FetchMany::Reader r)
{
    // One lock for the whole batch to find the values and drop the holds they release (`ready`
    // keeps them alive until sent); the ready ones go back together at once.
    const auto items = r.getItems();
    std::vector<ReadyResult> ready;
    std::vector<std::pair<unsigned, std::shared_ptr<Completion>>> later;
    std::vector<ErasedEntry> freed; // dropped outside the lock
    ready.reserve(items.size());
    {
        std::lock_guard g(m_);
        for (unsigned i = 0; i < items.size(); ++i) {
            const auto item = items[i];
            const RefId ref = decode_ref_id(item.getRef());
            if (item.getMode() != wire::FetchMode::VALUE) {
                later.emplace_back(i, nullptr);
                continue;
            }
            StoreEntry* e = &store_.get(ref); // not heard of yet: see handle_fetch
            const Value* v = e->value->peek(); // never waits
            if (!v) {
                later.emplace_back(i, e->value);
                continue;
            }
            ready.push_back({ item.getCallId(), e->value, ref, false });
            if (item.getRelease() && !v->is_error())
                if (auto gone = store_.add_holds(ref, from, -1))
                    freed.push_back(std::move(gone));
        }
    }
    std::shared_ptr<LateResults> late;
    auto self = shared_from_this();
    for (auto& [i, slot] : later) {
        const auto item = items[i];
        if (!slot) {
            handle_fetch(conn, from, item); // a probe or a wait
            continue;
        }
        if (!late)
            late = std::make_shared<LateResults>(conn, from);
        ReadyResult rr { item.getCallId(), nullptr, decode_ref_id(item.getRef()),
            item.getRelease() };
        std::weak_ptr<Completion> weak = slot; // the callback lives in the slot: no cycle
        slot->on_ready([self, late, rr, weak](const Value&) mutable {
            if ((rr.value = weak.lock()))
                self->add_late_result(late, std::move(rr));
        });
    }
    if (!ready.empty())
        send_results(*conn, from, ready);
}

void ProcessRuntime::add_late_result(const std::shared_ptr<LateResults>& late, ReadyResult r)
{
    {
        std::lock_guard g(late->m);
        late->ready.push_back(std::move(r));
        if (late->posted)
            return;
        late->posted = true;
    }
    loop_.post([self = shared_from_this(), late] {
        std::vector<ReadyResult> batch;
        {
            std::lock_guard g(late->m);
            batch.swap(late->ready);
            late->posted = false;
        }
        if (auto c = late->conn.lock())
            self->send_results(*c, late->from, batch);
    });
}

void ProcessRuntime::send_results(Connection& conn, Pid from, std::vector<ReadyResult>& results)
{
    // Frames stay well under the limit; a value too big for any frame gets its own, which
    // frame_for_result turns into an error naming the limit.
    const std::size_t budget = opts_.limits.max_frame_bytes / 2;
    std::vector<RefId> released;
    for (std::size_t first = 0; first < results.size();) {
        std::size_t last = first, bytes = 0;
        while (last < results.size()) {
            const std::size_t b = value_bytes(*results[last].value->peek()) + 64;
            if (last > first && bytes + b > budget)
                break;
            bytes += b;
            ++last;
        }
        if (last == first + 1 && bytes > budget) {
            send_to(conn, from,
                frame_for_result(results[first].call_id, *results[first].value->peek()));
        } else {
            auto out = std::make_unique<OutFrame>(static_cast<unsigned>(8 + (last - first) * 8));
            auto list = out->root().initResults(static_cast<unsigned>(last - first));
            for (std::size_t i = first; i < last; ++i) {
                auto item = list[static_cast<unsigned>(i - first)];
                item.setCallId(results[i].call_id);
                encode_value(*results[i].value->peek(), item.initValue(), *out, &refs_);
            }
            out->finish();
            send_to(conn, from, std::move(out));
        }
        for (std::size_t i = first; i < last; ++i)
            if (results[i].release && !results[i].value->peek()->is_error())
                released.push_back(results[i].ref);
        first = last;
    }
    results.clear();
    std::vector<ErasedEntry> freed; // dropped outside the lock
    freed.reserve(released.size());
    std::lock_guard g(m_);
    for (const RefId& ref : released)
        if (auto v = store_.add_holds(ref, from, -1))
            freed.push_back(std::move(v));
}

void ProcessRuntime::answer_fetch(Connection& conn, Pid from, std::uint64_t id, const RefId& ref,
    wire::FetchMode mode, bool release, const Value& v)
{
    static const Value nil;
    send_to(conn, from,
        frame_for_result(id, (mode == wire::FetchMode::WAIT && !v.is_error()) ? nil : v));
    if (release && mode == wire::FetchMode::VALUE && !v.is_error())
        add_holder(ref, from, -1);
}

// ---- RemoteChannels --------------------------------------------------------------------------

std::shared_ptr<Channel<Value>> ProcessRuntime::local_channel(const RefId& id)
{
    std::lock_guard g(m_);
    const StoreEntry* e = store_.find(id);
    return e ? e->channel : nullptr;
}

RemoteRef ProcessRuntime::create_channel(std::size_t capacity, Pid owner)
{
    if (owner == 0)
        owner = myid();
    const RemoteRef r { RefKind::Channel, new_ref_id(), owner };
    if (owner == myid()) {
        std::lock_guard g(m_);
        auto& e = store_.get(r.id);
        store_.make_channel(r.id, e, capacity);
        e.holders[myid()] += 1;
        return r;
    }
    auto [id, done, conn] = open_request(owner);
    auto f = std::make_unique<OutFrame>(32);
    auto op = f->root().initChannelOp();
    op.setCallId(id);
    encode_ref_id(r.id, op.initRef());
    op.setOp(wire::ChannelOpKind::CREATE);
    op.setCapacity(capacity);
    f->finish();
    conn->send(std::move(f));
    checked(done->wait());
    return r;
}

Value ProcessRuntime::run_channel_op(
    const std::shared_ptr<Channel<Value>>& ch, wire::ChannelOpKind op, Value v)
{
    switch (op) {
    case wire::ChannelOpKind::PUT:
        ch->put(std::move(v));
        return {};
    case wire::ChannelOpKind::TAKE:
        return ch->take();
    case wire::ChannelOpKind::FETCH:
        return ch->fetch();
    case wire::ChannelOpKind::WAIT:
        ch->wait();
        return {};
    case wire::ChannelOpKind::ISREADY:
        return ch->isready();
    case wire::ChannelOpKind::CLOSE:
        ch->close();
        return {};
    case wire::ChannelOpKind::CREATE:
        break;
    }
    throw std::invalid_argument("unknown channel operation");
}

Value ProcessRuntime::channel_op(const RemoteRef& r, wire::ChannelOpKind op, Value v)
{
    if (r.owner == myid()) {
        auto ch = local_channel(r.id);
        if (!ch)
            throw InvalidStateException("this RemoteChannel no longer exists on " + who(myid()));
        return run_channel_op(ch, op, std::move(v));
    }
    auto [id, done, conn] = open_request(r.owner);
    auto f = std::make_unique<OutFrame>(32);
    auto w = f->root().initChannelOp();
    w.setCallId(id);
    encode_ref_id(r.id, w.initRef());
    w.setOp(op);
    encode_value(v, w.initValue(), *f, &refs_);
    f->finish();
    send_to(*conn, r.owner, std::move(f));
    await_reply(*done, r.owner);
    return checked(done->wait());
}

void ProcessRuntime::handle_channel_op(const std::shared_ptr<Connection>& conn, Pid from,
    wire::ChannelOp::Reader r, const std::shared_ptr<const void>& frame_owner)
{
    const std::uint64_t id = r.getCallId();
    const RefId ref = decode_ref_id(r.getRef());
    const auto op = r.getOp();
    if (op == wire::ChannelOpKind::CREATE) {
        {
            std::lock_guard g(m_);
            auto& e = store_.get(ref);
            store_.make_channel(ref, e, r.getCapacity());
            if (++e.holders[from] == 0)
                e.holders.erase(from);
        }
        conn->send(frame_for_result(id, Value()));
        return;
    }
    auto ch = local_channel(ref);
    if (!ch) {
        conn->send(frame_for_result(id,
            make_error("InvalidStateException",
                "RemoteChannel (" + std::to_string(ref.whence) + ", " + std::to_string(ref.n)
                    + ") no longer exists on " + who(myid()))));
        return;
    }
    if (op == wire::ChannelOpKind::ISREADY || op == wire::ChannelOpKind::CLOSE) {
        send_to(*conn, from, frame_for_result(id, run_channel_op(ch, op, {})));
        return;
    }
    // A put's value may wait in the channel long after this frame: its arrays keep the bytes.
    Value v = decode_value(r.getValue(), frame_owner, &refs_);
    // What can complete at once is answered here, on the I/O thread.
    try {
        if (op == wire::ChannelOpKind::PUT && ch->try_put(v)) {
            conn->send(frame_for_result(id, Value()));
            return;
        }
        if (op == wire::ChannelOpKind::TAKE) {
            if (auto got = ch->try_take()) {
                send_to(*conn, from, frame_for_result(id, *got));
                return;
            }
        }
    } catch (const InvalidStateException& e) {
        conn->send(frame_for_result(id, make_error("InvalidStateException", e.what())));
        return;
    }
    // The rest may wait: as a task, on the interactive pool when there is one.
    auto self = shared_from_this();
    auto& pool = sched_->pool(
        sched_->has_pool(PoolKind::Interactive) ? PoolKind::Interactive : PoolKind::Default);
    pool.spawn([self, conn, from, id, ch, op, v = std::move(v)]() mutable {
        Value result;
        try {
            result = self->run_channel_op(ch, op, std::move(v));
        } catch (const std::exception&) {
            result = self->error_from_current_exception();
        }
        self->send_to(*conn, from, self->frame_for_result(id, result));
    });
}

std::vector<StoreEntryInfo> ProcessRuntime::store_table() const
{
    std::uint64_t entries = 0, bytes = 0;
    return store_table(std::numeric_limits<std::size_t>::max(), entries, bytes);
}

std::vector<StoreEntryInfo> ProcessRuntime::store_table(
    std::size_t max, std::uint64_t& entries, std::uint64_t& bytes) const
{
    std::vector<StoreEntryInfo> out;
    const auto now = std::chrono::steady_clock::now();
    const auto describe = [&](const RefId& id, const StoreEntry& e) {
        StoreEntryInfo info;
        info.id = id;
        info.kind = e.kind;
        info.holders = e.holders;
        info.age_seconds = std::chrono::duration<double>(now - e.created).count();
        if (e.channel) {
            const auto st = e.channel->stats();
            info.state = st.closed ? "closed" : "open";
            info.length = st.length;
            info.capacity = st.capacity;
        } else if (const Value* v = e.value ? e.value->peek() : nullptr) {
            // peek, not wait: a value whose setter still runs callbacks (which may take m_) is
            // ready, and waiting for them here, holding m_, would deadlock.
            info.state = v->is_error() ? "error" : "ready";
            info.bytes = value_bytes(*v);
        } else {
            info.state = "pending";
        }
        out.push_back(std::move(info));
    };
    {
        // Cost independent of the store's size: the sampler calls this ten times a second.
        std::lock_guard g(m_);
        out.reserve(std::min(max, store_.size()));
        store_.for_each_oldest(max, describe);
        entries = store_.size();
        bytes = store_.bytes();
    }
    std::sort(out.begin(), out.end(), [](const StoreEntryInfo& a, const StoreEntryInfo& b) {
        return a.id.whence != b.id.whence ? a.id.whence < b.id.whence : a.id.n < b.id.n;
    });
    return out;
}

std::vector<ChannelSample> ProcessRuntime::channel_samples() const
{
    std::vector<ChannelSample> out;
    std::lock_guard g(m_);
    store_.for_each_channel([&](const RefId& id, const StoreEntry& e) {
        const auto st = e.channel->stats();
        out.push_back(
            { id, st.length, st.capacity, st.waiting_putters, st.waiting_takers, st.closed });
    });
    return out;
}

std::vector<Pid> ProcessRuntime::peer_ids() const
{
    std::vector<Pid> out;
    std::lock_guard g(m_);
    for (const auto& [pid, ps] : peers_)
        if (!ps.all.empty() || ps.out)
            out.push_back(pid);
    return out;
}

void ProcessRuntime::set_telemetry_sink(std::function<void(Pid, Value, std::int64_t)> sink)
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
    std::vector<std::shared_ptr<Connection>> conns;
    {
        std::lock_guard g(m_);
        for (auto& [pid, ps] : peers_)
            if (pid != 1 && ps.joined && !ps.exited && ps.out)
                conns.push_back(ps.out);
    }
    for (auto& c : conns) {
        auto f = std::make_unique<OutFrame>(8);
        f->root().setTelemetryInterval(ms);
        f->finish();
        c->send(std::move(f));
    }
}

void ProcessRuntime::send_telemetry(const Value& sample)
{
    std::shared_ptr<Connection> conn;
    {
        std::lock_guard g(m_);
        auto it = peers_.find(1);
        if (it == peers_.end() || !it->second.out)
            return;
        conn = it->second.out;
    }
    auto f = std::make_unique<OutFrame>(1024);
    encode_value(sample, f->root().initTelemetry(), *f);
    f->finish();
    conn->send(std::move(f));
}

void ProcessRuntime::handle_ref_ops(Pid, wire::RefOps::Reader r)
{
    for (auto a : r.getAdds())
        add_holder(decode_ref_id(a.getId()), a.getHolder(), +1);
    for (auto d : r.getRemoves())
        add_holder(decode_ref_id(d.getId()), d.getHolder(), -1);
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

void ProcessRuntime::handle_join(wire::Join::Reader j)
{
    pid_.store(j.getPid(), std::memory_order_release);
    apply_telemetry_interval(j.getTelemetryMs());
    std::vector<Pid> eager;
    {
        std::lock_guard g(m_);
        for (auto p : j.getPeers()) {
            auto& ps = peers_[p.getPid()];
            ps.host = p.getHost();
            ps.tcp_address = p.getTcp();
            ps.unix_address = p.getUnix();
            eager.push_back(p.getPid());
        }
        opts_.topology = static_cast<Topology>(j.getTopology() == wire::Topology::ALL_TO_ALL
                ? Topology::AllToAll
                : j.getTopology() == wire::Topology::MASTER_WORKER ? Topology::MasterWorker
                                                                   : Topology::Lazy);
        if (opts_.topology == Topology::AllToAll)
            for (Pid p : eager)
                try {
                    connection_to_locked(p);
                } catch (const Error& e) {
                    log(std::string("all_to_all: ") + e.what());
                }
    }
}

// ---- connections --------------------------------------------------------------------------

void ProcessRuntime::on_connection_closed(
    const std::shared_ptr<Connection>& conn, Pid peer, const std::string& reason)
{
    bool was_out = false;
    {
        std::lock_guard g(m_);
        auto it = peers_.find(peer);
        if (it != peers_.end()) {
            auto& all = it->second.all;
            all.erase(std::remove(all.begin(), all.end(), conn), all.end());
            // The closed connection stays the peer's channel until we know how the peer ended:
            // calls made meanwhile stay pending and fail with the exact exit reason.
            was_out = it->second.out == conn;
        }
    }
    if (myid() != 1 && peer == 1) {
        request_exit("lost the connection to the master: " + reason);
        return;
    }
    if (!was_out)
        return;
    // The peer has most likely died: the OS (on the master) or the master (on a worker) says how
    // within milliseconds. If nobody does, give up on it with what we know.
    auto self = shared_from_this();
    loop_.add_task(loop_.timer().afterDelay(1 * kj::SECONDS).then([self, peer, reason] {
        if (!self->peer_exit_reason(peer))
            self->peer_exited(peer, "connection lost: " + reason);
    }));
}

void ProcessRuntime::peer_exited(Pid pid, const std::string& reason)
{
    std::vector<std::shared_ptr<Connection>> conns;
    std::vector<Pid> notify;
    std::vector<ErasedEntry> freed;
    {
        std::lock_guard g(m_);
        auto& p = peers_[pid];
        if (p.exited)
            return;
        p.exited = true;
        p.exit_reason = reason;
        conns = p.all;
        p.out.reset();
        // A dead process holds nothing.
        store_.drop_holder(pid, freed);
        if (myid() == 1)
            for (auto& [other, ps] : peers_)
                if (other != pid && !ps.exited && ps.out)
                    notify.push_back(other);
    }
    auto e = make_error("ProcessExitedException", reason);
    e.origin = pid;
    fail_pending_to(pid, e);
    for (auto& c : conns)
        c->close(who(pid) + " exited");
    for (Pid other : notify) {
        std::shared_ptr<Connection> c;
        {
            std::lock_guard g(m_);
            c = peers_[other].out;
        }
        if (!c)
            continue;
        auto f = std::make_unique<OutFrame>(32);
        auto pe = f->root().initPeerExited();
        pe.setPid(pid);
        pe.setReason(reason);
        f->finish();
        c->send(std::move(f));
    }
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

void ProcessRuntime::on_exit_requested(std::function<void(const std::string&)> cb)
{
    std::lock_guard g(poll_m_);
    exit_cb_ = std::move(cb);
}

void ProcessRuntime::remove_socket_files()
{
    for (const auto& path : listen_paths_)
        ::unlink(path.c_str());
}

std::vector<std::string> ProcessRuntime::listen()
{
    std::vector<ListenSocket> socks;
    if (opts_.listen_tcp)
        socks.push_back(listen_tcp(opts_.host));
    socks.push_back(listen_unix("weft-worker"));
    std::vector<std::string> addrs;
    loop_.run_sync([&] {
        for (auto& s : socks) {
            listen_fds_.push_back(s.fd);
            if (!s.path.empty())
                listen_paths_.push_back(s.path);
            addrs.push_back(s.address);
            auto obs = std::make_unique<kj::UnixEventPort::FdObserver>(
                loop_.port(), s.fd, kj::UnixEventPort::FdObserver::OBSERVE_READ);
            auto* raw = obs.get();
            listen_observers_.push_back(std::move(obs));
            const int fd = s.fd;
            const bool tcp = is_tcp_address(s.address);
            loop_.add_task(accept_loop(raw, fd, tcp));
        }
    });
    return addrs;
}

kj::Promise<void> ProcessRuntime::accept_loop(kj::UnixEventPort::FdObserver* obs, int fd, bool tcp)
{
    return obs->whenBecomesReadable().then(
        [this, obs, fd, tcp] { return accept_ready(obs, fd, tcp); });
}

// Accepts what is waiting. An error other than "nothing waiting" never stops the listener: out
// of descriptors (EMFILE, ENFILE) or memory, it says so once and tries again shortly, until the
// pressure is gone (the socket reports readable only for new connections, so it must retry).
kj::Promise<void> ProcessRuntime::accept_ready(kj::UnixEventPort::FdObserver* obs, int fd, bool tcp)
{
    const char* what = tcp ? "tcp" : "unix";
    for (;;) {
        const int c = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            const int err = errno;
            if (err == EINTR || err == ECONNABORTED || err == EPROTO)
                continue;
            if (err == EAGAIN || err == EWOULDBLOCK)
                return accept_loop(obs, fd, tcp);
            accept_trouble(
                std::string("accepting ") + what + " connections failed: " + std::strerror(err));
            return loop_.timer().afterDelay(kAcceptRetry).then([this, obs, fd, tcp] {
                return accept_ready(obs, fd, tcp);
            });
        }
        try {
            tune_socket(c, tcp);
            accept_connection(c, what); // owns `c` from here, even when it throws
            accept_troubled_ = false;
        } catch (const std::exception& e) {
            accept_trouble(std::string("an incoming ") + what + " connection failed: " + e.what());
            return loop_.timer().afterDelay(kAcceptRetry).then([this, obs, fd, tcp] {
                return accept_ready(obs, fd, tcp);
            });
        }
    }
}

void ProcessRuntime::accept_trouble(const std::string& why)
{
    if (std::exchange(accept_troubled_, true))
        return;
    log(why + "; still listening, retrying every " + std::to_string(kAcceptRetry / kj::MILLISECONDS)
        + " ms");
}

void ProcessRuntime::note_rejection(const std::string& line)
{
    if (!rejections_.add(line))
        return;
    log(line);
    auto self = shared_from_this();
    static const int window = [] {
        const char* s = std::getenv("WEFT_REJECTION_WINDOW_S");
        return s && std::atoi(s) > 0 ? std::atoi(s) : kRejectionWindow;
    }();
    loop_.add_task(loop_.timer().afterDelay(window * kj::SECONDS).then([self] {
        auto summary = self->rejections_.take_summary(std::chrono::seconds(window));
        if (!summary.empty())
            self->log(summary);
    }));
}

void ProcessRuntime::accept_connection(int fd, std::string what)
{
    // Same user only: another user's process on this host is turned away before it can cost
    // anything (the socket's directory already keeps it out; this also covers TCP on loopback
    // where the kernel knows the peer, and abstract addresses).
    if (what == "unix")
        if (auto uid = peer_uid(fd); !uid || *uid != ::geteuid()) {
            ::close(fd);
            note_rejection("rejected an incoming unix connection from another user (uid "
                + (uid ? std::to_string(*uid) : std::string("unknown")) + ")");
            return;
        }
    auto conn
        = std::make_shared<Connection>(loop_, fd, "incoming " + what + " connection", opts_.limits);
    // At most so many peers may be unauthenticated at once: the oldest makes room.
    if (handshaking_.size() >= opts_.limits.max_unauthenticated) {
        auto oldest = handshaking_.front();
        handshaking_.erase(handshaking_.begin());
        oldest->close("too many unauthenticated connections ("
            + std::to_string(opts_.limits.max_unauthenticated) + "): the oldest is dropped");
        note_rejection("dropped the oldest unauthenticated connection: more than "
            + std::to_string(opts_.limits.max_unauthenticated) + " at once");
    }
    handshaking_.push_back(conn);
    auto self = shared_from_this();
    conn->start(
        false, [](InFrame&&) {},
        [self, conn](const std::string&) {
            auto& h = self->handshaking_;
            h.erase(std::remove(h.begin(), h.end(), conn), h.end());
        },
        [self, what](const std::string& e) {
            self->note_rejection("rejected an incoming " + what + " connection: " + e);
        });
    // A peer that says nothing, or too little, is closed when the handshake's time is up.
    const auto timeout = opts_.limits.handshake_timeout_ms;
    std::weak_ptr<Connection> weak = conn;
    loop_.add_task(
        loop_.timer().afterDelay(timeout * kj::MILLISECONDS).then([self, weak, what, timeout] {
            auto c = weak.lock();
            if (!c)
                return;
            auto& h = self->handshaking_;
            if (std::find(h.begin(), h.end(), c) == h.end())
                return; // authenticated, or gone
            h.erase(std::remove(h.begin(), h.end(), c), h.end());
            const std::string why = "handshake timed out after " + std::to_string(timeout) + " ms";
            c->close(why);
            self->note_rejection("rejected an incoming " + what + " connection: " + why);
        }));
    handshake_as_acceptor(conn, opts_.cookie, myid(), [self, conn, what](HandshakeResult r) {
        auto& h = self->handshaking_;
        h.erase(std::remove(h.begin(), h.end(), conn), h.end());
        if (!r.ok) {
            self->note_rejection("rejected an incoming " + what + " connection (claiming to be "
                + who(r.peer_pid) + "): " + r.error);
            return;
        }
        const Pid peer = r.peer_pid;
        {
            std::lock_guard g(self->m_);
            auto& ps = self->peers_[peer];
            if (ps.exited) {
                conn->close("peer already exited");
                return;
            }
            ps.all.push_back(conn);
            if (!ps.out)
                ps.out = conn;
        }
        // Reinstall the close handler: now it concerns a known peer.
        // The handler lives in the connection: holding it by pointer (it runs only while the
        // connection exists) keeps the connection from owning itself.
        conn->set_close_handler([self, raw = conn.get(), peer](const std::string& reason) {
            self->on_connection_closed(raw->shared_from_this(), peer, reason);
        });
        self->attach(peer, conn);
    });
}

void ProcessRuntime::add_starting_worker(Pid pid, const std::string& host)
{
    std::lock_guard g(m_);
    peers_[pid].host = host;
}

void ProcessRuntime::set_peer_addresses(
    Pid pid, const std::string& tcp, const std::string& unix_address)
{
    std::lock_guard g(m_);
    auto& ps = peers_[pid];
    ps.tcp_address = tcp;
    ps.unix_address = unix_address;
}

void ProcessRuntime::connect_worker(
    Pid pid, const std::string& address, std::function<void(const std::string&)> ready)
{
    int fd;
    try {
        fd = connect_socket(address);
    } catch (const std::exception& e) {
        ready(e.what());
        return;
    }
    auto conn = std::make_shared<Connection>(loop_, fd, who(pid) + " at " + address, opts_.limits);
    auto self = shared_from_this();
    auto ready_once = std::make_shared<std::function<void(const std::string&)>>(std::move(ready));
    conn->start(
        true, [](InFrame&&) {},
        [self, conn, pid, ready_once](const std::string& reason) {
            if (auto r = std::exchange(*ready_once, nullptr))
                r("connection to " + who(pid) + " failed: " + reason);
            self->on_connection_closed(conn, pid, reason);
        },
        [self, pid](
            const std::string& e) { self->log("frame from " + who(pid) + " rejected: " + e); });
    handshake_as_connector(conn, opts_.cookie, 1, [self, conn, pid, ready_once](HandshakeResult r) {
        if (!r.ok) {
            if (auto cb = std::exchange(*ready_once, nullptr))
                cb("handshake with " + who(pid) + " failed: " + r.error);
            return;
        }
        std::vector<std::pair<Pid, PeerState>> others;
        {
            std::lock_guard g(self->m_);
            auto& ps = self->peers_[pid];
            ps.all.push_back(conn);
            ps.joined = true;
            for (auto& [other, st] : self->peers_)
                if (other != pid && other != 1 && !st.exited && st.out)
                    others.emplace_back(other, st);
            ps.out = conn;
        }
        self->attach(pid, conn);
        auto f = std::make_unique<OutFrame>(256);
        auto j = f->root().initJoin();
        j.setPid(pid);
        j.setTelemetryMs(self->telemetry_ms_.load());
        j.setTopology(self->opts_.topology == Topology::AllToAll ? wire::Topology::ALL_TO_ALL
                : self->opts_.topology == Topology::MasterWorker ? wire::Topology::MASTER_WORKER
                                                                 : wire::Topology::LAZY);
        auto peers = j.initPeers(static_cast<unsigned>(others.size()));
        for (unsigned i = 0; i < others.size(); ++i) {
            peers[i].setPid(others[i].first);
            peers[i].setHost(others[i].second.host);
            peers[i].setTcp(others[i].second.tcp_address);
            peers[i].setUnix(others[i].second.unix_address);
        }
        f->finish();
        conn->send(std::move(f));
        // Tell the others about the newcomer.
        PeerState me;
        {
            std::lock_guard g(self->m_);
            me = self->peers_[pid];
        }
        for (auto& [other, st] : others) {
            auto pf = std::make_unique<OutFrame>(64);
            auto pa = pf->root().initPeerAdded();
            pa.setPid(pid);
            pa.setHost(me.host);
            pa.setTcp(me.tcp_address);
            pa.setUnix(me.unix_address);
            pf->finish();
            st.out->send(std::move(pf));
        }
        if (auto cb = std::exchange(*ready_once, nullptr))
            cb("");
    });
}

double ProcessRuntime::ping(Pid pid)
{
    auto [id, done, conn] = open_request(pid);
    auto f = std::make_unique<OutFrame>(8);
    f->root().setPing(id);
    f->finish();
    const auto t0 = std::chrono::steady_clock::now();
    conn->send(std::move(f));
    await_reply(*done, pid);
    checked(done->wait());
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

void ProcessRuntime::send_interrupt(Pid pid)
{
    std::shared_ptr<Connection> c;
    {
        std::lock_guard g(m_);
        auto it = peers_.find(pid);
        if (it == peers_.end() || !it->second.out || it->second.exited)
            return;
        c = it->second.out;
    }
    auto f = std::make_unique<OutFrame>(8);
    f->root().setInterrupt();
    f->finish();
    c->send(std::move(f));
}

void ProcessRuntime::send_exit(Pid pid)
{
    std::shared_ptr<Connection> c;
    {
        std::lock_guard g(m_);
        auto it = peers_.find(pid);
        if (it == peers_.end() || !it->second.out)
            return;
        c = it->second.out;
    }
    auto f = std::make_unique<OutFrame>(8);
    f->root().setExit();
    f->finish();
    c->send(std::move(f));
}

} // namespace weft::detail
