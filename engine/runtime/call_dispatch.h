#pragma once
// The callee's side of a remote call: an incoming call becomes a task on the pool it asked for
// (Futures among its arguments fetched where it runs), and its result goes where its kind says:
// into the store under its reference (remotecall), back to the caller (remotecall_fetch), both
// (remotecall_wait), or nowhere (remote_do). Any thread; calls run on pool threads.

#include "completion.h"
#include "connection.h"
#include "messages.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace weft::detail {

class ProcessRuntime;
struct KernelInfo;

struct IncomingCall {
    CallKind kind = CallKind::Fetch;
    std::uint64_t call_id = 0;
    RefId ref;
    std::string kernel;
    List args;
    Pool pool = Pool::Default;
    Pid caller = 0;
    std::shared_ptr<Connection> reply_conn; // null for a call this process made to itself
    std::shared_ptr<Completion> slot; // the store entry's value, for async and wait
};

class CallDispatch final {
public:
    explicit CallDispatch(ProcessRuntime& rt)
        : rt_(rt)
    {
    }
    // Runs `c` as a task, or answers it at once with `failed` (a call that could not be read),
    // with KernelNotFound, or with an error if its result id is already taken.
    void accept(IncomingCall c, std::optional<ErrorValue> failed = std::nullopt);
    // Runs the kernel (on a pool thread) and replies.
    void run(IncomingCall& c, const KernelInfo& k);

private:
    void reply(const IncomingCall& c, const Value& v);
    // The arguments as the kernel gets them: Futures fetched, unless the parameter is a handle.
    List resolve_args(const List& args, Pid caller, const std::vector<bool>& keeps);

    ProcessRuntime& rt_;
};

} // namespace weft::detail
