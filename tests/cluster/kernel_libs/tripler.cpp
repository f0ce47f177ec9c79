// A user's kernel library, in two versions built from this one file (TRIPLER_VERSION 1 or 2),
// both named "tripler": the second is the first rebuilt, for reload tests.
#include <cstdint>
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
WEFT_KERNEL(triple_on, "triple(x) on another process, from inside a kernel");
