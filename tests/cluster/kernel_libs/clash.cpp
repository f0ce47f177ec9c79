// A library whose one kernel the kernel-library suite's own program also defines: the master
// refuses it, its workers (which run weft-worker, without the program's kernels) load it.
#include <weft/weft.h>

namespace {
std::int64_t clash_answer()
{
    return 42;
}
} // namespace

WEFT_KERNEL(clash_answer, "The library's answer");
