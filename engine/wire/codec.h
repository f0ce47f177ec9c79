#pragma once
// Converts between weft::Value and its Cap'n Proto form.

#include "framing.h"
#include "weft.capnp.h"
#include "weft/value.h"

#include <memory>

namespace weft::detail {

// Arrays at least this big travel as their own segment (no copy when sending) and are viewed in
// place in the received frame; smaller ones are copied, so they never pin a receive buffer.
inline constexpr std::size_t kZeroCopyArrayBytes = 64 * 1024;

// How references inside a value are written and read: the runtime gives the receiver its hold
// (see RemoteRef). Without one, a reference travels as a bare address.
class RefWriter {
public:
    virtual void write(const RemoteRef& r, wire::RemoteRef::Builder out, OutFrame& frame) = 0;

protected:
    ~RefWriter() = default;
};
class RefReader {
public:
    virtual RemoteRef read(wire::RemoteRef::Reader in, const std::shared_ptr<const void>& owner)
        = 0;

protected:
    ~RefReader() = default;
};

void encode_value(
    const Value& v, wire::Value::Builder out, OutFrame& frame, RefWriter* refs = nullptr);
// `owner` keeps the frame's bytes alive for arrays that view them.
Value decode_value(
    wire::Value::Reader in, const std::shared_ptr<const void>& owner, RefReader* refs = nullptr);
// The address part of a reference (kind, id, owner), without a hold.
void encode_ref_address(const RemoteRef& r, wire::RemoteRef::Builder out);
RemoteRef decode_ref_address(wire::RemoteRef::Reader in);

void encode_ref_id(const RefId& id, wire::RefId::Builder out);
RefId decode_ref_id(wire::RefId::Reader in);
void encode_error(const ErrorValue& e, wire::Error::Builder out);
ErrorValue decode_error(wire::Error::Reader in);

} // namespace weft::detail
