#pragma once
// The cluster options a UI test starts the app's engine with: the built worker, and the classroom
// kernel library loaded as the app loads it.

#include "weft/weft.h"

namespace weft::test {

inline ClusterOptions app_options()
{
    ClusterOptions o;
    o.worker_path = WEFT_WORKER_PATH;
    o.kernel_libraries = { WEFT_CLASSROOM_PATH };
    return o;
}

} // namespace weft::test
