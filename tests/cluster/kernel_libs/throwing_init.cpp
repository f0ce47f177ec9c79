// A library whose static initialiser throws, as one that looks for a licence server at load.
#include <stdexcept>
#include <weft/weft.h>

namespace {
struct LicenceCheck {
    LicenceCheck() { throw std::runtime_error("no licence server at licence.example:27000"); }
};
const LicenceCheck check;

std::int64_t never(std::int64_t x)
{
    return x;
}
} // namespace

WEFT_KERNEL(never, "Never loads");
