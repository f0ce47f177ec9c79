#include "call_table.h"

#include "invariant.h"

namespace weft::detail {

void CallTable::add(std::uint64_t id, Pid target, std::shared_ptr<Completion> done)
{
    std::lock_guard g(m_);
    const bool fresh = pending_.emplace(id, Pending { std::move(done), target }).second;
    WEFT_INVARIANT(fresh, "call id " << id << " to process " << target << " is already waiting");
}

void CallTable::add_range(
    std::uint64_t first, Pid target, std::span<const std::shared_ptr<Completion>> done)
{
    std::lock_guard g(m_);
    pending_.reserve(pending_.size() + done.size());
    for (std::size_t i = 0; i < done.size(); ++i) {
        const bool fresh = pending_.emplace(first + i, Pending { done[i], target }).second;
        WEFT_INVARIANT(
            fresh, "call id " << first + i << " to process " << target << " is already waiting");
    }
}

bool CallTable::remove(std::uint64_t id)
{
    std::lock_guard g(m_);
    return pending_.erase(id) > 0;
}

bool CallTable::complete(std::uint64_t id, Value v)
{
    std::shared_ptr<Completion> done;
    {
        std::lock_guard g(m_);
        auto it = pending_.find(id);
        if (it == pending_.end())
            return false;
        done = std::move(it->second.done);
        pending_.erase(it);
    }
    done->set(std::move(v));
    return true;
}

std::vector<std::shared_ptr<Completion>> CallTable::take(std::span<const std::uint64_t> ids)
{
    std::vector<std::shared_ptr<Completion>> out(ids.size());
    std::lock_guard g(m_);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto it = pending_.find(ids[i]);
        if (it == pending_.end())
            continue;
        out[i] = std::move(it->second.done);
        pending_.erase(it);
    }
    return out;
}

void CallTable::fail_to(Pid target, const ErrorValue& e)
{
    std::vector<std::shared_ptr<Completion>> failed;
    {
        std::lock_guard g(m_);
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (it->second.target == target) {
                failed.push_back(std::move(it->second.done));
                it = pending_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& d : failed)
        d->set(e);
}

void CallTable::fail_all(const ErrorValue& e)
{
    std::unordered_map<std::uint64_t, Pending> all;
    {
        std::lock_guard g(m_);
        all.swap(pending_);
    }
    for (auto& [id, p] : all)
        p.done->set(e);
}

std::size_t CallTable::size() const
{
    std::lock_guard g(m_);
    return pending_.size();
}

} // namespace weft::detail
