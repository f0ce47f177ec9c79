#pragma once
// RemoteChannel: a Channel of values living on one process, usable from any process, like Julia's
// RemoteChannel. Operations are carried out on the owner; handles can be passed as call arguments.

#include "weft/detail/sync.h"
#include "weft/future.h"
#include "weft/kernel.h"
#include "weft/value.h"

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>

namespace weft {

class Process;

namespace detail {
struct ProcessAccess;
}

class RemoteChannel {
public:
    RemoteChannel() = default;
    // RemoteChannel(() -> Channel(capacity), owner); owner 0 means the calling process.
    static RemoteChannel create(Process& p, std::size_t capacity, Pid owner = 0);
    // A handle for a reference received as a value (a kernel argument, say).
    static RemoteChannel attach(Process& p, const RemoteRef& ref);

    void put(Value v);
    Value take();
    std::optional<Value> take_or_closed(); // nullopt once closed and drained
    Value fetch();
    [[nodiscard]] bool isready();
    void wait();
    void close();

    [[nodiscard]] RemoteRef ref() const;
    [[nodiscard]] Pid where() const { return ref().owner; }
    [[nodiscard]] bool valid() const { return s_ != nullptr; }

    using iterator = detail::TakeIterator<RemoteChannel, Value>;
    iterator begin() { return iterator(this); }
    iterator end() { return {}; }

private:
    friend struct detail::ProcessAccess; // the engine makes and reads handles
    explicit RemoteChannel(std::shared_ptr<RefHold> s)
        : s_(std::move(s))
    {
    }
    std::shared_ptr<RefHold> s_; // this process's hold on the channel
};

// Kernel parameters of handle types receive the handle itself (the value is not fetched).
template <> struct ConvertInContext<RemoteChannel> {
    static RemoteChannel from(Context& ctx, const Value& v);
    static constexpr const char* name = "RemoteChannel";
};
template <> struct ConvertInContext<Future> {
    static Future from(Context& ctx, const Value& v);
    static constexpr const char* name = "Future";
};

} // namespace weft
