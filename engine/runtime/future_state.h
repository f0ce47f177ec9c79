#pragma once
// A Future as one process holds it: the shared state behind every copy of one Future handle
// here. It holds this process's hold on the value (released once fetched, finalized, or when
// the last copy goes) and the value once fetched, and carries out fetch, wait, isready and
// finalize, asking the owner when the value lives elsewhere. Any thread; its lock guards the
// cached value and the hold.

#include "completion.h"
#include "weft/value.h"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace weft::detail {

class ProcessRuntime;
class HoldingRefs;

class FutureState final : public RefHold {
public:
    // A Future for `ref` holding the value (the caller has made this process a holder).
    FutureState(std::weak_ptr<ProcessRuntime> rt, RemoteRef ref);
    // A Future whose value is already here (sent in place of one its sender had fetched).
    static std::shared_ptr<FutureState> ready(std::weak_ptr<ProcessRuntime> rt, Pid here, Value v);
    ~FutureState() override; // releases this process's hold on the value, if it still has one
    FutureState(const FutureState&) = delete;
    FutureState& operator=(const FutureState&) = delete;

    // The reference (without a hold: the state never holds itself).
    [[nodiscard]] const RemoteRef& address() const { return ref_; }
    // The process that made this handle; throws InvalidStateException once it has shut down.
    [[nodiscard]] std::shared_ptr<ProcessRuntime> runtime() const;
    [[nodiscard]] bool same_process(const FutureState& other) const;

    // The value; blocks (or suspends) until it is there. The first success caches it and
    // releases the hold; a failure throws every time and caches nothing.
    const Value& fetch();
    void wait();
    [[nodiscard]] bool isready();
    // Julia's finalize(f): releases the hold now and drops a fetched value too.
    void finalize();
    // The fetched value, or nullptr.
    [[nodiscard]] const Value* cached() const;

    // fetch in two halves, so many fetches can be on the wire at once (fetch_all). A request
    // added to `batch` goes out when the batch is sent.
    class Batch;
    std::shared_ptr<Completion> start_fetch(Batch* batch = nullptr);
    const Value& finish_fetch(const std::shared_ptr<Completion>& req);

private:
    friend class HoldingRefs; // what travels instead of a hold: the value, or "released"
    void release(); // drops the hold if still held
    void throw_if_finalized() const;

    const std::weak_ptr<ProcessRuntime> rt_;
    const RemoteRef ref_;
    mutable std::mutex m_;
    std::optional<Value> cached_;
    bool released_ = false; // this process no longer holds the value at its owner
    std::shared_ptr<Completion> inflight_; // a fetch on its way, shared by concurrent fetchers
};

// Fetch requests of many Futures, grouped by owner and sent in as few messages as possible.
class FutureState::Batch final {
public:
    void send(ProcessRuntime& rt);

private:
    friend class FutureState;
    struct Item {
        std::shared_ptr<Completion> done;
        RefId ref;
    };
    std::map<Pid, std::vector<Item>> by_owner_;
};

} // namespace weft::detail
