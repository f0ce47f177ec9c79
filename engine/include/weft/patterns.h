#pragma once
// Parallel patterns over a cluster, like Julia's pmap, @distributed (op) for and @everywhere.
// They are built on the call API, so they work from the master and from inside a kernel.

#include "weft/process.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string_view>
#include <vector>

namespace weft {

struct PmapOptions {
    // Items per call: larger batches cost fewer round trips, smaller ones balance better.
    std::size_t batch_size = 1;
    // Processes to use (default: workers()).
    std::vector<Pid> workers;
    CallOptions call;
    // Called after each batch, from the feeder that finished it: items done so far, total.
    std::function<void(std::size_t done, std::size_t total)> on_progress;
};

// pmap(kernel, items): kernel(item) for every item, with dynamic scheduling (one feeder per
// worker takes the next batch as soon as its worker is free). Results come in input order. If a
// worker exits, its unfinished batch goes to the others; the first kernel error is thrown once
// every batch in flight has come back.
std::vector<Value> pmap(
    Process& p, std::string_view kernel, const List& items, const PmapOptions& o = {});

struct ReduceOptions {
    std::vector<Pid> workers; // default: workers()
    CallOptions call;
};

// @distributed (reducer) for i in lo:hi-1; mapper(i); end. The range is split into one contiguous
// chunk per worker; each worker reduces its chunk with `reducer` (a two-argument kernel, or
// "+", "*", "min", "max"), and the caller reduces the partial results in chunk order.
Value distributed_reduce(Process& p, std::string_view reducer, std::string_view mapper,
    std::int64_t lo, std::int64_t hi, const ReduceOptions& o = {});

// @everywhere kernel(args...): runs on every process (the caller included), all at once, and
// returns each process's result. Once every process has answered, throws a CompositeException
// with one entry per process that failed.
std::map<Pid, Value> everywhere(Process& p, std::string_view kernel, const List& args = {});

// a + b as the "+" reducer computes it: numbers (int64 stays int64), or elementwise where either
// is a float64 array (Julia's .+).
Value add_values(const Value& a, const Value& b);

} // namespace weft
