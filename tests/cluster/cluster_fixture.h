#pragma once
// Shared set-up for cluster tests: options pointing at the built weft-worker, and a check that no
// worker outlives its test.

#include "weft/weft.h"

#include <QtTest>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <signal.h>
#include <thread>
#include <vector>

namespace weft::test {

inline ClusterOptions options(Transport t = Transport::Unix)
{
    ClusterOptions o;
    o.worker_path = WEFT_WORKER_PATH;
    o.kernel_libraries = { WEFT_CLASSROOM_PATH }; // the kernels most tests call
    o.transport = t;
    o.worker_timeout = std::chrono::seconds(30);
    return o;
}

inline std::vector<int> os_pids(const Cluster& c)
{
    std::vector<int> out;
    for (auto& w : c.worker_info())
        if (w.os_pid > 0)
            out.push_back(w.os_pid);
    return out;
}

// Adds one worker and returns its id and OS pid (for tests that kill it).
inline std::pair<Pid, int> add_worker(Cluster& c)
{
    const Pid pid = c.addprocs(1)[0];
    for (auto& w : c.worker_info())
        if (w.pid == pid)
            return { pid, w.os_pid };
    return { pid, 0 };
}

// True once none of `pids` exists any more (reaped, not zombies left behind).
inline bool all_gone(
    const std::vector<int>& pids, std::chrono::milliseconds within = std::chrono::seconds(30))
{
    const auto until = std::chrono::steady_clock::now() + within;
    for (;;) {
        bool any = false;
        for (int p : pids)
            any |= ::kill(p, 0) == 0 || errno != ESRCH;
        if (!any)
            return true;
        if (std::chrono::steady_clock::now() > until)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// Whether a store table holds `id`.
inline bool holds(const std::vector<StoreEntryInfo>& t, const RefId& id)
{
    return std::any_of(t.begin(), t.end(), [&](auto& e) { return e.id == id; });
}

// The holders of `id` in a store table (empty when it is not stored).
inline std::map<Pid, int> holders(const std::vector<StoreEntryInfo>& t, const RefId& id)
{
    for (auto& e : t)
        if (e.id == id)
            return e.holders;
    return {};
}

// A cluster with `n` local workers, for a suite's initTestCase.
inline std::unique_ptr<Cluster> start_cluster(int n, Threads threads = {})
{
    auto c = std::make_unique<Cluster>(options());
    c->addprocs(n, threads);
    return c;
}

// Ends the cluster; true once none of its workers is left (for a suite's cleanupTestCase).
inline bool stop_cluster(std::unique_ptr<Cluster>& c)
{
    auto pids = os_pids(*c);
    c.reset();
    return all_gone(pids);
}

} // namespace weft::test
