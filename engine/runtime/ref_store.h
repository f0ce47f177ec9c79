#pragma once
// The values one process owns, keyed by (whence, n), with the processes that hold references to
// them. A hash map serves the call path; beside it the store keeps what the telemetry sampler
// reads ten times a second, so sampling never walks the whole map: entries linked oldest first,
// the RemoteChannels, and the bytes of every ready value. Guarded by the runtime's lock, except
// the byte count, which a call's result updates without it.

#include "completion.h"
#include "invariant.h"
#include "weft/channel.h"
#include "weft/process.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

namespace weft::detail {

// What an erased entry leaves to destroy outside the runtime's lock: a value or a channel's items
// may hold references, and dropping those takes that lock.
struct ErasedEntry {
    std::shared_ptr<Completion> value;
    std::shared_ptr<Channel<Value>> channel;
    explicit operator bool() const { return value || channel; }
};

struct StoreEntry {
    std::shared_ptr<Completion> value;
    std::shared_ptr<Channel<Value>> channel; // for a RemoteChannel's store
    std::map<Pid, int> holders;
    RefKind kind = RefKind::Future;
    bool claimed = false; // a call's result goes here (one call per id)
    std::chrono::steady_clock::time_point created;

private:
    friend class RefStore;
    const RefId* id_ = nullptr; // the map's key, for walking the age list
    StoreEntry* older_ = nullptr;
    StoreEntry* newer_ = nullptr;
};

class RefStore final {
public:
    RefStore() = default;
    RefStore(const RefStore&) = delete;
    RefStore& operator=(const RefStore&) = delete;
    ~RefStore() { clear(); }

    [[nodiscard]] StoreEntry* find(const RefId& id)
    {
        auto it = map_.find(id);
        return it == map_.end() ? nullptr : &it->second;
    }
    [[nodiscard]] const StoreEntry* find(const RefId& id) const
    {
        auto it = map_.find(id);
        return it == map_.end() ? nullptr : &it->second;
    }
    // The entry for `id`, created (as the newest, with a value still to come) if missing.
    StoreEntry& get(const RefId& id)
    {
        auto [it, added] = map_.try_emplace(id);
        StoreEntry& e = it->second;
        if (added) {
            e.value = std::make_shared<Completion>();
            e.id_ = &it->first;
            e.created = std::chrono::steady_clock::now();
            e.older_ = newest_;
            (newest_ ? newest_->newer_ : oldest_) = &e;
            newest_ = &e;
        }
        return e;
    }
    // Makes the entry a RemoteChannel's (once).
    void make_channel(const RefId& id, StoreEntry& e, std::size_t capacity)
    {
        WEFT_INVARIANT(&map_.at(id) == &e,
            "make_channel: entry (" << id.whence << ", " << id.n << ") is not the stored one");
        e.kind = RefKind::Channel;
        if (!e.channel) {
            e.channel = std::make_shared<Channel<Value>>(capacity);
            channels_.insert(id);
        }
    }
    // Adds `delta` holds of `holder`, erasing the entry when no hold is left; returns the erased
    // entry's value (to drop outside the lock). Adds and removes come from different processes
    // on different connections, so either may overtake the other, or the call that makes the
    // value: a count may dip below zero for a while, and a change for an id not stored yet
    // creates its entry. The entry goes only when every holder's count is back to zero.
    ErasedEntry add_holds(const RefId& id, Pid holder, int delta)
    {
        auto it = map_.find(id);
        if (it == map_.end()) {
            if (delta != 0)
                get(id).holders[holder] += delta;
            return {};
        }
        auto& holders = it->second.holders;
        if ((holders[holder] += delta) == 0)
            holders.erase(holder);
        return holders.empty() ? erase(it) : ErasedEntry {};
    }
    // Removes the entry; returns its value so the caller can drop it outside the lock.
    ErasedEntry erase(const RefId& id)
    {
        auto it = map_.find(id);
        return it == map_.end() ? ErasedEntry {} : erase(it);
    }
    void clear()
    {
        while (oldest_)
            (void)erase(*oldest_->id_);
    }

    // Counts a stored call's result once it is set (any thread, no lock needed). An entry erased
    // before this runs has already marked the value uncounted, and then it is not counted.
    void count_value(Completion& c, std::size_t bytes)
    {
        c.counted_bytes_ = bytes;
        auto expected = Completion::NotYet;
        if (c.counted_.compare_exchange_strong(
                expected, Completion::Counted, std::memory_order_acq_rel))
            bytes_.fetch_add(bytes, std::memory_order_relaxed);
    }

    [[nodiscard]] std::size_t size() const { return map_.size(); }
    [[nodiscard]] std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

    // At most `max` entries, the oldest first.
    template <class F> void for_each_oldest(std::size_t max, F&& f) const
    {
        for (const StoreEntry* e = oldest_; e && max > 0; e = e->newer_, --max)
            f(*e->id_, *e);
    }
    // The RemoteChannels, by id.
    template <class F> void for_each_channel(F&& f) const
    {
        for (const RefId& id : channels_)
            f(id, map_.at(id));
    }
    // Drops `pid` as a holder everywhere; entries left without holders are erased and their
    // values appended to `freed`.
    void drop_holder(Pid pid, std::vector<ErasedEntry>& freed)
    {
        for (StoreEntry* e = oldest_; e;) {
            StoreEntry* next = e->newer_;
            e->holders.erase(pid);
            if (e->holders.empty())
                freed.push_back(erase(*e->id_));
            e = next;
        }
    }

private:
    using Map = std::unordered_map<RefId, StoreEntry>;
    ErasedEntry erase(Map::iterator it)
    {
        const RefId& id = it->first;
        StoreEntry& e = it->second;
        // The age list holds every entry once: an entry without an older one is the oldest.
        WEFT_INVARIANT((e.older_ == nullptr) == (oldest_ == &e)
                && (e.newer_ == nullptr) == (newest_ == &e) && e.id_ == &it->first,
            "erase: entry (" << id.whence << ", " << id.n << ") is not linked in the age list ("
                             << map_.size() << " entries)");
        WEFT_INVARIANT(!e.channel || channels_.count(id),
            "erase: channel (" << id.whence << ", " << id.n << ") missing from the channel index");
        (e.older_ ? e.older_->newer_ : oldest_) = e.newer_;
        (e.newer_ ? e.newer_->older_ : newest_) = e.older_;
        ErasedEntry out;
        if (e.channel) {
            e.channel->close(); // nobody can reach it any more: release its waiters
            channels_.erase(id);
            out.channel = std::move(e.channel);
        }
        auto v = std::move(e.value);
        if (v
            && v->counted_.exchange(Completion::Uncounted, std::memory_order_acq_rel)
                == Completion::Counted)
            bytes_.fetch_sub(v->counted_bytes_, std::memory_order_relaxed);
        map_.erase(it);
        out.value = std::move(v);
        return out;
    }

    struct ById {
        bool operator()(const RefId& a, const RefId& b) const
        {
            return a.whence != b.whence ? a.whence < b.whence : a.n < b.n;
        }
    };
    Map map_;
    StoreEntry* oldest_ = nullptr;
    StoreEntry* newest_ = nullptr;
    std::set<RefId, ById> channels_;
    std::atomic<std::uint64_t> bytes_ { 0 };
};

} // namespace weft::detail
