// A library the dynamic loader can never unload: built with GNU unique symbols (a function-local
// static in an inline function), as a library built without weft_add_kernel_library may be.
// Three builds (STICKY_VERSION 1, 2, 3) of the library "sticky".
#include <cstdint>
#include <weft/weft.h>

inline std::int64_t& calls()
{
    static std::int64_t n = 0; // STB_GNU_UNIQUE with -fgnu-unique
    return n;
}

namespace {
std::int64_t sticky_version()
{
    ++calls();
    return STICKY_VERSION;
}
} // namespace

WEFT_KERNEL(sticky_version, "Which build of the sticky library this is");
