#include "worker_process.h"

#include "builtin_kernels.h"
#include "handshake.h"
#include "kernel_registry.h"
#include "process_runtime.h"
#include "process_sampler.h"
#include "weft/version.h"

#include <condition_variable>
#include <cstdio>
#include <malloc.h>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace weft::detail {

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

} // namespace

int run_worker(const WorkerArgs& args)
{
    // Fixed, so glibc does not raise it after freeing a large buffer: large messages and
    // telemetry batches come and go, and each should go back to the system when freed instead
    // of fragmenting the heap (a worker's memory stays flat over a long run).
    ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);

    // The cookie arrives as one hex line on stdin, never in argv or the environment.
    std::string line;
    char ch;
    while (line.size() < 256 && ::read(0, &ch, 1) == 1 && ch != '\n')
        line.push_back(ch);
    auto cookie = Cookie::from_hex(line);
    if (!cookie) {
        std::fprintf(stderr, "weft-worker: expected the 32-hex-digit cluster cookie on stdin\n");
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    auto kernels = std::make_shared<KernelRegistry>();
    register_builtin_kernels(*kernels);
    RuntimeOptions ro;
    ro.threads = args.threads;
    ro.cookie = *cookie;
    ro.host = args.host;
    ro.listen_tcp = !args.unix_only;
    auto rt = std::make_shared<ProcessRuntime>(ro, kernels);

    // Samples go to the master at the interval it sets (at join, and whenever it changes).
    ProcessSampler sampler(*rt, [&rt](WireSample&& w) { rt->send_telemetry(w); });
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
    std::string announce = std::string("weft-worker ") + runtime_version() + " pid "
        + std::to_string(::getpid()) + " listening";
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
    rt->remove_socket_files();
    std::fflush(stdout);
    std::fflush(stderr);
    // Kernels may still be running on pool threads; a worker ends at once, like Julia's.
    std::_Exit(0);
}

} // namespace weft::detail
