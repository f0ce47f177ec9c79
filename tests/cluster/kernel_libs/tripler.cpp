// A user's kernel library, in two versions built from this one file (TRIPLER_VERSION 1 or 2),
// both named "tripler": the second is the first rebuilt, for reload tests.
#include <cstdint>
#include <memory>
#include <weft/weft.h>

namespace {

std::int64_t triple(std::int64_t x)
{
    return TRIPLER_VERSION == 1 ? 3 * x : 3 * x + 1000;
}

std::int64_t tripler_version()
{
    return TRIPLER_VERSION;
}

// Tells `started` it runs, waits for a value on `go`, then returns the version it ran: a call
// that is running while the library is reloaded.
std::int64_t gated_version(weft::RemoteChannel started, weft::RemoteChannel go)
{
    started.put(TRIPLER_VERSION);
    (void)go.take();
    return TRIPLER_VERSION;
}

// Spawns a task of this library's code that outlives the call: it waits for a value on `go`,
// then puts the version it ran on `out`. The call returns at once.
std::int64_t spawn_versioned(weft::RemoteChannel go, weft::RemoteChannel out)
{
    (void)weft::spawn_task([go, out]() mutable {
        (void)go.take();
        out.put(TRIPLER_VERSION);
    });
    return 0;
}

// An array over a buffer of this library's, which this library's deleter frees.
weft::Value owned_array(std::int64_t n)
{
    const auto count = static_cast<std::size_t>(n);
    std::shared_ptr<double[]> buf(new double[count], [](double* p) { delete[] p; });
    for (std::size_t i = 0; i < count; ++i)
        buf[i] = TRIPLER_VERSION;
    return weft::Array(weft::DType::Float64, { static_cast<std::uint64_t>(n) }, buf,
        reinterpret_cast<const std::byte*>(buf.get()), count * sizeof(double));
}

// triple on another process, called from inside this kernel.
std::int64_t triple_on(weft::Context& ctx, std::int64_t pid, std::int64_t x)
{
    return ctx.process().remotecall_fetch("triple", static_cast<weft::Pid>(pid), x).as_int();
}

// Asks another process to load a kernel library, which only the master may do.
weft::Value ask_to_load(weft::Context& ctx, std::int64_t pid, std::string path)
{
    return ctx.process().remotecall_fetch(
        "weft.load_kernels", static_cast<weft::Pid>(pid), std::move(path), false);
}

} // namespace

WEFT_KERNEL(ask_to_load, "Asks another process to load a kernel library");
WEFT_KERNEL(triple, "Three times x");
WEFT_KERNEL(tripler_version, "Which build of the library this is");
WEFT_KERNEL(gated_version, "Waits on a channel, then returns the library's version");
WEFT_KERNEL(spawn_versioned, "A task that outlives the call, running this library's code");
WEFT_KERNEL(owned_array, "n copies of the version, in a buffer this library frees");
WEFT_KERNEL(triple_on, "triple(x) on another process, from inside a kernel");
