#include "future_state.h"

#include "error_capture.h"
#include "holding_refs.h"
#include "messages.h"
#include "process_runtime.h"
#include "weft/errors.h"

namespace weft::detail {

namespace {
// What fetch, wait and isready say about a Future whose hold finalize() gave up before it had
// a value here: the owner may have freed it (and, asked anyway, would wait for it forever).
constexpr const char* kFinalized = "this Future's value was already released (finalize)";

} // namespace

FutureState::FutureState(std::weak_ptr<ProcessRuntime> rt, RemoteRef ref)
    : rt_(std::move(rt))
    , ref_(without_hold(std::move(ref)))
{
}

std::shared_ptr<FutureState> FutureState::ready(std::weak_ptr<ProcessRuntime> rt, Pid here, Value v)
{
    auto s = std::make_shared<FutureState>(std::move(rt), RemoteRef { RefKind::Future, {}, here });
    s->cached_ = std::move(v);
    s->released_ = true;
    return s;
}

FutureState::~FutureState()
{
    if (!released_)
        if (auto rt = rt_.lock())
            rt->refs().release_hold(ref_, rt->myid());
}

std::shared_ptr<ProcessRuntime> FutureState::runtime() const
{
    auto rt = rt_.lock();
    if (!rt)
        throw InvalidStateException("the process that made this Future has shut down");
    return rt;
}

bool FutureState::same_process(const FutureState& o) const
{
    return !rt_.owner_before(o.rt_) && !o.rt_.owner_before(rt_);
}

const Value* FutureState::cached() const
{
    std::lock_guard g(m_);
    return cached_ ? &*cached_ : nullptr;
}

void FutureState::throw_if_finalized() const
{
    std::lock_guard g(m_);
    if (released_ && !cached_)
        throw InvalidStateException(kFinalized);
}

std::shared_ptr<Completion> FutureState::start_fetch(Batch* batch)
{
    auto rt = runtime();
    std::shared_ptr<Completion> req;
    {
        std::lock_guard g(m_);
        if (cached_ || ref_.owner == rt->myid())
            return nullptr;
        if (inflight_)
            return inflight_; // someone asked already: wait for the same answer
        if (released_) { // finalized: the owner may have freed it, and would wait for it
            req = std::make_shared<Completion>();
            req->set(make_error(
                rt->myid(), "InvalidStateException", kFinalized, ErrorKind::InvalidState));
            return req;
        }
        inflight_ = req = std::make_shared<Completion>();
    }
    // Ask the owner; it replies once the value is there and drops our hold (we still have one:
    // not finalized, not fetched) unless it is an error. finish_fetch caches the answer.
    try {
        if (!batch) {
            rt->request(
                ref_.owner,
                [&](std::uint64_t id) {
                    return msg::fetch_ref(id, ref_.id, wire::FetchMode::VALUE, true);
                },
                req);
            return req;
        }
        batch->by_owner_[ref_.owner].push_back({ req, ref_.id }); // sent later
    } catch (const Error&) {
        req->set(capture_current_exception(rt->myid()));
    }
    return req;
}

const Value& FutureState::finish_fetch(const std::shared_ptr<Completion>& req)
{
    if (req) {
        const Value& v = req->wait();
        std::lock_guard g(m_);
        if (inflight_ == req)
            inflight_.reset();
        if (v.is_error())
            throw_error_value(v.as_error()); // a failure caches nothing
        if (!cached_) {
            cached_ = v;
            released_ = true; // the owner dropped our hold when it answered
        }
        return *cached_;
    }
    {
        std::lock_guard g(m_);
        if (cached_)
            return *cached_;
    }
    // The value lives here.
    throw_if_finalized();
    auto rt = runtime();
    auto slot = rt->refs().stored_value(ref_.id);
    if (!slot)
        throw InvalidStateException(kFinalized);
    const Value& v = value_or_throw(slot->wait());
    std::lock_guard g(m_);
    if (!cached_) {
        cached_ = v;
        if (!released_) {
            released_ = true;
            rt->refs().change(ref_.id, rt->myid(), -1);
        }
    }
    return *cached_;
}

const Value& FutureState::fetch()
{
    {
        std::lock_guard g(m_);
        if (cached_)
            return *cached_;
    }
    return finish_fetch(start_fetch());
}

void FutureState::wait()
{
    {
        std::lock_guard g(m_);
        if (cached_)
            return;
    }
    throw_if_finalized();
    auto rt = runtime();
    if (ref_.owner == rt->myid()) {
        auto slot = rt->refs().stored_value(ref_.id);
        if (!slot)
            throw InvalidStateException(kFinalized);
        value_or_throw(slot->wait());
        return;
    }
    auto got = rt->request(ref_.owner, [&](std::uint64_t id) {
        return msg::fetch_ref(id, ref_.id, wire::FetchMode::WAIT, false);
    });
    rt->await_reply(*got, ref_.owner);
    value_or_throw(got->wait());
}

bool FutureState::isready()
{
    {
        std::lock_guard g(m_);
        if (cached_)
            return true;
    }
    // Finalized is finalized wherever the value lives: here it may linger while another process
    // holds it, and asking would then answer for a value this handle gave up.
    throw_if_finalized();
    auto rt = runtime();
    if (ref_.owner == rt->myid()) {
        auto slot = rt->refs().stored_value(ref_.id);
        return slot && slot->ready();
    }
    auto got = rt->request(ref_.owner, [&](std::uint64_t id) {
        return msg::fetch_ref(id, ref_.id, wire::FetchMode::PROBE, false);
    });
    rt->await_reply(*got, ref_.owner);
    return value_or_throw(got->wait()).as_bool();
}

void FutureState::release()
{
    {
        std::lock_guard g(m_);
        if (released_)
            return;
        released_ = true;
    }
    if (auto rt = rt_.lock())
        rt->refs().release_hold(ref_, rt->myid());
}

void FutureState::finalize()
{
    std::optional<Value> dropped; // destroyed outside the lock: it may hold references
    bool release_now = false;
    {
        std::lock_guard g(m_);
        dropped = std::move(cached_);
        cached_.reset();
        release_now = !released_;
        released_ = true;
    }
    if (release_now)
        if (auto rt = rt_.lock())
            rt->refs().release_hold(ref_, rt->myid());
}

void FutureState::Batch::send(ProcessRuntime& rt)
{
    constexpr std::size_t kChunk = 4096; // keeps each message small enough to start early
    for (auto& [owner, items] : by_owner_) {
        // One lock and one range of call ids for the owner's whole batch.
        const std::uint64_t first_id = rt.calls().next_ids(items.size());
        std::vector<std::shared_ptr<Completion>> done;
        std::vector<RefId> refs;
        done.reserve(items.size());
        refs.reserve(items.size());
        for (auto& item : items) {
            done.push_back(item.done);
            refs.push_back(item.ref);
        }
        rt.calls().add_range(first_id, owner, done);
        std::shared_ptr<Connection> conn;
        try {
            conn = rt.mesh().connection_to(owner);
        } catch (const Error&) {
            const auto e = capture_current_exception(rt.myid());
            for (std::size_t i = 0; i < items.size(); ++i)
                if (rt.calls().remove(first_id + i))
                    items[i].done->set(e);
            continue;
        }
        for (std::size_t b = 0; b < items.size(); b += kChunk) {
            const std::size_t n = std::min(kChunk, items.size() - b);
            conn->send(msg::fetch_many(first_id + b, std::span(refs).subspan(b, n)));
        }
    }
}

} // namespace weft::detail
