// A library that needs a function nothing defines: the dynamic loader refuses it.
#include <weft/weft.h>

extern "C" int weft_test_function_defined_nowhere(int);

namespace {
std::int64_t needs_it(std::int64_t x)
{
    return weft_test_function_defined_nowhere(static_cast<int>(x));
}
} // namespace

WEFT_KERNEL(needs_it, "Calls a function no library defines");
