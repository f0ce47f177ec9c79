#pragma once
// Time bounds in tests. On a shared, loaded 2-core CI machine a wall-clock bound is a race, so a
// bound is checked only when WEFT_TEST_TIME_SCALE is set (say 1 on an idle workstation, 3 under
// a parallel build), multiplied by it; otherwise the measured time is only reported. The speed
// figures themselves live in weft-bench, measured against a floor in the same run.

#include <cstdio>
#include <cstdlib>

namespace weft::test {

// True when `ms` is within `bound_ms` scaled by WEFT_TEST_TIME_SCALE, or when no scale is set.
inline bool within_time_bound(long long ms, long long bound_ms)
{
    const char* scale = std::getenv("WEFT_TEST_TIME_SCALE");
    if (!scale || std::atof(scale) <= 0)
        return true;
    return ms <= static_cast<long long>(static_cast<double>(bound_ms) * std::atof(scale));
}

} // namespace weft::test
