#include "kernel_registry.h"

#include "weft/process.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace weft {

Pid Context::myid() const
{
    return process_.myid();
}

namespace detail {

void KernelRegistry::add(std::string name, std::string signature, KernelFn fn,
    std::vector<bool> keeps_ref, std::string description)
{
    std::unique_lock g(m_);
    auto info = std::make_unique<KernelInfo>(KernelInfo { name, std::move(signature), std::move(fn),
        std::move(keeps_ref), 0, std::move(description) });
    // Entries are never removed, so a KernelInfo* handed out stays valid; a reload replaces it.
    auto& slot = kernels_[name];
    if (slot) {
        info->label = slot->label;
        retired_.push_back(std::move(slot));
    } else {
        info->label = static_cast<std::uint32_t>(labels_.size());
        labels_.push_back(name);
    }
    slot = std::move(info);
}

const KernelInfo* KernelRegistry::find(std::string_view name) const
{
    std::shared_lock g(m_);
    auto it = kernels_.find(std::string(name));
    return it == kernels_.end() ? nullptr : it->second.get();
}

void KernelRegistry::add_defined(const KernelDef* head)
{
    for (auto* d = head; d; d = d->next)
        add(d->name, d->signature, d->fn, d->keeps_ref, d->description);
}

std::vector<KernelDescription> KernelRegistry::list() const
{
    std::shared_lock g(m_);
    std::vector<KernelDescription> out;
    out.reserve(kernels_.size());
    for (auto& [n, k] : kernels_)
        out.push_back({ k->name, k->signature, k->description });
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return out;
}

std::string KernelRegistry::label_name(std::uint32_t label) const
{
    std::shared_lock g(m_);
    return label < labels_.size() ? labels_[label] : "task";
}

void throw_arity(std::size_t want, std::size_t got)
{
    throw std::invalid_argument("takes " + std::to_string(want) + " argument"
        + (want == 1 ? "" : "s") + ", got " + std::to_string(got));
}

void throw_argument(std::size_t index, const std::exception& e)
{
    throw std::invalid_argument("argument " + std::to_string(index + 1) + ": " + e.what());
}

} // namespace detail
} // namespace weft
