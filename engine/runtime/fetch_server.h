#pragma once
// The owner's side of fetch: answers FetchRef and FetchMany for the values in its store, once
// each is ready, and drops the fetcher's hold once it has the value. A fetch_many's values that
// are ready go back together at once; the rest are answered in batches as they become ready, so
// a worker that lags behind its caller's fetch_all does not answer with a message (and a
// wake-up) per value. I/O thread, and whichever thread completes a value.

#include "completion.h"
#include "connection.h"
#include "weft.capnp.h"

#include <memory>
#include <vector>

namespace weft::detail {

class ProcessRuntime;

class FetchServer final {
public:
    explicit FetchServer(ProcessRuntime& rt)
        : rt_(rt)
    {
    }
    void handle_fetch(const std::shared_ptr<Connection>& conn, Pid from, wire::FetchRef::Reader r);
    void handle_fetch_many(
        const std::shared_ptr<Connection>& conn, Pid from, wire::FetchMany::Reader r);

private:
    // A fetched value that is ready, on its way back in a `results` message.
    struct ReadyResult {
        std::uint64_t call_id = 0;
        std::shared_ptr<Completion> value;
        RefId ref;
        bool release = false; // the asker's hold goes once the value is sent (unless an error)
    };
    struct LateResults; // a fetch_many's values that were not ready when it arrived

    void answer(Connection& conn, Pid from, std::uint64_t id, const RefId& ref,
        wire::FetchMode mode, bool release, const Value& v);
    // Sends ready values in as few `results` messages as the frame limit allows, then drops the
    // holds they release.
    void send_results(Connection& conn, Pid from, std::vector<ReadyResult>& results);
    void add_late_result(const std::shared_ptr<LateResults>& late, ReadyResult r);

    ProcessRuntime& rt_;
};

} // namespace weft::detail
