// A user's kernel library: Julia's @everywhere include("mycode.jl"), in C++.
#include <weft/weft.h>

#include <cstdint>

namespace {

std::int64_t triple(std::int64_t x)
{
    return 3 * x;
}

// triple on another process, called from inside a kernel.
std::int64_t triple_via(weft::Context& ctx, std::int64_t pid, std::int64_t x)
{
    return ctx.process().remotecall_fetch("triple", static_cast<weft::Pid>(pid), x).as_int();
}

} // namespace

WEFT_KERNEL(triple, "Three times x");
WEFT_KERNEL(triple_via, "triple(x) on another process");
