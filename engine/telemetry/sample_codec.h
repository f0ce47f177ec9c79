#pragma once
// One process's sample as it travels to the master: a Value map, so it rides the same codec as
// everything else. Span times stay on the sender's clock until the master converts them.

#include "span_ring.h"
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

Value encode_sample(const WireSample& s);
// Throws std::invalid_argument naming the field that is missing or malformed.
WireSample decode_sample(const Value& v);

} // namespace weft::detail
