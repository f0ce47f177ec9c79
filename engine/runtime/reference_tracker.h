#pragma once
// Julia's distributed reference counting, both halves. As an owner: the store of values this
// process owns and, for each, the processes holding a reference (the holder set); a value goes
// when its last holder lets go, and a process that exits holds nothing. As a holder: adds go to
// a remote owner at once, removes in batches flushed on the I/O thread, so an owner always sees
// a holder's add before the removes queued after it. Owns its lock; any thread.

#include "ref_store.h"
#include "weft/telemetry.h"

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <vector>

namespace weft::detail {

class ReferenceTracker final {
public:
    using HolderOp = std::pair<RefId, Pid>; // a value and one of its holders
    // Sends holder changes to a remote owner: `add`s or removes.
    using SendOps = std::function<void(Pid owner, const std::vector<HolderOp>& ops, bool add)>;
    // Runs `fn` later on the I/O thread.
    using Post = std::function<void(std::function<void()> fn)>;

    ReferenceTracker(const std::atomic<Pid>& self, SendOps send, Post post);
    ReferenceTracker(const ReferenceTracker&) = delete;
    ReferenceTracker& operator=(const ReferenceTracker&) = delete;

    // ---- as a holder (or on behalf of one) ----
    // Makes `holder` a holder of `r` at its owner: here at once, or sent at once.
    void add_hold(const RemoteRef& r, Pid holder);
    // Drops one hold of `holder` on `r`: here at once, or batched to the owner.
    void release_hold(const RemoteRef& r, Pid holder);
    // Sends the removes batched for `owner` (the I/O thread runs it after a release).
    void flush_removes(Pid owner);

    // ---- as the owner ----
    // `delta` holds of `holder` on the value `id` (a RefOps message, or this process itself).
    // An add for a process that has exited is ignored: no remove would ever match it.
    void change(const RefId& id, Pid holder, int delta);
    // A process has exited: it holds nothing any more, now or later.
    void holder_exited(Pid pid);
    // Where call `id`'s result goes, with `caller` as its holder; nullptr if the id already
    // names another call's result or a channel (ids are never reused by a real peer).
    std::shared_ptr<Completion> claim_result(const RefId& id, Pid caller);
    // The value stored under `id`, made (empty, to be filled by its call) if not heard of yet.
    std::shared_ptr<Completion> value_slot(const RefId& id);
    // The value stored under `id`, or nullptr if there is none (never made, or freed).
    [[nodiscard]] std::shared_ptr<Completion> stored_value(const RefId& id) const;
    // The RemoteChannel stored under `id`, or nullptr.
    [[nodiscard]] std::shared_ptr<Channel<Value>> channel(const RefId& id) const;
    // Stores a new RemoteChannel under `id`, held by `holder`.
    void make_channel(const RefId& id, std::size_t capacity, Pid holder);
    // Runs `f(store, freed)` under the lock, for a batch of lookups and releases at once; what
    // it appends to `freed` is destroyed after the lock is let go.
    template <class F> void batch(F&& f)
    {
        std::vector<ErasedEntry> freed; // destroyed last, outside the lock
        std::lock_guard g(m_);
        f(store_, freed);
    }
    // Drops one hold of `holder` on each of `ids`.
    void release_all(Pid holder, std::span<const RefId> ids);
    // Counts a stored call's result once it is set (no lock needed).
    void count_value(Completion& c, std::size_t bytes) { store_.count_value(c, bytes); }

    // ---- observing ----
    // The first `max` entries (oldest first, returned by id), and the whole store's size. Its
    // cost does not depend on the store's size: the sampler calls it ten times a second.
    [[nodiscard]] std::vector<StoreEntryInfo> table(
        std::size_t max, std::uint64_t& entries, std::uint64_t& bytes) const;
    [[nodiscard]] std::vector<ChannelSample> channel_samples() const;

    // Shutting down: releases are dropped from now on.
    void stop() { stopped_.store(true); }
    // Empties the store (after stop, once nothing runs any more).
    void clear();

private:
    Pid self() const { return self_.load(std::memory_order_acquire); }

    const std::atomic<Pid>& self_;
    const SendOps send_;
    const Post post_;
    std::atomic<bool> stopped_ { false };

    mutable std::mutex m_;
    RefStore store_;
    std::set<Pid> exited_; // holders that will never hold anything again

    std::mutex removes_m_;
    std::map<Pid, std::vector<HolderOp>> removes_; // batched, per owner
};

} // namespace weft::detail
