#pragma once

#include "weft/kernel.h"

namespace weft {

// Adds the built-in kernel library (myid, echo, add, rand, count_heads, svdvals, ...) to `r`.
void register_builtin_kernels(KernelRegistry& r);

} // namespace weft
