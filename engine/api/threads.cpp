#include "weft/threads.h"

#include "process_access.h"
#include "process_runtime.h"
#include "scheduler.h"

namespace weft {

namespace detail {
namespace {
// The scheduler of process `p`, or of the process whose task is running.
Scheduler& scheduler_of(Process* p)
{
    if (p)
        return ProcessAccess::runtime(*p).scheduler();
    auto* pool = current_pool();
    if (!pool)
        throw InvalidStateException(
            "this needs to run inside a Weft task (a kernel or a spawned task)");
    return pool->owner();
}
} // namespace

void spawn_on(Process* p, Pool pool, std::function<void()> fn, int thread_slot)
{
    auto& ps = scheduler_of(p).pool(pool);
    if (thread_slot >= 0)
        ps.spawn_pinned(thread_slot, std::move(fn));
    else
        ps.spawn(std::move(fn));
}

int pool_threads(Process* p, Pool pool)
{
    return scheduler_of(p).nthreads(pool);
}

} // namespace detail

int nthreads(Pool pool)
{
    return detail::pool_threads(nullptr, pool);
}
int nthreads(Process& p, Pool pool)
{
    return detail::pool_threads(&p, pool);
}
int threadid()
{
    return detail::current_thread_index();
}
Pool threadpool()
{
    auto* pool = detail::current_pool();
    return pool && pool->kind() == Pool::Interactive ? Pool::Interactive : Pool::Default;
}

} // namespace weft
