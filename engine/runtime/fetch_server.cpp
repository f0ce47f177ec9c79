#include "fetch_server.h"

#include "messages.h"
#include "process_runtime.h"

#include <mutex>

namespace weft::detail {

struct FetchServer::LateResults {
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

void FetchServer::handle_fetch(
    const std::shared_ptr<Connection>& conn, Pid from, wire::FetchRef::Reader r)
{
    const std::uint64_t id = r.getCallId();
    const RefId ref = decode_ref_id(r.getRef());
    const auto mode = r.getMode();
    const bool release = r.getRelease();
    if (mode == wire::FetchMode::PROBE) {
        auto slot = rt_.refs().stored_value(ref);
        rt_.answer(*conn, from, id, Value(slot && slot->ready()));
        return;
    }
    // A reference we have not heard of yet is one whose call (or whose holder's add) is still on
    // its way here on another connection: the fetcher got it from a process that sent both
    // before passing it on, but messages on different connections race. As Julia's lookup_ref
    // does, make the entry now; the call fills it in. (Ids are never reused, and a process
    // fetches only what it holds, so a freed id is never asked for.)
    auto slot = rt_.refs().value_slot(ref);
    if (slot->ready()) {
        answer(*conn, from, id, ref, mode, release, slot->wait());
        return;
    }
    std::weak_ptr<Connection> weak = conn;
    slot->on_ready(
        [self = rt_.shared_from_this(), weak, id, ref, mode, release, from](const Value& v) {
            if (auto c = weak.lock())
                self->fetches().answer(*c, from, id, ref, mode, release, v);
        });
}

void FetchServer::handle_fetch_many(
    const std::shared_ptr<Connection>& conn, Pid from, wire::FetchMany::Reader r)
{
    // One lock for the whole batch to find the values and drop the holds they release (`ready`
    // keeps them alive until sent); the ready ones go back together at once.
    const auto items = r.getItems();
    std::vector<ReadyResult> ready;
    std::vector<std::pair<unsigned, std::shared_ptr<Completion>>> later;
    ready.reserve(items.size());
    rt_.refs().batch([&](RefStore& store, std::vector<ErasedEntry>& freed) {
        for (unsigned i = 0; i < items.size(); ++i) {
            const auto item = items[i];
            const RefId ref = decode_ref_id(item.getRef());
            if (item.getMode() != wire::FetchMode::VALUE) {
                later.emplace_back(i, nullptr);
                continue;
            }
            StoreEntry* e = &store.get(ref); // not heard of yet: see handle_fetch
            const Value* v = e->value->peek(); // never waits
            if (!v) {
                later.emplace_back(i, e->value);
                continue;
            }
            ready.push_back({ item.getCallId(), e->value, ref, false });
            if (item.getRelease() && !v->is_error())
                if (auto gone = store.add_holds(ref, from, -1))
                    freed.push_back(std::move(gone));
        }
    });
    std::shared_ptr<LateResults> late;
    auto self = rt_.shared_from_this();
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
                self->fetches().add_late_result(late, std::move(rr));
        });
    }
    if (!ready.empty())
        send_results(*conn, from, ready);
}

void FetchServer::add_late_result(const std::shared_ptr<LateResults>& late, ReadyResult r)
{
    {
        std::lock_guard g(late->m);
        late->ready.push_back(std::move(r));
        if (late->posted)
            return;
        late->posted = true;
    }
    rt_.loop().post([self = rt_.shared_from_this(), late] {
        std::vector<ReadyResult> batch;
        {
            std::lock_guard g(late->m);
            batch.swap(late->ready);
            late->posted = false;
        }
        if (auto c = late->conn.lock())
            self->fetches().send_results(*c, late->from, batch);
    });
}

void FetchServer::send_results(Connection& conn, Pid from, std::vector<ReadyResult>& results)
{
    // Frames stay well under the limit; a value too big for any frame gets its own, which
    // the runtime's answer turns into an error naming the limit.
    const std::size_t budget = rt_.limits().max_frame_bytes / 2;
    std::vector<RefId> released;
    std::vector<std::uint64_t> ids;
    std::vector<const Value*> values;
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
            rt_.answer(conn, from, results[first].call_id, *results[first].value->peek());
        } else {
            ids.clear();
            values.clear();
            for (std::size_t i = first; i < last; ++i) {
                ids.push_back(results[i].call_id);
                values.push_back(results[i].value->peek());
            }
            rt_.send_to(conn, from, msg::results(ids, values, &rt_.holding_refs()));
        }
        for (std::size_t i = first; i < last; ++i)
            if (results[i].release && !results[i].value->peek()->is_error())
                released.push_back(results[i].ref);
        first = last;
    }
    results.clear();
    rt_.refs().release_all(from, released);
}

void FetchServer::answer(Connection& conn, Pid from, std::uint64_t id, const RefId& ref,
    wire::FetchMode mode, bool release, const Value& v)
{
    static const Value nil;
    rt_.answer(conn, from, id, (mode == wire::FetchMode::WAIT && !v.is_error()) ? nil : v);
    if (release && mode == wire::FetchMode::VALUE && !v.is_error())
        rt_.refs().change(ref, from, -1);
}

} // namespace weft::detail
