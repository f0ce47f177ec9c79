#include "weft/future.h"

#include "future_state.h"
#include "process_access.h"
#include "process_runtime.h"
#include "weft/errors.h"

#include <map>

namespace weft {

using detail::ProcessAccess;

const Value& Future::fetch() const
{
    return ProcessAccess::state(*this).fetch();
}

void Future::wait() const
{
    ProcessAccess::state(*this).wait();
}

bool Future::isready() const
{
    return ProcessAccess::state(*this).isready();
}

void Future::finalize()
{
    if (auto* s = ProcessAccess::state_or_null(*this))
        s->finalize();
}

const Value* Future::cached() const
{
    auto* s = ProcessAccess::state_or_null(*this);
    return s ? s->cached() : nullptr;
}

RemoteRef Future::ref() const
{
    RemoteRef r = ProcessAccess::state(*this).address();
    r.hold = s_; // a reference made from the handle holds the value like the handle does
    return r;
}

std::vector<Value> fetch_all(const std::vector<Future>& futures)
{
    // Requests go out in one message per owner; the answers come back batched too. Futures
    // nearly always share one runtime, so each is looked up once per run of equal ones.
    std::vector<std::shared_ptr<detail::ProcessRuntime>> rts;
    std::vector<detail::FutureState*> states;
    rts.reserve(futures.size());
    states.reserve(futures.size());
    const detail::FutureState* prev = nullptr;
    for (const auto& f : futures) {
        auto& s = ProcessAccess::state(f);
        rts.push_back(prev && s.same_process(*prev) ? rts.back() : s.runtime());
        states.push_back(&s);
        prev = &s;
    }
    std::vector<std::shared_ptr<detail::Completion>> reqs;
    reqs.reserve(futures.size());
    std::map<detail::ProcessRuntime*, detail::FutureState::Batch> batches;
    for (std::size_t i = 0; i < futures.size(); ++i)
        reqs.push_back(states[i]->start_fetch(&batches[rts[i].get()]));
    for (auto& [rt, batch] : batches)
        batch.send(*rt);
    std::vector<Value> out;
    out.reserve(futures.size());
    std::exception_ptr first;
    for (std::size_t i = 0; i < futures.size(); ++i) {
        try {
            out.push_back(states[i]->finish_fetch(reqs[i]));
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

namespace detail {

Future ProcessAccess::future(std::shared_ptr<FutureState> s)
{
    return Future(std::move(s));
}

FutureState* ProcessAccess::state_or_null(const Future& f)
{
    return static_cast<FutureState*>(f.s_.get());
}

FutureState& ProcessAccess::state(const Future& f)
{
    if (!f.s_)
        throw InvalidStateException("empty Future");
    return *static_cast<FutureState*>(f.s_.get());
}

RemoteChannel ProcessAccess::channel(std::shared_ptr<ChannelHandle> h)
{
    return RemoteChannel(std::move(h));
}

ChannelHandle& ProcessAccess::handle(const RemoteChannel& c)
{
    if (!c.s_)
        throw InvalidStateException("empty RemoteChannel");
    return *static_cast<ChannelHandle*>(c.s_.get());
}

} // namespace detail
} // namespace weft
