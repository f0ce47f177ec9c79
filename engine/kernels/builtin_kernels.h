#pragma once
// The kernels linked into this binary: the engine's primitives and pattern kernels
// (api/pattern_kernels.cpp) and the classroom set (the reference documents' examples).

#include "kernel_registry.h"

namespace weft::detail {

// Adds every kernel this binary defines with WEFT_KERNEL to `r`. Calling it also keeps the
// classroom kernels in the link (their registrations are static initialisers).
void register_builtin_kernels(KernelRegistry& r);

} // namespace weft::detail
