// A library whose static initialiser calls a function nothing defines: the check, which binds
// functions as they are called, ends there.
#include <weft/weft.h>

extern "C" int weft_test_function_defined_nowhere(int);

namespace {
struct CallsIt {
    CallsIt() { weft_test_function_defined_nowhere(1); }
};
const CallsIt calls_it;

std::int64_t never(std::int64_t x)
{
    return x;
}
} // namespace

WEFT_KERNEL(never, "Never loads");
