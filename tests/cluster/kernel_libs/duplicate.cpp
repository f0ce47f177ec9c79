// A library that defines a kernel another library ("tripler") already defines.
#include <weft/weft.h>

namespace {
std::int64_t triple(std::int64_t x)
{
    return x + x + x;
}
} // namespace

WEFT_KERNEL(triple, "Three times x, again");
