#pragma once
// What the patterns (pmap, distributed_reduce) run on each worker, and the pieces the caller's
// side shares with them: the range split and the reducers. The kernels are the engine's own
// primitives, loaded on every process with myid and echo. Any thread.

#include "kernel_registry.h"
#include "weft/kernel.h"
#include "weft/patterns.h"

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::detail {

// Julia's splitrange: [lo, hi) in at most k chunks of (hi - lo) / k, the first (hi - lo) % k of
// them one longer.
std::vector<std::pair<std::int64_t, std::int64_t>> split_range(
    std::int64_t lo, std::int64_t hi, std::int64_t k);
// Applies a reducer named like distributed_reduce's ("+", "*", "min", "max", or a two-argument
// kernel loaded here) to two values on the current process.
Value apply_reducer(Context& ctx, std::string_view reducer, const Value& a, const Value& b);

} // namespace weft::detail
