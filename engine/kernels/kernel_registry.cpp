#include "kernel_registry.h"

#include "kernel_library.h"
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

KernelDescription KernelInfo::describe() const
{
    return { name, signature, description, params, result, variadic,
        library ? library->name() : std::string() };
}

KernelRegistry::KernelRegistry() = default;
KernelRegistry::~KernelRegistry() = default;

std::uint32_t KernelRegistry::label_for(const std::string& name)
{
    auto [it, added] = label_of_.try_emplace(name, static_cast<std::uint32_t>(labels_.size()));
    if (added)
        labels_.push_back(name);
    return it->second;
}

void KernelRegistry::put(std::shared_ptr<KernelInfo> info)
{
    info->label = label_for(info->name);
    kernels_[info->name] = std::move(info);
}

void KernelRegistry::add(std::string name, std::string signature, KernelFn fn,
    std::vector<bool> keeps_ref, std::string description)
{
    auto info = std::make_shared<KernelInfo>();
    info->name = std::move(name);
    info->signature = std::move(signature);
    info->fn = std::move(fn);
    info->keeps_ref = std::move(keeps_ref);
    info->description = std::move(description);
    std::unique_lock g(m_);
    put(std::move(info));
}

namespace {
std::shared_ptr<KernelInfo> info_of(const KernelDef& d, std::shared_ptr<const LoadedLibrary> lib)
{
    auto info = std::make_shared<KernelInfo>();
    info->library = std::move(lib);
    info->name = d.name;
    info->signature = d.signature;
    info->fn = d.fn;
    info->keeps_ref = d.keeps_ref;
    info->params = d.params;
    for (const auto& p : d.params)
        info->accepts.push_back(accepted_kinds(p));
    info->result = d.result ? d.result : "any";
    info->variadic = d.variadic;
    info->description = d.description ? d.description : "";
    return info;
}
} // namespace

void KernelRegistry::add_defined(const KernelDef* head)
{
    std::unique_lock g(m_);
    for (auto* d = head; d; d = d->next)
        put(info_of(*d, nullptr));
}

std::vector<std::shared_ptr<const KernelInfo>> KernelRegistry::install(
    std::shared_ptr<const LoadedLibrary> lib)
{
    std::vector<std::shared_ptr<KernelInfo>> infos;
    for (auto* d = lib->kernels(); d; d = d->next)
        infos.push_back(info_of(*d, lib));
    std::sort(infos.begin(), infos.end(), [](auto& a, auto& b) { return a->name < b->name; });
    for (std::size_t i = 1; i < infos.size(); ++i)
        if (infos[i]->name == infos[i - 1]->name)
            throw std::runtime_error("kernel library " + lib->label() + " defines kernel '"
                + infos[i]->name + "' twice");
    std::vector<std::shared_ptr<const KernelInfo>> added;
    std::shared_ptr<const LoadedLibrary> old; // released after the lock
    std::vector<std::shared_ptr<const KernelInfo>> gone;
    std::unique_lock g(m_);
    for (auto& k : infos) {
        auto it = kernels_.find(k->name);
        if (it == kernels_.end())
            continue;
        const auto& owner = it->second->library;
        if (!owner)
            throw std::runtime_error("kernel '" + k->name + "' of kernel library " + lib->label()
                + " is already defined by the program itself");
        if (owner->name() != lib->name())
            throw std::runtime_error("kernel '" + k->name + "' of kernel library " + lib->label()
                + " is already defined by kernel library " + owner->label());
    }
    // A reload: the previous version's kernels go, including those the new one dropped.
    if (auto it = libraries_.find(lib->name()); it != libraries_.end()) {
        old = it->second;
        for (auto k = kernels_.begin(); k != kernels_.end();) {
            if (k->second->library == old) {
                gone.push_back(std::move(k->second));
                k = kernels_.erase(k);
            } else {
                ++k;
            }
        }
    }
    libraries_[lib->name()] = lib;
    for (auto& k : infos) {
        added.push_back(k);
        put(std::move(k));
    }
    g.unlock();
    return added;
}

std::shared_ptr<const KernelInfo> KernelRegistry::find(std::string_view name) const
{
    std::shared_lock g(m_);
    auto it = kernels_.find(std::string(name));
    return it == kernels_.end() ? nullptr : it->second;
}

std::vector<KernelDescription> KernelRegistry::list() const
{
    std::shared_lock g(m_);
    std::vector<KernelDescription> out;
    out.reserve(kernels_.size());
    for (auto& [n, k] : kernels_)
        out.push_back(k->describe());
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return out;
}

std::vector<LibraryListing> KernelRegistry::libraries() const
{
    std::shared_lock g(m_);
    std::vector<LibraryListing> out;
    for (auto& [n, lib] : libraries_)
        out.push_back({ lib->name(), lib->version(), lib->path(), {} });
    for (auto& [n, k] : kernels_)
        if (k->library)
            for (auto& l : out)
                if (l.name == k->library->name())
                    l.kernels.push_back(k->describe());
    for (auto& l : out)
        std::sort(
            l.kernels.begin(), l.kernels.end(), [](auto& a, auto& b) { return a.name < b.name; });
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return out;
}

std::string KernelRegistry::label_name(std::uint32_t label) const
{
    std::shared_lock g(m_);
    return label < labels_.size() ? labels_[label] : "task";
}

namespace {

constexpr KindMask bit(Value::Kind k)
{
    return KindMask(1u << static_cast<unsigned>(k));
}

std::string arity_message(std::size_t want, std::size_t got)
{
    return "takes " + std::to_string(want) + " argument" + (want == 1 ? "" : "s") + ", got "
        + std::to_string(got);
}

} // namespace

KindMask accepted_kinds(const std::string& type)
{
    using K = Value::Kind;
    if (type == "int64")
        return bit(K::Int64);
    if (type == "float64")
        return bit(K::Float64) | bit(K::Int64);
    if (type == "bool")
        return bit(K::Bool);
    if (type == "text")
        return bit(K::Text);
    if (type == "bytes")
        return bit(K::Bytes);
    if (type == "array")
        return bit(K::Array);
    if (type == "list")
        return bit(K::List);
    if (type == "map")
        return bit(K::Map);
    if (type == "vector<float64>" || type == "vector<int64>")
        return bit(K::Array) | bit(K::List);
    if (type == "ref" || type == "Future" || type == "RemoteChannel")
        return bit(K::Ref);
    return KindMask(~0u); // "any", or a type the SDK does not know by name: its conversion decides
}

std::string argument_error(
    const std::vector<std::string>& params, const std::vector<KindMask>& accepts, const List& args)
{
    if (args.size() != params.size())
        return arity_message(params.size(), args.size());
    for (std::size_t i = 0; i < args.size(); ++i)
        // A reference is fetched where the call runs, and checked then.
        if (args[i].kind() != Value::Kind::Ref && !(accepts[i] & bit(args[i].kind())))
            return "argument " + std::to_string(i + 1) + ": expected " + params[i] + ", got "
                + args[i].kind_name();
    return {};
}

std::string check_arguments(const KernelInfo& k, const List& args)
{
    return k.variadic ? std::string() : argument_error(k.params, k.accepts, args);
}

void throw_arity(std::size_t want, std::size_t got)
{
    throw std::invalid_argument(arity_message(want, got));
}

void throw_argument(std::size_t index, const std::exception& e)
{
    throw std::invalid_argument("argument " + std::to_string(index + 1) + ": " + e.what());
}

} // namespace detail

std::string argument_error(const KernelDescription& k, const List& args)
{
    if (k.variadic)
        return {};
    std::vector<detail::KindMask> accepts;
    for (const auto& p : k.params)
        accepts.push_back(detail::accepted_kinds(p));
    return detail::argument_error(k.params, accepts, args);
}

} // namespace weft
