// The classroom kernel library: the reference documents' examples and the kernels the tests and
// benchmarks use. Built with weft_add_kernel_library against the public SDK alone, and loaded by
// the desktop app and weft-cli at start, like any user's library.

#include "weft/errors.h"
#include "weft/kernel.h"
#include "weft/patterns.h"
#include "weft/process.h"
#include "weft/remote_channel.h"
#include "weft/threads.h"

#include <Eigen/Dense>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <malloc.h>
#include <random>
#include <stdexcept>
#include <thread>

namespace weft::classroom {

namespace {

std::mt19937_64& rng()
{
    thread_local std::mt19937_64 g { std::random_device {}() };
    return g;
}

std::vector<std::uint64_t> dims_of(const List& args)
{
    std::vector<std::uint64_t> dims;
    for (const auto& a : args) {
        if (a.kind() == Value::Kind::List) {
            for (const auto& d : a.as_list())
                dims.push_back(static_cast<std::uint64_t>(d.as_int()));
        } else {
            const auto d = a.as_int();
            if (d < 0)
                throw std::invalid_argument("negative dimension " + std::to_string(d));
            dims.push_back(static_cast<std::uint64_t>(d));
        }
    }
    return dims;
}

} // namespace

Value add(Context&, const List& args)
{
    if (args.size() < 2)
        throw std::invalid_argument("add takes at least 2 arguments");
    Value acc = args[0];
    for (std::size_t i = 1; i < args.size(); ++i)
        acc = add_values(acc, args[i]);
    return acc;
}

// rand(d1, d2, ...) or rand([d1, d2, ...]): uniform float64 array in [0, 1).
Value rand(Context&, const List& args)
{
    auto dims = dims_of(args);
    if (dims.empty())
        return std::uniform_real_distribution<double>(0, 1)(rng());
    auto a = Array::zeros(DType::Float64, dims);
    auto* p = reinterpret_cast<double*>(a.mutable_data());
    std::uniform_real_distribution<double> u(0, 1);
    for (std::size_t i = 0; i < a.size(); ++i)
        p[i] = u(rng());
    return a;
}

// getindex(A, i, j, ...) with Julia's 1-based, column-major indices.
Value getindex(Context&, const List& args)
{
    if (args.empty())
        throw std::invalid_argument("getindex needs an array");
    const Array& a = args[0].as_array();
    std::size_t offset = 0, stride = 1;
    for (std::size_t k = 1; k < args.size(); ++k) {
        const auto i = args[k].as_int();
        const auto extent = k - 1 < a.shape().size() ? a.shape()[k - 1] : 1;
        if (i < 1 || static_cast<std::uint64_t>(i) > extent)
            throw std::out_of_range("index " + std::to_string(i) + " out of bounds 1:"
                + std::to_string(extent) + " in dimension " + std::to_string(k));
        offset += static_cast<std::size_t>(i - 1) * stride;
        stride *= extent;
    }
    return a.view<double>()[offset];
}

double sum_values(const Value& v)
{
    if (v.kind() == Value::Kind::List) {
        double s = 0;
        for (const auto& e : v.as_list())
            s += e.as_double();
        return s;
    }
    if (v.kind() != Value::Kind::Array)
        return v.as_double();
    double s = 0;
    for (double x : v.as_array().view<double>())
        s += x;
    return s;
}

// The reference's count_heads: flip n coins, count the heads.
std::int64_t count_heads(std::int64_t n)
{
    std::int64_t c = 0;
    auto& g = rng();
    std::int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        c += __builtin_popcountll(g());
    if (i < n) {
        const auto bits = g() & ((std::uint64_t(1) << (n - i)) - 1);
        c += __builtin_popcountll(bits);
    }
    return c;
}

std::int64_t sleep_ms(std::int64_t ms)
{
    weft::sleep(std::chrono::milliseconds(ms));
    return ms;
}

namespace {
// The CPU time the calling thread has used, in nanoseconds.
std::int64_t thread_cpu_ns()
{
    timespec ts {};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A fixed amount of work: `ms` milliseconds of this thread's CPU time, whatever else the machine
// runs. (Spinning on the wall clock instead would let 64 workers on 2 cores "finish" 64 s of
// work in 2 s, and teach a speedup that cannot exist.) A task that never suspends stays on its
// thread, so its thread's clock is its own.
void spend_cpu(std::int64_t ms)
{
    const auto until = thread_cpu_ns() + ms * 1'000'000;
    volatile std::uint64_t x = 0;
    while (thread_cpu_ns() < until) {
        for (int i = 0; i < 1000; ++i)
            x = x + 1;
        check_interrupt();
    }
}
} // namespace

// Keeps its thread busy for `ms` of CPU time (a CPU-bound task that never yields).
std::int64_t busy_ms(std::int64_t ms)
{
    spend_cpu(ms);
    return ms;
}

// Singular values of a float64 matrix (descending), as in the reference's pmap(svd, M).
std::vector<double> svdvals(Array m)
{
    if (m.shape().size() != 2)
        throw std::invalid_argument(
            "svdvals needs a matrix, got " + std::to_string(m.shape().size()) + " dimensions");
    const auto rows = static_cast<Eigen::Index>(m.shape()[0]),
               cols = static_cast<Eigen::Index>(m.shape()[1]);
    Eigen::Map<const Eigen::MatrixXd> a(m.view<double>().data(), rows, cols);
    Eigen::BDCSVD<Eigen::MatrixXd> svd(a);
    const auto& s = svd.singularValues();
    return { s.data(), s.data() + s.size() };
}

// Prints a line on this process's stdout; the master shows it as "From worker N: ...".
std::string print(Context& ctx, std::string line)
{
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    (void)ctx;
    return line;
}

// Throws an error with the given message (Julia's error(msg)).
Value fail(std::string message)
{
    throw std::runtime_error(message);
}

// remotecall_fetch(kernel, pid, args...) made from this process: nested calls.
Value relay(Context& ctx, std::int64_t pid, std::string kernel, List args)
{
    return ctx.process().remotecall_fetch_args(kernel, static_cast<Pid>(pid), std::move(args));
}

// ---- Threads inside a worker: the reference's data-race lesson ----------------------------

// acc[] += i from every thread with no synchronisation: concurrent read-modify-writes lose
// updates. (A relaxed atomic load then store shows the race without undefined behaviour.)
std::int64_t sum_race(std::int64_t n)
{
    std::atomic<std::int64_t> acc { 0 };
    parallel_for(
        1, n + 1,
        [&](std::int64_t i) {
            acc.store(acc.load(std::memory_order_relaxed) + i, std::memory_order_relaxed);
        },
        Schedule::Static);
    return acc.load();
}

// The same with atomic_add!: exact.
std::int64_t sum_atomic(std::int64_t n)
{
    Atomic<std::int64_t> acc { 0 };
    parallel_for(
        1, n + 1, [&](std::int64_t i) { atomic_add(acc, i); }, Schedule::Static);
    return acc.load();
}

// Per-task partial sums, added up at the end: exact and without contention.
std::int64_t sum_chunks(std::int64_t n)
{
    const int nt = nthreads();
    std::vector<TaskHandle<std::int64_t>> parts;
    for (int t = 0; t < nt; ++t) {
        const std::int64_t b = 1 + n * t / nt, e = 1 + n * (t + 1) / nt;
        parts.push_back(spawn_task([b, e] {
            std::int64_t s = 0;
            for (std::int64_t i = b; i < e; ++i)
                s += i;
            return s;
        }));
    }
    std::int64_t total = 0;
    for (auto& p : parts)
        total += p.fetch();
    return total;
}

// a = zeros(n); Threads.@threads for i = 1:n; a[i] = Threads.threadid(); end
Array fill_threadid(std::int64_t n)
{
    auto a = Array::zeros(DType::Int64, { static_cast<std::uint64_t>(n) });
    auto* p = reinterpret_cast<std::int64_t*>(a.mutable_data());
    parallel_for(
        0, n, [p](std::int64_t i) { p[i] = threadid(); }, Schedule::Static);
    return a;
}

// [default threads, interactive threads, this thread's id] of this worker.
std::vector<std::int64_t> thread_info()
{
    return { nthreads(Pool::Default), nthreads(Pool::Interactive), threadid() };
}

// ---- Channels: the reference's jobs/results example -------------------------------------

// Takes job ids from `jobs` until it is closed, "works" a random time up to max_ms, and puts
// [job_id, seconds, myid] into `results`.
std::int64_t do_work(Context& ctx, RemoteChannel jobs, RemoteChannel results, std::int64_t max_ms)
{
    std::int64_t done = 0;
    std::uniform_real_distribution<double> u(0, 1);
    for (Value job : jobs) {
        const double exec_time = u(rng()) * static_cast<double>(max_ms) / 1000.0;
        weft::sleep(std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::duration<double>(exec_time)));
        results.put(List { job, exec_time, static_cast<std::int64_t>(ctx.myid()) });
        ++done;
    }
    return done;
}

// Puts start, start+1, ..., start+count-1 into c.
std::int64_t put_range(RemoteChannel c, std::int64_t start, std::int64_t count)
{
    for (std::int64_t i = 0; i < count; ++i)
        c.put(start + i);
    return count;
}

// Takes `count` values from c and returns their sum.
std::int64_t take_sum(RemoteChannel c, std::int64_t count)
{
    std::int64_t s = 0;
    for (std::int64_t i = 0; i < count; ++i)
        s += c.take().as_int();
    return s;
}

// Keeps a reference to f for ms milliseconds, then drops it (reference-tracking lessons).
std::int64_t hold_future(Future f, std::int64_t ms)
{
    weft::sleep(std::chrono::milliseconds(ms));
    return static_cast<std::int64_t>(f.where());
}

// One coin flip (0 or 1), for `@distributed (+) for i in 1:n; coin_flip(i); end`.
std::int64_t coin_flip(std::int64_t)
{
    return static_cast<std::int64_t>(rng()() & 1);
}

// x squared, the simplest pmap kernel.
Value square(Context&, const List& args)
{
    if (args.size() != 1)
        throw std::invalid_argument("square takes one number");
    if (args[0].kind() == Value::Kind::Int64) {
        // Integers wrap, as Julia's Int64 does (x^2 for x = 3037000500 is negative there too):
        // the multiplication is done unsigned, where wrapping is defined.
        const auto x = static_cast<std::uint64_t>(args[0].as_int());
        return static_cast<std::int64_t>(x * x);
    }
    return args[0].as_double() * args[0].as_double();
}

// `ms` milliseconds of CPU work, then returns `ms`: unequal items show dynamic scheduling.
std::int64_t work_ms(std::int64_t ms)
{
    spend_cpu(ms);
    return ms;
}

// Bytes this process has allocated and not freed (malloc's own count, blind to fragmentation):
// what a leak test watches.
std::int64_t heap_in_use()
{
    const auto mi = ::mallinfo2();
    return static_cast<std::int64_t>(mi.uordblks + mi.hblkhd);
}

WEFT_KERNEL(heap_in_use, "Bytes this process has allocated and not freed");
WEFT_KERNEL(coin_flip, "One coin flip: 0 or 1 (for @distributed (+))");
WEFT_KERNEL(square, "x squared (integers wrap like Int64)");
WEFT_KERNEL(work_ms, "ms milliseconds of CPU work, then returns ms");
WEFT_KERNEL(add, "Adds numbers or float64 arrays elementwise (.+)");
WEFT_KERNEL(rand, "A uniform float64 array in [0, 1) of the given dimensions");
WEFT_KERNEL(getindex, "An element of an array (1-based, like Julia)");
WEFT_KERNEL_AS("sum", sum_values, "The sum of a list or an array");
WEFT_KERNEL(count_heads, "Counts heads in n coin flips");
WEFT_KERNEL(sleep_ms, "Sleeps ms milliseconds (the task suspends, its thread is free)");
WEFT_KERNEL(busy_ms, "Keeps its thread busy for ms milliseconds of CPU time");
WEFT_KERNEL(svdvals, "Singular values of a float64 matrix, largest first");
WEFT_KERNEL(print, "Prints a line on the worker (shown as From worker N:)");
WEFT_KERNEL(fail, "Throws std::runtime_error with the given message");
WEFT_KERNEL(relay, "Calls a kernel on another worker and returns its result");
WEFT_KERNEL(sum_race, "Sums 1..n on all threads with a data race (wrong on purpose)");
WEFT_KERNEL(sum_atomic, "Sums 1..n on all threads with an atomic (right, slower)");
WEFT_KERNEL(sum_chunks, "Sums 1..n on all threads, one chunk per task (right, fast)");
WEFT_KERNEL(fill_threadid, "An array filled with the id of the thread that wrote each element");
WEFT_KERNEL(thread_info, "This process: its id, threads per pool, and the calling thread");
WEFT_KERNEL(do_work, "Takes jobs from one RemoteChannel, puts results in another");
WEFT_KERNEL(put_range, "Puts start .. start+count-1 into a RemoteChannel");
WEFT_KERNEL(take_sum, "Takes count values from a RemoteChannel and sums them");
WEFT_KERNEL(hold_future, "Holds a Future for ms milliseconds, then drops it");

} // namespace weft::classroom
