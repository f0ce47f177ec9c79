#include "weft/future.h"

#include "process_runtime.h"
#include "weft/errors.h"

#include <map>

namespace weft {

namespace {
std::shared_ptr<detail::ProcessRuntime> runtime_of(const std::shared_ptr<detail::FutureState>& s)
{
    if (!s)
        throw InvalidStateException("empty Future");
    auto rt = s->rt_.lock();
    if (!rt)
        throw InvalidStateException("the process that made this Future has shut down");
    return rt;
}
} // namespace

const Value& Future::fetch() const
{
    if (!s_)
        throw InvalidStateException("empty Future");
    {
        std::lock_guard g(s_->m_);
        if (s_->cached_)
            return *s_->cached_;
    }
    return runtime_of(s_)->fetch(*s_);
}

void Future::wait() const
{
    runtime_of(s_)->wait(*s_);
}

bool Future::isready() const
{
    return runtime_of(s_)->isready(*s_);
}

void Future::finalize()
{
    if (!s_)
        return;
    if (auto rt = s_->rt_.lock())
        rt->finalize(*s_);
}

const Value* Future::cached() const
{
    if (!s_)
        return nullptr;
    std::lock_guard g(s_->m_);
    return s_->cached_ ? &*s_->cached_ : nullptr;
}

RemoteRef Future::ref() const
{
    if (!s_)
        throw InvalidStateException("empty Future");
    RemoteRef r = s_->ref_;
    r.hold = s_; // a reference made from the handle holds the value like the handle does
    return r;
}

std::vector<Value> fetch_all(const std::vector<Future>& futures)
{
    // Requests go out in one message per owner; the answers come back batched too. Futures
    // nearly always share one runtime, so each is looked up once per run of equal ones.
    std::vector<std::shared_ptr<detail::ProcessRuntime>> rts;
    rts.reserve(futures.size());
    const std::weak_ptr<detail::ProcessRuntime>* prev = nullptr;
    for (const auto& f : futures) {
        const auto* w = f.state() ? &f.state()->rt_ : nullptr;
        const bool same = w && prev && !w->owner_before(*prev) && !prev->owner_before(*w);
        rts.push_back(same ? rts.back() : runtime_of(f.state()));
        prev = w;
    }
    std::vector<std::shared_ptr<detail::Completion>> reqs;
    reqs.reserve(futures.size());
    std::map<detail::ProcessRuntime*, detail::ProcessRuntime::FetchBatch> batches;
    for (std::size_t i = 0; i < futures.size(); ++i)
        reqs.push_back(rts[i]->start_fetch(*futures[i].state(), &batches[rts[i].get()]));
    for (auto& [rt, batch] : batches)
        rt->send_fetch_batch(batch);
    std::vector<Value> out;
    out.reserve(futures.size());
    std::exception_ptr first;
    for (std::size_t i = 0; i < futures.size(); ++i) {
        try {
            out.push_back(rts[i]->finish_fetch(*futures[i].state(), reqs[i]));
        } catch (...) {
            if (!first)
                first = std::current_exception();
            out.emplace_back();
        }
    }
    if (first)
        std::rethrow_exception(first);
    return out;
}

} // namespace weft
