#pragma once
// The engine's own kernels, which every process has: the primitives (myid, echo, store_table), the
// pattern kernels (api/pattern_kernels.cpp) and the kernel-library primitives
// (kernels/library_kernels.cpp). Everything else comes from kernel libraries.

#include "kernel_registry.h"

namespace weft::detail {

// Adds every kernel libweft defines with WEFT_KERNEL to `r`.
void register_builtin_kernels(KernelRegistry& r);

} // namespace weft::detail
