// weft-worker: one worker process, started by a Weft master (which writes the cluster cookie on
// its stdin). This file only reads the command line; the engine runs the worker.

#include "library_checker.h"
#include "weft/version.h"
#include "worker_process.h"

#include <cstdio>
#include <string>
#include <thread>

namespace {

int usage()
{
    std::fprintf(stderr,
        "usage: weft-worker [--threads N[,M]] [--bind HOST] [--unix-only]\n"
        "Started by a Weft master, which writes the cluster cookie on stdin.\n");
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    weft::detail::WorkerArgs args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) {
            std::string t = argv[++i];
            if (t == "auto")
                t = std::to_string(std::thread::hardware_concurrency());
            const auto comma = t.find(',');
            try {
                args.threads.default_threads = std::stoi(t.substr(0, comma));
                args.threads.interactive
                    = comma == std::string::npos ? 0 : std::stoi(t.substr(comma + 1));
                weft::check_threads(args.threads, "--threads");
            } catch (const std::exception& e) {
                std::fprintf(stderr, "weft-worker: bad --threads '%s': %s\n", t.c_str(), e.what());
                return 2;
            }
        } else if (a == "--bind" && i + 1 < argc) {
            args.host = argv[++i];
        } else if (a == "--unix-only") {
            args.unix_only = true;
        } else if (a == "--check-libraries" && argc == 2) {
            // The master's helper for checking kernel libraries (its socket is stdin).
            return weft::detail::run_library_checker(0);
        } else if (a == "--version") {
            std::printf("weft-worker %s\n", weft::runtime_version());
            return 0;
        } else {
            return usage();
        }
    }
    return weft::detail::run_worker(args);
}
