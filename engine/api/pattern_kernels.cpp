// The engine's own kernels: the primitives every process has, and what pmap and
// distributed_reduce run on each worker.

#include "pattern_kernels.h"

#include "inspect_codec.h"
#include "process_access.h"
#include "process_runtime.h"
#include "scheduler.h"
#include "weft/errors.h"
#include "weft/process.h"
#include "weft/threads.h"

#include <algorithm>

namespace weft::detail {

namespace {

// The entry is held while the caller runs it: a reload meanwhile leaves this batch on the old code.
std::shared_ptr<const KernelInfo> loaded_kernel(Context& ctx, std::string_view name)
{
    auto k = ProcessAccess::runtime(ctx.process()).kernels().find(name);
    if (!k)
        throw KernelNotFound(std::string(name), ctx.myid());
    add_task_code(k->library);
    return k;
}

// kernel(item) for each item of a pmap batch, in order.
Value map_batch(Context& ctx, const List& args)
{
    if (args.size() != 2)
        throw std::invalid_argument("weft.map_batch takes a kernel name and a list of items");
    const auto held = loaded_kernel(ctx, args[0].as_text());
    const auto& k = *held;
    set_task_label(k.label); // the timeline shows the mapped kernel
    const auto& items = args[1].as_list();
    List out;
    out.reserve(items.size());
    List one(1);
    for (const auto& item : items) {
        one[0] = item;
        out.push_back(k.fn(ctx, one));
    }
    return out;
}

// reducer(mapper(lo), mapper(lo + 1), ..., mapper(hi - 1)): one worker's chunk of a
// distributed reduction.
Value reduce_range(Context& ctx, const List& args)
{
    if (args.size() != 4)
        throw std::invalid_argument("weft.reduce_range takes reducer, mapper, lo, hi");
    const auto reducer = args[0].as_text();
    const auto held = loaded_kernel(ctx, args[1].as_text());
    const auto& mapper = *held;
    set_task_label(mapper.label);
    const auto lo = args[2].as_int(), hi = args[3].as_int();
    if (hi <= lo)
        throw std::invalid_argument("empty range");
    List one { Value(lo) };
    Value acc = mapper.fn(ctx, one);
    for (auto i = lo + 1; i < hi; ++i) {
        one[0] = Value(i);
        acc = apply_reducer(ctx, reducer, acc, mapper.fn(ctx, one));
    }
    return acc;
}

// The id of the process running it: Julia's myid().
Value myid(Context& ctx, const List&)
{
    return static_cast<std::int64_t>(ctx.myid());
}

// Its argument unchanged, or its arguments as a list (a round trip through the wire).
Value echo(Context&, const List& args)
{
    return args.size() == 1 ? args[0] : Value(args);
}

// This process's store table (what it owns, who holds it), for inspection from the master.
Value store_table(Context& ctx, const List&)
{
    return store_table_to_value(ctx.process().store_table());
}

// The names of the kernels this process has loaded (what a GUI offers to run).
Value loaded_kernels(Context& ctx, const List&)
{
    List out;
    for (auto& k : ProcessAccess::runtime(ctx.process()).kernels().list())
        out.emplace_back(k.name);
    return out;
}

WEFT_KERNEL_AS("weft.map_batch", map_batch, "pmap's worker side: kernel(item) for a batch");
WEFT_KERNEL_AS("weft.reduce_range", reduce_range, "@distributed's worker side: one chunk reduced");
WEFT_KERNEL(myid, "The id of the process running it");
WEFT_KERNEL(echo, "Its argument, unchanged");
WEFT_KERNEL(store_table, "The values this process owns and who holds them");
WEFT_KERNEL(loaded_kernels, "The names of the kernels this process has loaded");

} // namespace

std::vector<std::pair<std::int64_t, std::int64_t>> split_range(
    std::int64_t lo, std::int64_t hi, std::int64_t k)
{
    const auto n = hi - lo;
    k = std::min(k, n);
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    if (k <= 0)
        return out;
    const auto each = n / k, extra = n % k;
    for (std::int64_t c = 0; c < k; ++c) {
        const auto b = lo + c * each + std::min(c, extra);
        out.emplace_back(b, b + each + (c < extra ? 1 : 0));
    }
    return out;
}

} // namespace weft::detail

namespace weft {

Value add_values(const Value& a, const Value& b)
{
    const bool aa = a.kind() == Value::Kind::Array, ba = b.kind() == Value::Kind::Array;
    if (!aa && !ba) {
        if (a.kind() == Value::Kind::Int64 && b.kind() == Value::Kind::Int64)
            return a.as_int() + b.as_int();
        return a.as_double() + b.as_double();
    }
    const Array& arr = aa ? a.as_array() : b.as_array();
    auto out = Array::zeros(DType::Float64, arr.shape());
    auto* o = reinterpret_cast<double*>(out.mutable_data());
    auto x = arr.view<double>();
    if (aa && ba) {
        auto y = b.as_array().view<double>();
        if (y.size() != x.size())
            throw std::invalid_argument("arrays of different sizes cannot be added");
        for (std::size_t i = 0; i < x.size(); ++i)
            o[i] = x[i] + y[i];
    } else {
        const double s = aa ? b.as_double() : a.as_double();
        for (std::size_t i = 0; i < x.size(); ++i)
            o[i] = x[i] + s;
    }
    return out;
}

} // namespace weft

namespace weft::detail {

Value apply_reducer(Context& ctx, std::string_view reducer, const Value& a, const Value& b)
{
    if (reducer == "+")
        return add_values(a, b);
    const bool ints = a.kind() == Value::Kind::Int64 && b.kind() == Value::Kind::Int64;
    if (reducer == "*")
        return ints ? Value(a.as_int() * b.as_int()) : Value(a.as_double() * b.as_double());
    if (reducer == "min")
        return ints ? Value(std::min(a.as_int(), b.as_int()))
                    : Value(std::min(a.as_double(), b.as_double()));
    if (reducer == "max")
        return ints ? Value(std::max(a.as_int(), b.as_int()))
                    : Value(std::max(a.as_double(), b.as_double()));
    return loaded_kernel(ctx, reducer)->fn(ctx, List { a, b });
}

} // namespace weft::detail
