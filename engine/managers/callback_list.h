#pragma once
// Callbacks a Cluster's user registered for one kind of event: added and removed by id from any
// thread, run on whichever thread reports the event. A throwing callback is caught and reported
// through `on_error`; the others still run and the event carries on.

#include "exception_name.h"
#include "weft/cluster.h"

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace weft::detail {

// Ids are unique across every list of one cluster.
class CallbackIds final {
public:
    CallbackId next()
    {
        std::lock_guard g(m_);
        return CallbackId { ++last_ };
    }

private:
    std::mutex m_;
    std::uint64_t last_ = 0;
};

template <class... A> class CallbackList final {
public:
    using Fn = std::function<void(A...)>;

    void add(CallbackId id, Fn fn)
    {
        std::lock_guard g(m_);
        fns_.emplace_back(id, std::make_shared<const Fn>(std::move(fn)));
    }
    bool remove(CallbackId id)
    {
        std::lock_guard g(m_);
        const auto before = fns_.size();
        std::erase_if(fns_, [id](const auto& e) { return e.first == id; });
        return fns_.size() != before;
    }
    [[nodiscard]] bool empty() const
    {
        std::lock_guard g(m_);
        return fns_.empty();
    }
    // Runs every callback (a copy of the list: one may remove itself, or add another).
    template <class... B>
    void call(const char* event, const std::function<void(const std::string&)>& on_error,
        B&&... args) const
    {
        std::vector<std::shared_ptr<const Fn>> now;
        {
            std::lock_guard g(m_);
            now.reserve(fns_.size());
            for (const auto& e : fns_)
                now.push_back(e.second);
        }
        for (const auto& fn : now) {
            try {
                (*fn)(args...);
            } catch (const std::exception& e) {
                report(on_error, event, e.what());
            } catch (...) {
                report(on_error, event, "an exception of type " + current_exception_type());
            }
        }
    }

private:
    static void report(const std::function<void(const std::string&)>& on_error, const char* event,
        const std::string& what)
    {
        if (on_error)
            on_error(std::string("an ") + event + " callback threw (ignored): " + what);
    }

    mutable std::mutex m_;
    std::vector<std::pair<CallbackId, std::shared_ptr<const Fn>>> fns_;
};

struct ClusterCallbacks {
    CallbackIds ids;
    CallbackList<const WorkerInfo&> added;
    CallbackList<Pid> exiting;
    CallbackList<Pid, const std::string&> exited;
    CallbackList<Pid, const std::string&> output;
    CallbackList<const std::string&> log;
    // The engine's own: every change of a worker's membership (the telemetry record follows it).
    CallbackList<const WorkerInfo&> membership;
};

} // namespace weft::detail
