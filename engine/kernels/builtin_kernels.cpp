#include "builtin_kernels.h"

namespace weft::detail {

void register_builtin_kernels(KernelRegistry& r)
{
    r.add_defined(g_kernel_defs); // libweft's own list (this file is part of libweft)
}

} // namespace weft::detail
