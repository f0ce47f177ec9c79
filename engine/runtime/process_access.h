#pragma once
// The engine's one way behind the public handles: the runtime behind a Process (a worker's own,
// or the master's behind Cluster), and the hold inside a Future or a RemoteChannel. The public
// headers name only this struct, as a friend. Any thread.

#include "weft/cluster.h"
#include "weft/future.h"
#include "weft/remote_channel.h"

#include <memory>

namespace weft::detail {

class ProcessRuntime;
class FutureState;
class ChannelHandle;

struct ProcessAccess {
    // Throws std::invalid_argument for a Process the engine did not make.
    static ProcessRuntime& runtime(Process& p);
    static Future future(std::shared_ptr<FutureState> s);
    // The Future's state; throws InvalidStateException for an empty Future.
    static FutureState& state(const Future& f);
    static FutureState* state_or_null(const Future& f);
    static RemoteChannel channel(std::shared_ptr<ChannelHandle> h);
    // The channel's handle; throws InvalidStateException for an empty RemoteChannel.
    static ChannelHandle& handle(const RemoteChannel& c);
    static const std::shared_ptr<RefHold>& hold(const Future& f) { return f.s_; }
    static const std::shared_ptr<RefHold>& hold(const RemoteChannel& c) { return c.s_; }
};

} // namespace weft::detail
