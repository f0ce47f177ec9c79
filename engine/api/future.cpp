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
        rt->release(*s_);
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
    return s_->ref_;
}

std::vector<Value> fetch_all(const std::vector<Future>& futures)
{
    // Requests go out in one message per owner; the answers come back batched too.
    std::vector<std::shared_ptr<detail::Completion>> reqs;
    reqs.reserve(futures.size());
    std::map<detail::ProcessRuntime*, detail::ProcessRuntime::FetchBatch> batches;
    std::vector<std::shared_ptr<detail::ProcessRuntime>> keep;
    for (const auto& f : futures) {
        auto rt = runtime_of(f.state());
        auto [it, fresh] = batches.try_emplace(rt.get());
        if (fresh)
            keep.push_back(rt);
        reqs.push_back(rt->start_fetch(*f.state(), &it->second));
    }
    for (auto& [rt, batch] : batches)
        rt->send_fetch_batch(batch);
    std::vector<Value> out;
    out.reserve(futures.size());
    std::exception_ptr first;
    for (std::size_t i = 0; i < futures.size(); ++i) {
        try {
            out.push_back(
                runtime_of(futures[i].state())->finish_fetch(*futures[i].state(), reqs[i]));
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
