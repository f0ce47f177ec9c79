#pragma once
// Synthetic telemetry for the UI's tests: processes and series as the engine would report them.

#include "weft/telemetry.h"

#include <memory>
#include <vector>

namespace weft::ui::test {

inline ProcessHistory process(Pid pid, int busy, int threads = 2)
{
    ProcessHistory p;
    p.pid = pid;
    p.host = "localhost";
    p.latest.pid = pid;
    p.latest.pools[0] = { threads, busy, busy ? 3u : 0u, 1, 10 };
    p.latest.pools[1] = { 1, 0, 0, 0, 0 };
    p.latest.cpu_percent = busy * 100.0;
    p.latest.rss_bytes = 20u << 20;
    return p;
}

template <class T> ChunkedSeries<T> series(std::vector<T> v)
{
    ChunkedSeries<T> s;
    s.chunks.push_back(std::make_shared<const std::vector<T>>(std::move(v)));
    return s;
}

} // namespace weft::ui::test
