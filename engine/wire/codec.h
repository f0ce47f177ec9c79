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

void encode_value(const Value& v, wire::Value::Builder out, OutFrame& frame);
// `owner` keeps the frame's bytes alive for arrays that view them.
Value decode_value(wire::Value::Reader in, const std::shared_ptr<const void>& owner);

void encode_ref_id(const RefId& id, wire::RefId::Builder out);
RefId decode_ref_id(wire::RefId::Reader in);
void encode_error(const ErrorValue& e, wire::Error::Builder out);
ErrorValue decode_error(wire::Error::Reader in);

} // namespace weft::detail
