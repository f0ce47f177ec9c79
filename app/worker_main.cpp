// weft-worker: one worker process. Prints its address, reads the cluster cookie on stdin, and
// serves calls until the master tells it to exit or goes away (it never outlives its master).

#include "builtin_kernels.h"
#include "handshake.h"
#include "process_runtime.h"
#include "process_sampler.h"

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <malloc.h>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

struct ExitSignal {
    std::mutex m;
    std::condition_variable cv;
    bool set = false;
    std::string why;
    void fire(const std::string& reason)
    {
        std::lock_guard g(m);
        if (!set) {
            set = true;
            why = reason;
        }
        cv.notify_all();
    }
};

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
    // Fixed, so glibc does not raise it after freeing a large buffer: large messages and
    // telemetry batches come and go, and each should go back to the system when freed instead
    // of fragmenting the heap (a worker's memory stays flat over a long run).
    ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    weft::Threads threads { 1, 0 };
    std::string host = "127.0.0.1";
    bool unix_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) {
            std::string t = argv[++i];
            if (t == "auto")
                t = std::to_string(std::thread::hardware_concurrency());
            auto comma = t.find(',');
            try {
                threads.default_threads = std::stoi(t.substr(0, comma));
                threads.interactive
                    = comma == std::string::npos ? 0 : std::stoi(t.substr(comma + 1));
                weft::check_threads(threads, "--threads");
            } catch (const std::exception& e) {
                std::fprintf(stderr, "weft-worker: bad --threads '%s': %s\n", t.c_str(), e.what());
                return 2;
            }
        } else if (a == "--bind" && i + 1 < argc) {
            host = argv[++i];
        } else if (a == "--unix-only") {
            unix_only = true;
        } else if (a == "--version") {
            std::printf("weft-worker 0.1.0\n");
            return 0;
        } else {
            return usage();
        }
    }

    // The cookie arrives as one hex line on stdin.
    std::string line;
    char ch;
    while (line.size() < 256 && ::read(0, &ch, 1) == 1 && ch != '\n')
        line.push_back(ch);
    auto cookie = weft::detail::Cookie::from_hex(line);
    if (!cookie) {
        std::fprintf(stderr, "weft-worker: expected the 32-hex-digit cluster cookie on stdin\n");
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    auto kernels = std::make_shared<weft::KernelRegistry>();
    weft::register_builtin_kernels(*kernels);
    weft::detail::RuntimeOptions ro;
    ro.threads = threads;
    ro.cookie = *cookie;
    ro.host = host;
    ro.listen_tcp = !unix_only;
    auto rt = std::make_shared<weft::detail::ProcessRuntime>(ro, kernels);

    // Samples go to the master at the interval it sets (at join, and whenever it changes).
    weft::detail::ProcessSampler sampler(
        *rt, [&rt](weft::detail::WireSample&& w) { rt->send_telemetry(encode_sample(w)); });
    rt->on_telemetry_interval(
        [&sampler](std::uint32_t ms) { sampler.set_interval(std::chrono::milliseconds(ms)); });

    ExitSignal exit_signal;
    rt->on_exit_requested([&](const std::string& why) { exit_signal.fire(why); });
    std::vector<std::string> addrs;
    try {
        addrs = rt->listen();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "weft-worker: %s\n", e.what());
        return 1;
    }
    std::string announce = "weft-worker 0.1.0 pid " + std::to_string(::getpid()) + " listening";
    for (auto& a : addrs)
        announce += " " + a;
    std::printf("%s\n", announce.c_str());
    std::fflush(stdout);

    // The master holds our stdin: when it goes away, so do we.
    std::thread([&] {
        char buf[256];
        while (::read(0, buf, sizeof buf) > 0) { }
        exit_signal.fire("the master went away (stdin closed)");
    }).detach();

    std::unique_lock lk(exit_signal.m);
    exit_signal.cv.wait(lk, [&] { return exit_signal.set; });
    std::fflush(stdout);
    std::fflush(stderr);
    // Kernels may still be running on pool threads; a worker ends at once, like Julia's.
    std::_Exit(0);
}
