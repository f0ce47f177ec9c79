// A library whose static initialiser crashes the process that loads it. Before it does, it
// records which process tried (the parent's pid, one line, in $WEFT_TEST_INIT_PARENTS), so a test
// can tell where the check ran.
#include <cstdlib>
#include <fstream>
#include <unistd.h>
#include <weft/weft.h>

namespace {
struct Crash {
    Crash()
    {
        if (const char* f = std::getenv("WEFT_TEST_INIT_PARENTS"))
            std::ofstream(f, std::ios::app) << ::getppid() << std::endl;
        std::abort();
    }
};
const Crash crash;

std::int64_t never(std::int64_t x)
{
    return x;
}
} // namespace

WEFT_KERNEL(never, "Never loads");
