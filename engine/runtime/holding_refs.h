#pragma once
// Julia's rule for references inside values, at the codec: a reference sent to another process
// makes that process a holder at the owner before the frame leaves (the frame lists the holds;
// the runtime sends them first), and a reference received becomes this process's hold, shared
// by every copy of it here. A Future already fetched travels with its value instead, and one
// finalized as released: neither needs a hold. Any thread.

#include "codec.h"

#include <memory>

namespace weft::detail {

class ProcessRuntime;

// The reference as an address: a handle's state never holds itself.
inline RemoteRef without_hold(RemoteRef r)
{
    r.hold.reset();
    return r;
}

class HoldingRefs final : public RefWriter, public RefReader {
public:
    explicit HoldingRefs(ProcessRuntime& rt)
        : rt_(rt)
    {
    }
    void write(const RemoteRef& r, wire::RemoteRef::Builder out, OutFrame& frame) override;
    RemoteRef read(wire::RemoteRef::Reader in, const std::shared_ptr<const void>& owner) override;

private:
    ProcessRuntime& rt_;
};

} // namespace weft::detail
