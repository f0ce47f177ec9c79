// weft-cli: a headless driver. `weft-cli demo` replays the reference manual's REPL examples on
// local workers and prints what happened.

#include "weft/weft.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

void step(const char* julia, const std::string& result)
{
    std::printf("  %-46s => %s\n", julia, result.c_str());
}

// The options every command starts a cluster with: the classroom kernel library loaded.
weft::ClusterOptions cli_options()
{
    weft::ClusterOptions o;
    if (auto classroom = weft::bundled_kernel_library("classroom"); !classroom.empty())
        o.kernel_libraries.push_back(classroom);
    else
        std::fprintf(stderr, "weft-cli: the classroom kernel library is not installed here\n");
    return o;
}

int demo(int nworkers)
{
    weft::Cluster cluster(cli_options());
    cluster.on_output([](weft::Pid pid, const std::string& line) {
        std::printf("      From worker %u: %s\n", pid, line.c_str());
    });
    std::printf(
        "Weft demo: the examples of Julia's parallel computing manual, on %d local workers\n\n",
        nworkers);

    auto t0 = Clock::now();
    auto pids = cluster.addprocs(nworkers);
    std::string ids;
    for (auto p : pids)
        ids += (ids.empty() ? "" : ", ") + std::to_string(p);
    std::printf("addprocs(%d) -> [%s] in %.1f ms\n\n", nworkers, ids.c_str(), ms_since(t0));

    std::printf("Remote references and remote calls\n");
    auto r = cluster.remotecall("rand", 2, 2, 2);
    step("r = remotecall(rand, 2, 2, 2)", r.fetch().repr());
    auto s = cluster.spawnat(2, "add", 1, r);
    step("s = @spawnat 2 1 .+ fetch(r)", s.fetch().repr());
    step("remotecall_fetch(getindex, 2, r, 1, 1)",
        cluster.remotecall_fetch("getindex", 2, r, 1, 1).repr());
    auto r2 = cluster.spawn("rand", 2, 2);
    auto s2 = cluster.spawn("add", 1, r2);
    step("s = @spawn 1 .+ fetch(@spawn rand(2,2))",
        s2.fetch().repr() + " on worker " + std::to_string(s2.where()));

    std::printf("\nParallel map and loops: count_heads on two workers\n");
    t0 = Clock::now();
    auto a = cluster.spawn("count_heads", 100'000'000);
    auto b = cluster.spawn("count_heads", 100'000'000);
    const auto heads = a.fetch().as_int() + b.fetch().as_int();
    step("fetch(a) + fetch(b)",
        std::to_string(heads) + " heads of 2e8 flips in " + std::to_string(int(ms_since(t0)))
            + " ms");

    std::printf("\nSingular values of 8 random 300x300 matrices, one remote call per matrix\n");
    t0 = Clock::now();
    std::vector<weft::Future> svds;
    for (int i = 0; i < 8; ++i)
        svds.push_back(
            cluster.spawn("svdvals", cluster.remotecall("rand", pids[i % pids.size()], 300, 300)));
    double largest = 0;
    for (auto& f : svds)
        largest = std::max(largest, f.fetch().as_array().view<double>()[0]);
    step("[svdvals(rand(300,300)) for 1:8]",
        "largest singular value " + std::to_string(largest) + " in "
            + std::to_string(int(ms_since(t0))) + " ms");

    std::printf("\nOutput from workers\n");
    for (auto p : pids)
        cluster.remotecall_wait("print", p, "hello from worker " + std::to_string(p));

    std::printf("\nErrors\n");
    try {
        cluster.remotecall_fetch("fail", 3, "something went wrong");
    } catch (const weft::RemoteException& e) {
        step("remotecall_fetch(error, 3, ...)",
            std::string("RemoteException: ") + e.type() + ": " + e.remote_message() + " (on worker "
                + std::to_string(e.origin()) + ")");
    }
    try {
        cluster.remotecall_fetch("rand2", 2, 2, 2);
    } catch (const weft::KernelNotFound& e) {
        step("remotecall_fetch(rand2, 2, 2, 2)", std::string("KernelNotFound: ") + e.what());
    }

    std::printf("\nChannels: the jobs/results example, with RemoteChannels owned by process 1\n");
    {
        auto jobs = weft::RemoteChannel::create(cluster, 32);
        auto results = weft::RemoteChannel::create(cluster, 32);
        const int n = 12;
        for (int i = 1; i <= n; ++i)
            jobs.put(i);
        std::vector<weft::Future> loops;
        for (auto p : cluster.workers())
            loops.push_back(cluster.remotecall("do_work", p, jobs, results, 500));
        t0 = Clock::now();
        for (int left = n; left > 0; --left) {
            const auto job = results.take().as_list();
            std::printf("      %2lld finished in %.2f seconds on worker %lld\n",
                static_cast<long long>(job[0].as_int()), job[1].as_double(),
                static_cast<long long>(job[2].as_int()));
        }
        jobs.close();
        weft::fetch_all(loops);
        step("@elapsed while n > 0 ... end", std::to_string(ms_since(t0) / 1000.0) + " s");
    }

    std::printf("\nThreads inside one worker (4 threads): a data race and two fixes\n");
    {
        auto w = cluster.addprocs(1, weft::Threads { 4, 1 })[0];
        const std::int64_t n = 10'000'000, exact = n * (n + 1) / 2;
        const auto race = cluster.remotecall_fetch("sum_race", w, n).as_int();
        step("acc[] += i, unsynchronised",
            std::to_string(race)
                + (race == exact ? " (no update lost this time)" : " (lost updates!)"));
        step("atomic_add!(acc, i)",
            std::to_string(cluster.remotecall_fetch("sum_atomic", w, n).as_int()));
        step("per-task partial sums",
            std::to_string(cluster.remotecall_fetch("sum_chunks", w, n).as_int()));
        step("expected", std::to_string(exact));
        const auto tids = cluster.remotecall_fetch("fill_threadid", w, 12);
        step("@threads :static a[i] = threadid()", tids.repr(12));
        pids.push_back(w);
    }

    t0 = Clock::now();
    cluster.rmprocs(pids);
    std::printf(
        "\nrmprocs(all) in %.1f ms; workers() = [%u]\n", ms_since(t0), cluster.workers()[0]);
    return 0;
}

// weft-cli kernels [--workers N] [LIBRARY...]: loads each library on the master and N workers
// and lists what every process has loaded: library, version, kernels and signatures, and where
// a library failed, why.
int kernels(int argc, char** argv)
{
    int nworkers = 2;
    std::vector<std::string> libraries;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--workers" && i + 1 < argc)
            nworkers = std::max(0, std::atoi(argv[++i]));
        else
            libraries.push_back(a);
    }
    weft::Cluster cluster(cli_options());
    cluster.addprocs(nworkers);
    int failed = 0;
    for (const auto& lib : libraries)
        for (const auto& r : cluster.load_kernels(lib))
            if (!r.ok) {
                std::printf("not loaded: %s\n", r.error.c_str());
                ++failed;
            }
    for (const auto& p : cluster.kernel_libraries()) {
        std::printf("process %u%s\n", p.pid, p.pid == 1 ? " (master)" : "");
        if (!p.error.empty())
            std::printf("  %s\n", p.error.c_str());
        for (const auto& l : p.libraries) {
            std::printf("  %s %s  (%s)\n", l.name.c_str(), l.version.c_str(), l.path.c_str());
            for (const auto& k : l.kernels)
                std::printf("    %-16s %-40s %s\n", k.name.c_str(), k.signature.c_str(),
                    k.description.c_str());
        }
    }
    return failed ? 1 : 0;
}

} // namespace

int main(int argc, char** argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::string cmd = argc > 1 ? argv[1] : "demo";
    if (cmd == "--version") {
        std::printf("weft-cli 0.1.0\n");
        return 0;
    }
    if (cmd == "demo") {
        int n = argc > 2 ? std::atoi(argv[2]) : 4;
        try {
            return demo(n > 0 ? n : 4);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "weft-cli: %s\n", e.what());
            return 1;
        }
    }
    if (cmd == "kernels") {
        try {
            return kernels(argc, argv);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "weft-cli: %s\n", e.what());
            return 1;
        }
    }
    std::fprintf(stderr,
        "usage: weft-cli [demo [NWORKERS]] | kernels [--workers N] [LIBRARY...] | --version\n");
    return 2;
}
