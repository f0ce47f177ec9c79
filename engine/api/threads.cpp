#include "weft/threads.h"

#include "process_runtime.h"
#include "scheduler.h"

namespace weft {

namespace detail {

Scheduler& current_scheduler()
{
    auto* pool = current_pool();
    if (!pool)
        throw InvalidStateException(
            "this needs to run inside a Weft task (a kernel or a spawned task)");
    return pool->owner();
}

Scheduler& scheduler_of(Process& p)
{
    return p.local_scheduler();
}

void spawn_on(Scheduler& s, Pool pool, std::function<void()> fn, int thread_slot)
{
    auto& p = s.pool(pool == Pool::Interactive ? PoolKind::Interactive : PoolKind::Default);
    if (thread_slot >= 0)
        p.spawn_pinned(thread_slot, std::move(fn));
    else
        p.spawn(std::move(fn));
}

int scheduler_nthreads(Scheduler& s, Pool pool)
{
    return s.nthreads(pool == Pool::Interactive ? PoolKind::Interactive : PoolKind::Default);
}

} // namespace detail

int nthreads(Pool pool)
{
    return detail::scheduler_nthreads(detail::current_scheduler(), pool);
}
int nthreads(Process& p, Pool pool)
{
    return detail::scheduler_nthreads(p.local_scheduler(), pool);
}
int threadid()
{
    return detail::current_thread_index();
}
Pool threadpool()
{
    auto* pool = detail::current_pool();
    return pool && pool->kind() == detail::PoolKind::Interactive ? Pool::Interactive
                                                                 : Pool::Default;
}

} // namespace weft
