#pragma once
// A worker process's whole life, for weft-worker's main(): it reads the cluster cookie on stdin,
// listens, announces its addresses on stdout, samples itself for the master, and serves calls
// until the master tells it to exit or goes away (a worker never outlives its master). The
// calling (main) thread only waits.

#include "weft/cluster.h"

#include <string>

namespace weft::detail {

struct WorkerArgs {
    Threads threads { 1, 0 };
    std::string host = "127.0.0.1";
    bool unix_only = false; // no TCP listener (local workers of a Unix cluster)
};

// Returns an exit code when the worker cannot start (no cookie, cannot listen); once it runs it
// ends the process itself, at once, as Julia's workers do.
int run_worker(const WorkerArgs& args);

} // namespace weft::detail
