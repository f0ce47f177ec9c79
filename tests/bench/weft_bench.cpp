// weft-bench: Weft's speed figures, each measured against a floor measured in the same run.
//
//   weft-bench [--json FILE] [--quick] [--kernel-library PATH] [SUITE...]
//   suites: latency throughput bandwidth startup channel refs tasks telemetry telemetry_scale
//   kernels ssh
//
// The kernels suite loads the classroom library, or the kernel library PATH names.
//
// Floors are raw sockets between two processes of this program (a fork that echoes), so the
// ratio says what Weft's layers cost over the bare transport on this machine, now.

#include "process_access.h"
#include "process_runtime.h"
#include "socket.h"
#include "ssh/free_port.h"
#include "weft/weft.h"

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <pwd.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using weft::detail::ListenSocket;

struct Figure {
    std::string name;
    double value = 0;
    std::string unit;
    std::optional<double> floor;
    std::string target; // e.g. "ratio <= 2.0"
    bool lower_is_better = true;
    [[nodiscard]] std::optional<double> ratio() const
    {
        if (!floor || *floor == 0)
            return std::nullopt;
        return value / *floor;
    }
};

struct Options {
    bool quick = false; // fewer repetitions, for a smoke run
    std::string kernel_library = WEFT_CLASSROOM_PATH; // what the kernels suite loads
};

double seconds(Clock::duration d)
{
    return std::chrono::duration<double>(d).count();
}
double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// User + system CPU time of a process (0: this one), from /proc.
double process_cpu_seconds(int os_pid)
{
    std::ifstream f(os_pid ? "/proc/" + std::to_string(os_pid) + "/stat" : "/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')'); // the command name may hold spaces
    if (close == std::string::npos)
        return 0;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14)
            utime = std::stod(field);
        else if (i == 15)
            stime = std::stod(field);
    }
    return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

weft::ClusterOptions cluster_options(weft::Transport t)
{
    weft::ClusterOptions o;
    o.transport = t;
    if (const char* w = std::getenv("WEFT_WORKER"); !w || !*w)
        o.worker_path = WEFT_WORKER_PATH;
    o.kernel_libraries = { WEFT_CLASSROOM_PATH }; // work_ms and the other classroom kernels
    // Sampling is on by default, as for users; WEFT_BENCH_TELEMETRY_MS=0 measures without it.
    if (const char* ms = std::getenv("WEFT_BENCH_TELEMETRY_MS"))
        o.telemetry_interval = std::chrono::milliseconds(std::atoi(ms));
    return o;
}

// ---- raw-socket floors ----------------------------------------------------------------------

void read_full(int fd, void* buf, std::size_t n)
{
    auto* p = static_cast<char*>(buf);
    while (n) {
        ssize_t r = ::read(fd, p, n);
        if (r <= 0)
            throw std::runtime_error("raw floor: read failed");
        p += r;
        n -= static_cast<std::size_t>(r);
    }
}
void write_full(int fd, const void* buf, std::size_t n)
{
    auto* p = static_cast<const char*>(buf);
    while (n) {
        ssize_t w = ::write(fd, p, n);
        if (w <= 0)
            throw std::runtime_error("raw floor: write failed");
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

// Forks a peer that connects to a fresh listening socket of the given kind and runs `serve` on
// its end; returns the parent's accepted end.
struct RawPair {
    int fd = -1;
    pid_t child = -1;
    ~RawPair()
    {
        if (fd >= 0)
            ::close(fd);
        if (child > 0)
            ::waitpid(child, nullptr, 0);
    }
};

std::unique_ptr<RawPair> raw_pair(bool tcp, const std::function<void(int)>& serve)
{
    ListenSocket ls
        = tcp ? weft::detail::listen_tcp("127.0.0.1") : weft::detail::listen_unix("weft-bench");
    weft::detail::set_nonblocking(ls.fd, false);
    auto pair = std::make_unique<RawPair>();
    pair->child = ::fork();
    if (pair->child == 0) {
        int fd = weft::detail::connect_socket_blocking(ls.address);
        serve(fd);
        ::_exit(0);
    }
    pair->fd = ::accept(ls.fd, nullptr, nullptr);
    ::close(ls.fd);
    if (!ls.path.empty())
        ::unlink(ls.path.c_str());
    weft::detail::tune_socket(pair->fd, tcp);
    return pair;
}

// Round trips of a 64-byte message, in microseconds, after a warm-up of n / 5.
std::vector<double> raw_pingpong_samples(bool tcp, int n)
{
    auto pair = raw_pair(tcp, [](int fd) {
        char buf[64];
        for (;;) {
            ssize_t got = 0;
            while (got < 64) {
                ssize_t r = ::read(fd, buf + got, 64 - got);
                if (r <= 0)
                    return;
                got += r;
            }
            write_full(fd, buf, 64);
        }
    });
    char msg[64] = {};
    std::vector<double> samples;
    samples.reserve(n);
    for (int i = 0; i < n + n / 5; ++i) {
        const auto t0 = Clock::now();
        write_full(pair->fd, msg, 64);
        read_full(pair->fd, msg, 64);
        if (i >= n / 5)
            samples.push_back(seconds(Clock::now() - t0) * 1e6);
    }
    ::shutdown(pair->fd, SHUT_WR);
    return samples;
}

// The medians of a raw ping-pong floor and of `one` (a round trip in microseconds), measured in
// alternating rounds: on a shared machine the floor drifts, and a ratio of medians taken side by
// side is what stays comparable from run to run.
std::pair<double, double> floor_and_value_us(bool tcp, int n, const std::function<double()>& one)
{
    constexpr int kRounds = 5;
    std::vector<double> floors, values;
    for (int round = 0; round < kRounds; ++round) {
        const auto f = raw_pingpong_samples(tcp, n / kRounds);
        floors.insert(floors.end(), f.begin(), f.end());
        for (int i = 0; i < n / kRounds; ++i)
            values.push_back(one());
    }
    // The spread shows what a median hides: round trips on a small machine are often bimodal,
    // and which mode wins moves the median.
    if (std::getenv("WEFT_BENCH_VERBOSE")) {
        const auto spread = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            std::string s;
            char buf[16];
            for (double q : { 0.1, 0.25, 0.5, 0.75, 0.9 }) {
                std::snprintf(
                    buf, sizeof buf, " %.1f", v[static_cast<std::size_t>(q * (v.size() - 1))]);
                s += buf;
            }
            return s;
        };
        std::fprintf(stderr, "  p10 p25 p50 p75 p90: floor%s; value%s\n", spread(floors).c_str(),
            spread(values).c_str());
    }
    return { median(floors), median(values) };
}

// Pipelined echo: one thread writes n 64-byte messages (a write each) while another reads them
// back; messages per second.
double raw_pipelined_rate(bool tcp, int n)
{
    auto pair = raw_pair(tcp, [](int fd) {
        std::vector<char> buf(1 << 16);
        for (;;) {
            ssize_t r = ::read(fd, buf.data(), buf.size());
            if (r <= 0)
                return;
            write_full(fd, buf.data(), static_cast<std::size_t>(r));
        }
    });
    const auto t0 = Clock::now();
    std::thread writer([&] {
        char msg[64] = {};
        for (int i = 0; i < n; ++i)
            write_full(pair->fd, msg, 64);
    });
    std::vector<char> sink(std::size_t(n) * 64);
    read_full(pair->fd, sink.data(), sink.size());
    const double t = seconds(Clock::now() - t0);
    writer.join();
    ::shutdown(pair->fd, SHUT_WR);
    return n / t;
}

// Store-and-forward echo of `bytes`, like a remote call: the peer reads all of it, then sends it
// all back. MB/s of payload (counted once).
double raw_echo_mbps(bool tcp, std::size_t bytes, int reps)
{
    auto pair = raw_pair(tcp, [bytes](int fd) {
        std::vector<char> buf(bytes);
        for (;;) {
            ssize_t got = 0;
            while (static_cast<std::size_t>(got) < bytes) {
                ssize_t r = ::read(fd, buf.data() + got, bytes - static_cast<std::size_t>(got));
                if (r <= 0)
                    return;
                got += r;
            }
            write_full(fd, buf.data(), bytes);
        }
    });
    std::vector<char> out(bytes, 1), in(bytes);
    std::vector<double> rates;
    for (int i = 0; i < reps; ++i) {
        const auto t0 = Clock::now();
        write_full(pair->fd, out.data(), bytes);
        read_full(pair->fd, in.data(), bytes);
        rates.push_back(bytes / 1e6 / seconds(Clock::now() - t0));
    }
    ::shutdown(pair->fd, SHUT_WR);
    return median(rates);
}

// ---- suites -----------------------------------------------------------------------------------

void latency(std::vector<Figure>& out, const Options& o)
{
    const int n = o.quick ? 2000 : 20000;
    for (bool tcp : { true, false }) {
        weft::Cluster c(cluster_options(tcp ? weft::Transport::Tcp : weft::Transport::Unix));
        c.addprocs(1);
        for (int i = 0; i < n / 5; ++i)
            (void)c.remotecall_fetch("myid", 2);
        const auto [floor, value] = floor_and_value_us(tcp, n, [&] {
            const auto t0 = Clock::now();
            (void)c.remotecall_fetch("myid", 2);
            return seconds(Clock::now() - t0) * 1e6;
        });
        out.push_back({ std::string("latency.remotecall_fetch.") + (tcp ? "tcp" : "unix"), value,
            "us", floor, "ratio <= 2.0", true });
        // Where the time goes: the same round trip answered by the worker's I/O thread, no task.
        const auto [ping_floor, ping] = floor_and_value_us(
            tcp, n, [&] { return weft::detail::ProcessAccess::runtime(c).ping(2); });
        out.push_back({ std::string("latency.ping.") + (tcp ? "tcp" : "unix"), ping, "us",
            ping_floor, "(diagnostic)", true });
    }
}

// Floor and value alternate, and each is the median of its runs: on a shared 2-core machine
// the floor itself moves by 2x from minute to minute, and a ratio of two medians taken side by
// side is what stays comparable between runs.
void throughput(std::vector<Figure>& out, const Options& o)
{
    const int n = o.quick ? 20000 : 100000;
    const int reps = o.quick ? 2 : 5;
    weft::Cluster c(cluster_options(weft::Transport::Unix));
    c.addprocs(1);
    const int worker_os_pid = c.worker_info().at(0).os_pid;
    { // warm-up: both heaps grow to the size of a run once
        std::vector<weft::Future> fs;
        for (int i = 0; i < n; ++i)
            fs.push_back(c.remotecall("myid", 2));
        (void)weft::fetch_all(fs);
    }
    std::vector<double> rates, floors;
    for (int rep = 0; rep < reps; ++rep) {
        floors.push_back(raw_pipelined_rate(false, n));
        std::vector<weft::Future> fs;
        fs.reserve(n);
        const double cpu_master0 = process_cpu_seconds(0),
                     cpu_worker0 = process_cpu_seconds(worker_os_pid);
        const auto t0 = Clock::now();
        for (int i = 0; i < n; ++i)
            fs.push_back(c.remotecall("myid", 2));
        const auto t1 = Clock::now();
        (void)weft::fetch_all(fs);
        rates.push_back(n / seconds(Clock::now() - t0));
        if (std::getenv("WEFT_BENCH_VERBOSE"))
            std::fprintf(stderr,
                "  floor %.0f/s; submit %.3f s, fetch_all %.3f s: %.0f calls/s; cpu per call: "
                "master %.2f us, worker %.2f us\n",
                floors.back(), seconds(t1 - t0), seconds(Clock::now() - t1), rates.back(),
                (process_cpu_seconds(0) - cpu_master0) / n * 1e6,
                (process_cpu_seconds(worker_os_pid) - cpu_worker0) / n * 1e6);
    }
    out.push_back({ "throughput.remotecall.unix", median(rates), "calls/s", median(floors),
        "ratio >= 0.5", false });
}

void bandwidth(std::vector<Figure>& out, const Options& o)
{
    const std::size_t bytes = 100'000'000;
    const int reps = o.quick ? 2 : 5;
    const double floor = raw_echo_mbps(true, bytes, reps);
    weft::Cluster c(cluster_options(weft::Transport::Tcp));
    c.addprocs(1);
    auto a = weft::Array::zeros(weft::DType::Float64, { bytes / 8 });
    std::vector<double> rates;
    (void)c.remotecall_fetch("echo", 2, a); // warm-up: buffers grow once
    for (int i = 0; i < reps; ++i) {
        const auto t0 = Clock::now();
        auto back = c.remotecall_fetch("echo", 2, a);
        rates.push_back(bytes / 1e6 / seconds(Clock::now() - t0));
        if (back.as_array().bytes() != bytes)
            throw std::runtime_error("echo returned the wrong size");
    }
    out.push_back(
        { "bandwidth.echo_100MB.tcp", median(rates), "MB/s", floor, "ratio >= 0.6", false });
}

void startup(std::vector<Figure>& out, const Options& o)
{
    std::vector<double> times;
    for (int rep = 0; rep < (o.quick ? 1 : 3); ++rep) {
        weft::Cluster c(cluster_options(weft::Transport::Unix));
        const auto t0 = Clock::now();
        auto pids = c.addprocs(32);
        for (auto p : pids) // ready for calls means a call answers
            (void)c.remotecall_fetch("myid", p);
        times.push_back(seconds(Clock::now() - t0));
    }
    out.push_back({ "startup.local_32", median(times), "s", std::nullopt, "value <= 0.5", true });
}

// Seconds one dlopen of `path` takes in this process (the library is closed again).
double timed_dlopen(const std::string& path)
{
    const auto t0 = Clock::now();
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    const auto t = seconds(Clock::now() - t0);
    if (!h)
        throw std::runtime_error(std::string("dlopen: ") + ::dlerror());
    ::dlclose(h);
    return t;
}

// One dlopen in a process started for it (this program again, with --dlopen-once): what each
// worker's load costs at the least, where nothing the loader touches is warm yet.
double fresh_process_dlopen(const std::string& path)
{
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe2 failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    std::string self = "/proc/self/exe", flag = "--dlopen-once", lib = path;
    char* argv[] = { self.data(), flag.data(), lib.data(), nullptr };
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, self.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    std::string answer;
    char buf[64];
    for (ssize_t n; rc == 0 && (n = ::read(p[0], buf, sizeof buf)) > 0;)
        answer.append(buf, static_cast<std::size_t>(n));
    ::close(p[0]);
    int status = 0;
    if (rc == 0)
        ::waitpid(pid, &status, 0);
    if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || answer.empty())
        throw std::runtime_error("a fresh process could not dlopen " + path + ": " + answer);
    return std::stod(answer);
}

int dlopen_once(const char* path)
{
    try {
        std::printf("%.9f\n", timed_dlopen(path));
        return 0;
    } catch (const std::exception& e) {
        std::printf("%s\n", e.what());
        return 1;
    }
}

// Loading a kernel library on 8 workers and the master, from load_kernels to every process
// having it, on a cluster that has just started and whose workers are ready (each has answered
// a call: how startup.local_32 counts them ready, and how they are in the app and the CLI, which
// load the classroom library on every worker as it joins); and reloading it (a rebuilt library
// of the same name: two copies of the file take turns, so every load maps new code). The floor
// is one dlopen of a fresh copy of the same library in this process. Floors drift within a run on
// a shared VM, so each round measures some floors and then one cluster's loads, and the medians
// of all rounds are compared.
void kernels(std::vector<Figure>& out, const Options& o)
{
    const int rounds = o.quick ? 1 : 9;
    constexpr int kFloorsPerRound = 5, kReloadsPerRound = 4;
    char dir_template[] = "/tmp/weft-bench-kernels-XXXXXX";
    const std::string dir = ::mkdtemp(dir_template);
    // Every copy is made first: a file just written loads slower than one the page cache has
    // settled, which would flatter the ratio.
    std::vector<std::string> copies;
    for (int i = 0; i < rounds * (kFloorsPerRound + 4); ++i) {
        copies.push_back(dir + "/library." + std::to_string(i) + ".so");
        std::filesystem::copy_file(o.kernel_library, copies.back());
    }
    std::size_t next_copy = 0;
    auto fresh_copy = [&] { return copies.at(next_copy++); };
    auto opts = cluster_options(weft::Transport::Unix);
    opts.kernel_libraries.clear();
    opts.telemetry_interval = std::chrono::milliseconds(0);
    auto timed_load = [](weft::Cluster& c, const std::string& path, std::size_t processes) {
        const auto t0 = Clock::now();
        const auto results = c.load_kernels(path);
        const auto t = seconds(Clock::now() - t0);
        for (auto& r : results)
            if (!r.ok)
                throw std::runtime_error(r.error);
        if (results.size() != processes)
            throw std::runtime_error("load_kernels answered for too few processes");
        return t;
    };
    std::vector<double> floor, fresh, first, reload, untouched;
    for (int round = 0; round < rounds; ++round) {
        fresh.push_back(fresh_process_dlopen(fresh_copy()));
        for (int i = 0; i < kFloorsPerRound; ++i)
            floor.push_back(timed_dlopen(fresh_copy()));
        {
            weft::Cluster c(opts);
            const auto pids = c.addprocs(8);
            for (auto p : pids)
                (void)c.remotecall_fetch("myid", p);
            const std::string turns[2] = { fresh_copy(), fresh_copy() };
            for (int i = 0; i <= kReloadsPerRound; ++i)
                (i == 0 ? first : reload).push_back(timed_load(c, turns[i % 2], pids.size() + 1));
        }
        // The same first load on workers that have not run anything yet.
        weft::Cluster c(opts);
        const auto pids = c.addprocs(8);
        untouched.push_back(timed_load(c, fresh_copy(), pids.size() + 1));
    }
    std::filesystem::remove_all(dir);
    if (std::getenv("WEFT_BENCH_VERBOSE")) {
        std::fprintf(stderr, "  floors:");
        for (double x : floor)
            std::fprintf(stderr, " %.0f", x * 1e6);
        std::fprintf(stderr, " us\n  first loads:");
        for (double x : first)
            std::fprintf(stderr, " %.2f", x * 1e3);
        std::fprintf(stderr, " ms\n");
    }
    const double f = median(floor);
    out.push_back({ "kernels.load_8w", median(first) * 1e3, "ms", f * 1e3, "ratio <= 20", true });
    out.push_back({ "kernels.reload_8w", median(reload) * 1e3, "ms", f * 1e3, "", true });
    // A worker's first call of any kind pays once for what it touches first (its pool thread's
    // fiber, code and heap pages): here the library load is that first call.
    out.push_back({ "kernels.load_8w_untouched_workers", median(untouched) * 1e3, "ms", f * 1e3,
        "(diagnostic)", true });
    // How much more the same dlopen costs in a process that has just started, as each worker's
    // does: a first load on 8 workers and the master is at least 4.5 of these on 2 cores.
    out.push_back({ "kernels.dlopen_fresh_process", median(fresh) * 1e3, "ms", f * 1e3,
        "(diagnostic)", true });
}

void channel(std::vector<Figure>& out, const Options& o)
{
    const int n = o.quick ? 2000 : 20000;
    weft::Cluster c(cluster_options(weft::Transport::Unix));
    c.addprocs(1);
    auto ch = weft::RemoteChannel::create(c, 16, 2);
    for (int i = 0; i < n / 5; ++i) {
        ch.put(i);
        (void)ch.take();
    }
    int i = 0;
    const auto [floor, value] = floor_and_value_us(false, n, [&] {
        const auto t0 = Clock::now();
        ch.put(i++);
        (void)ch.take();
        return seconds(Clock::now() - t0) * 1e6;
    });
    out.push_back({ "channel.remote_put_take.unix", value, "us", floor, "ratio <= 2.5", true });
}

void refs(std::vector<Figure>& out, const Options& o)
{
    const int n = o.quick ? 20000 : 100000;
    weft::Cluster c(cluster_options(weft::Transport::Unix));
    c.addprocs(1);
    std::vector<double> rates;
    for (int rep = 0; rep < 3; ++rep) {
        const auto t0 = Clock::now();
        for (int i = 0; i < n; ++i)
            (void)c.remotecall("myid", 2); // created, then dropped at once
        // Counted once the owner has freed them all.
        while (!c.store_table(2).empty())
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        rates.push_back(n / seconds(Clock::now() - t0));
    }
    out.push_back(
        { "refs.create_drop", median(rates), "cycles/s", std::nullopt, "value >= 100000", false });
}

void tasks(std::vector<Figure>& out, const Options& o)
{
    const int n = o.quick ? 5000 : 50000;
    weft::Cluster c(cluster_options(weft::Transport::Unix));
    for (int i = 0; i < n / 5; ++i)
        weft::spawn_task(c, [] {}).wait();
    std::vector<double> samples;
    samples.reserve(n);
    for (int i = 0; i < n; ++i) {
        const auto t0 = Clock::now();
        weft::spawn_task(c, [] {}).fetch();
        samples.push_back(seconds(Clock::now() - t0) * 1e6);
    }
    out.push_back({ "tasks.spawn_fetch", median(samples), "us", std::nullopt, "value <= 5", true });
}

// What monitoring costs: pmap throughput with every process sampling at 10 Hz against the same
// run with sampling off, alternating runs and comparing each pair, so drift cancels. Two
// workloads: compute items (2 ms each, the figure with the target: what a user's pmap sees) and
// trivial items (a stress of per-task costs, dominated by scheduling noise on 2 cores).
double pmap_rate(weft::Cluster& c, const char* kernel, const weft::List& items, std::size_t batch)
{
    weft::PmapOptions po;
    po.batch_size = batch;
    const auto t0 = Clock::now();
    (void)weft::pmap(c, kernel, items, po);
    return double(items.size()) / seconds(Clock::now() - t0);
}

std::pair<double, double> telemetry_cost(
    weft::Cluster& c, const char* kernel, const weft::List& items, std::size_t batch, int reps)
{
    (void)pmap_rate(c, kernel, items, batch); // warm-up
    std::vector<double> ratios, offs;
    for (int rep = 0; rep < reps; ++rep) {
        double rate[2];
        for (int sampling = 0; sampling < 2; ++sampling) {
            c.set_telemetry_interval(std::chrono::milliseconds(sampling ? 100 : 0));
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            rate[sampling] = pmap_rate(c, kernel, items, batch);
            if (std::getenv("WEFT_BENCH_VERBOSE"))
                std::fprintf(stderr, "telemetry %s %s: %.0f items/s\n", kernel,
                    sampling ? "on " : "off", rate[sampling]);
        }
        ratios.push_back(rate[1] / rate[0]);
        offs.push_back(rate[0]);
    }
    c.set_telemetry_interval(std::chrono::milliseconds(100));
    return { 1.0 - median(ratios), median(offs) };
}

void telemetry(std::vector<Figure>& out, const Options& o)
{
    weft::Cluster c(cluster_options(weft::Transport::Unix));
    c.addprocs(2);
    const int reps = o.quick ? 3 : 9;
    weft::List work(o.quick ? 100 : 500, weft::Value(std::int64_t(2)));
    const auto [cost, rate] = telemetry_cost(c, "work_ms", work, 1, reps);
    out.push_back({ "telemetry.pmap_items.off", rate, "items/s", std::nullopt,
        "(diagnostic: 2 ms items, 2 workers)", false });
    out.push_back({ "telemetry.overhead", cost, "fraction", std::nullopt, "value <= 0.02", true });
    weft::List tiny;
    for (int i = 0; i < (o.quick ? 4000 : 40000); ++i)
        tiny.emplace_back(std::int64_t(i));
    const auto [fine, fine_rate] = telemetry_cost(c, "square", tiny, 4, reps);
    out.push_back({ "telemetry.pmap_tiny_items.off", fine_rate, "items/s", std::nullopt,
        "(diagnostic)", false });
    out.push_back(
        { "telemetry.overhead_tiny_items", fine, "fraction", std::nullopt, "(diagnostic)", true });
}

// What sampling costs the master by itself (no window): the fraction of one core its process
// spends while n idle workers each send a sample every 100 ms. It grows with n, so four points.
void telemetry_scale(std::vector<Figure>& out, const Options& o)
{
    // Each local worker takes a few descriptors on the master.
    rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    const double window = o.quick ? 3.0 : 10.0;
    for (int n : { 16, 64, 128, 256 }) {
        auto opts = cluster_options(weft::Transport::Unix);
        opts.telemetry_interval = std::chrono::milliseconds(100);
        opts.worker_timeout = std::chrono::milliseconds(300000);
        weft::Cluster c(opts);
        c.addprocs(n, weft::Threads { 1, 0 });
        // Settled: every process has sampled a few times (told by the snapshots themselves).
        {
            std::mutex m;
            std::condition_variable cv;
            bool settled = false;
            const auto id = c.on_telemetry([&](std::shared_ptr<const weft::TelemetrySnapshot> s) {
                const bool all = s->processes.size() >= static_cast<std::size_t>(n) + 1
                    && std::all_of(s->processes.begin(), s->processes.end(),
                        [](const weft::ProcessHistory& p) { return p.points.size() >= 3; });
                std::lock_guard g(m);
                settled |= all;
                cv.notify_all();
            });
            std::unique_lock lk(m);
            cv.wait(lk, [&] { return settled; });
            lk.unlock();
            c.remove_callback(id);
        }
        const double cpu0 = process_cpu_seconds(0);
        const auto t0 = Clock::now();
        std::this_thread::sleep_for(std::chrono::duration<double>(window)); // the window measured
        const double fraction = (process_cpu_seconds(0) - cpu0) / seconds(Clock::now() - t0);
        const auto snap = c.telemetry();
        if (snap->processes.size() < static_cast<std::size_t>(n) + 1)
            throw std::runtime_error("telemetry_scale: the snapshot lacks workers");
        out.push_back({ "telemetry.master_cpu_" + std::to_string(n) + "w", fraction, "core",
            std::nullopt, n == 256 ? "value <= 0.04" : "(diagnostic)", true });
        std::fprintf(stderr, "telemetry.master_cpu_%dw: %.4f of a core\n", n, fraction);
    }
}

std::string json_number(std::optional<double> v)
{
    if (!v)
        return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", *v);
    return buf;
}

#include "bench_ssh.h"

} // namespace

int main(int argc, char** argv)
{
    if (argc == 3 && std::string(argv[1]) == "--dlopen-once")
        return dlopen_once(argv[2]); // see fresh_process_dlopen
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    Options o;
    std::string json;
    std::vector<std::string> wanted;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--json" && i + 1 < argc)
            json = argv[++i];
        else if (a == "--quick")
            o.quick = true;
        else if (a == "--kernel-library" && i + 1 < argc)
            o.kernel_library = argv[++i];
        else if (a == "--help" || a == "-h") {
            std::printf("usage: weft-bench [--json FILE] [--quick] [--kernel-library PATH] "
                        "[latency|throughput|bandwidth|startup|channel|refs|tasks|telemetry|"
                        "telemetry_scale|kernels|ssh "
                        "...]\n");
            return 0;
        } else
            wanted.push_back(a);
    }
    const std::vector<std::pair<std::string, void (*)(std::vector<Figure>&, const Options&)>>
        suites { { "latency", latency }, { "throughput", throughput }, { "bandwidth", bandwidth },
            { "startup", startup }, { "channel", channel }, { "refs", refs }, { "tasks", tasks },
            { "telemetry", telemetry }, { "telemetry_scale", telemetry_scale },
            { "kernels", kernels }, { "ssh", ssh } };
    for (auto& w : wanted)
        if (std::none_of(suites.begin(), suites.end(), [&](auto& s) { return s.first == w; })) {
            std::fprintf(stderr, "weft-bench: unknown suite '%s'\n", w.c_str());
            return 2;
        }
    std::vector<Figure> figures;
    for (auto& [name, fn] : suites) {
        if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), name) == wanted.end())
            continue;
        try {
            fn(figures, o);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "weft-bench: suite %s failed: %s\n", name.c_str(), e.what());
            return 1;
        }
    }
    std::printf(
        "%-34s %14s %-8s %12s %8s  %s\n", "figure", "value", "unit", "floor", "ratio", "target");
    for (auto& f : figures)
        std::printf("%-34s %14.3f %-8s %12s %8s  %s\n", f.name.c_str(), f.value, f.unit.c_str(),
            json_number(f.floor).c_str(), json_number(f.ratio()).c_str(), f.target.c_str());
    if (!json.empty()) {
        std::ofstream js(json);
        js << "[\n";
        for (std::size_t i = 0; i < figures.size(); ++i) {
            auto& f = figures[i];
            js << "  {\"name\": \"" << f.name << "\", \"value\": " << json_number(f.value)
               << ", \"unit\": \"" << f.unit << "\", \"floor\": " << json_number(f.floor)
               << ", \"ratio\": " << json_number(f.ratio()) << "}"
               << (i + 1 < figures.size() ? "," : "") << "\n";
        }
        js << "]\n";
    }
    return 0;
}
