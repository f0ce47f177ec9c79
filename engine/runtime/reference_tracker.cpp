#include "reference_tracker.h"

#include <algorithm>

namespace weft::detail {

ReferenceTracker::ReferenceTracker(const std::atomic<Pid>& self, SendOps send, Post post)
    : self_(self)
    , send_(std::move(send))
    , post_(std::move(post))
{
}

void ReferenceTracker::add_hold(const RemoteRef& r, Pid holder)
{
    if (r.owner == self()) {
        change(r.id, holder, +1);
        return;
    }
    send_(r.owner, { { r.id, holder } }, true);
}

void ReferenceTracker::release_hold(const RemoteRef& r, Pid holder)
{
    if (stopped_.load())
        return;
    if (r.owner == self()) {
        change(r.id, holder, -1);
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
        post_([this, owner = r.owner] { flush_removes(owner); });
}

void ReferenceTracker::flush_removes(Pid owner)
{
    std::vector<HolderOp> batch;
    {
        std::lock_guard g(removes_m_);
        batch.swap(removes_[owner]);
    }
    if (!batch.empty())
        send_(owner, batch, false);
}

void ReferenceTracker::change(const RefId& id, Pid holder, int delta)
{
    ErasedEntry freed; // dropped outside the lock: its items may hold references
    std::lock_guard g(m_);
    // A dead process holds nothing: an add for it that was still on its way (sent by a third
    // process before the holder died) would never be matched by a remove.
    if (delta > 0 && holder != self() && exited_.count(holder))
        return;
    freed = store_.add_holds(id, holder, delta);
}

void ReferenceTracker::holder_exited(Pid pid)
{
    std::vector<ErasedEntry> freed;
    std::lock_guard g(m_);
    exited_.insert(pid);
    store_.drop_holder(pid, freed);
}

std::shared_ptr<Completion> ReferenceTracker::claim_result(const RefId& id, Pid caller)
{
    std::lock_guard g(m_);
    auto& e = store_.get(id);
    if (e.claimed || e.kind == RefKind::Channel)
        return nullptr;
    e.claimed = true;
    if (++e.holders[caller] == 0)
        e.holders.erase(caller);
    return e.value;
}

std::shared_ptr<Completion> ReferenceTracker::value_slot(const RefId& id)
{
    std::lock_guard g(m_);
    return store_.get(id).value;
}

std::shared_ptr<Completion> ReferenceTracker::stored_value(const RefId& id) const
{
    std::lock_guard g(m_);
    const StoreEntry* e = store_.find(id);
    return e ? e->value : nullptr;
}

std::shared_ptr<Channel<Value>> ReferenceTracker::channel(const RefId& id) const
{
    std::lock_guard g(m_);
    const StoreEntry* e = store_.find(id);
    return e ? e->channel : nullptr;
}

void ReferenceTracker::make_channel(const RefId& id, std::size_t capacity, Pid holder)
{
    std::lock_guard g(m_);
    auto& e = store_.get(id);
    store_.make_channel(id, e, capacity);
    if (++e.holders[holder] == 0)
        e.holders.erase(holder);
}

void ReferenceTracker::release_all(Pid holder, std::span<const RefId> ids)
{
    std::vector<ErasedEntry> freed;
    freed.reserve(ids.size());
    std::lock_guard g(m_);
    for (const RefId& id : ids)
        if (auto v = store_.add_holds(id, holder, -1))
            freed.push_back(std::move(v));
}

std::vector<StoreEntryInfo> ReferenceTracker::table(
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
            // peek, not wait: a value whose setter still runs callbacks (which may take this
            // lock) is ready, and waiting for them here would deadlock.
            info.state = v->is_error() ? "error" : "ready";
            info.bytes = value_bytes(*v);
        } else {
            info.state = "pending";
        }
        out.push_back(std::move(info));
    };
    {
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

std::vector<ChannelSample> ReferenceTracker::channel_samples() const
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

void ReferenceTracker::clear()
{
    std::lock_guard g(m_);
    store_.clear();
}

} // namespace weft::detail
