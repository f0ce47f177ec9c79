#pragma once
// One process's sample as it travels to the master: the `Telemetry` struct of weft.capnp, read
// in place on arrival, with task spans as packed little-endian records. Span times stay on the
// sender's clock until the master converts them. Any thread; pure functions.

#include "span_ring.h"
#include "weft.capnp.h"
#include "weft/telemetry.h"

#include <string>
#include <utility>
#include <vector>

namespace weft::detail {

struct WireSample {
    ProcessSample sample; // `time` unset: the master fills it in
    std::int64_t clock_ns = 0; // the sender's steady clock when it sampled
    std::vector<RawSpan> spans;
    std::vector<std::pair<std::uint32_t, std::string>> labels; // names of the labels in `spans`
};

void encode_sample(const WireSample& s, wire::Telemetry::Builder out);
// Throws std::invalid_argument naming what is malformed.
WireSample decode_sample(wire::Telemetry::Reader in);

} // namespace weft::detail
