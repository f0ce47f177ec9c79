#include "holding_refs.h"

#include "channel_server.h"
#include "future_state.h"
#include "process_runtime.h"

namespace weft::detail {

void HoldingRefs::write(const RemoteRef& r, wire::RemoteRef::Builder out, OutFrame& frame)
{
    encode_ref_address(r, out);
    if (r.kind == RefKind::Future)
        if (auto* fs = dynamic_cast<FutureState*>(r.hold.get())) {
            std::lock_guard g(fs->m_);
            // Fetched here: the value goes along, and the receiver needs no hold at the owner
            // (which freed it, or will). Finalized: nothing to hold any more.
            if (fs->cached_) {
                encode_value(*fs->cached_, out.initCached(), frame, this);
                return;
            }
            if (fs->released_) {
                out.setReleased(true);
                return;
            }
        }
    frame.hold_for_receiver(r.id, r.owner);
}

RemoteRef HoldingRefs::read(wire::RemoteRef::Reader in, const std::shared_ptr<const void>& owner)
{
    RemoteRef r = decode_ref_address(in);
    if (r.kind == RefKind::Channel) {
        r.hold = std::make_shared<ChannelHandle>(rt_.weak_from_this(), r);
        return r;
    }
    auto fs = std::make_shared<FutureState>(rt_.weak_from_this(), r);
    if (in.hasCached()) {
        fs->cached_ = decode_value(in.getCached(), owner, this);
        fs->released_ = true;
    } else if (in.getReleased()) {
        fs->released_ = true;
    }
    r.hold = std::move(fs);
    return r;
}

} // namespace weft::detail
