// Loads a kernel library built against the installed SDK on three workers and the master, and
// calls its kernels every way: remotecall, pmap, and from inside another kernel; a worker added
// afterwards has it too. The driver's own WEFT_KERNEL runs on the master. Prints "sdk ok" when
// every answer is right.
//   sdk-driver WORKER LIBRARY
#include <weft/weft.h>

#include <cstdio>
#include <string>

namespace {
std::int64_t quadruple(std::int64_t x)
{
    return 4 * x;
}
} // namespace
WEFT_KERNEL(quadruple, "Four times x (the driver's own kernel)");

int main(int argc, char** argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: sdk-driver WORKER LIBRARY\n");
        return 2;
    }
    weft::ClusterOptions o;
    o.worker_path = argv[1];
    weft::Cluster c(o);
    const auto pids = c.addprocs(3);
    int bad = 0;
    auto check = [&](const char* what, std::int64_t got, std::int64_t want) {
        std::printf("%-34s %lld\n", what, static_cast<long long>(got));
        bad += got != want;
    };
    for (auto& r : c.load_kernels(argv[2])) {
        std::printf("load on %u: %s\n", r.pid, r.ok ? (r.library + " " + r.version).c_str()
                                                      : r.error.c_str());
        bad += !r.ok;
    }
    check("quadruple(5) on the master", c.remotecall_fetch("quadruple", 1, 5).as_int(), 20);
    check("triple(5) on the master", c.remotecall_fetch("triple", 1, 5).as_int(), 15);
    for (auto p : pids)
        check("triple(5) on a worker", c.remotecall_fetch("triple", p, 5).as_int(), 15);
    const auto mapped = weft::pmap(c, "triple", { 1, 2, 3, 4, 5, 6 });
    std::int64_t sum = 0;
    for (auto& v : mapped)
        sum += v.as_int();
    check("sum(pmap(triple, 1:6))", sum, 63);
    check("triple_via(worker, 7)",
        c.remotecall_fetch("triple_via", pids[0], std::int64_t(pids[2]), 7).as_int(), 21);
    const auto late = c.addprocs(1).at(0);
    check("triple(2) on a later worker", c.remotecall_fetch("triple", late, 2).as_int(), 6);
    auto ch = weft::RemoteChannel::create(c, 4, pids.at(1));
    ch.put(41);
    check("channel round trip", ch.take().as_int(), 41);
    if (bad)
        return 1;
    std::printf("sdk ok\n");
    return 0;
}
