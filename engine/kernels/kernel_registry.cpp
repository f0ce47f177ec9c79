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

std::vector<KernelDescription> KernelRegistry::install(std::shared_ptr<const LoadedLibrary> lib)
{
    std::vector<std::shared_ptr<KernelInfo>> infos;
    for (auto* d = lib->kernels(); d; d = d->next)
        infos.push_back(info_of(*d, lib));
    std::sort(infos.begin(), infos.end(), [](auto& a, auto& b) { return a->name < b->name; });
    for (std::size_t i = 1; i < infos.size(); ++i)
        if (infos[i]->name == infos[i - 1]->name)
            throw std::runtime_error("kernel library " + lib->label() + " defines kernel '"
                + infos[i]->name + "' twice");
    std::vector<KernelDescription> added;
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
        added.push_back(k->describe());
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

// Whether `v` converts to a parameter of type `type` (a Convert<T>::name).
bool fits(const std::string& type, const Value& v)
{
    using K = Value::Kind;
    const auto k = v.kind();
    if (type == "any")
        return true;
    if (type == "int64")
        return k == K::Int64;
    if (type == "float64")
        return k == K::Float64 || k == K::Int64;
    if (type == "bool")
        return k == K::Bool;
    if (type == "text")
        return k == K::Text;
    if (type == "bytes")
        return k == K::Bytes;
    if (type == "array")
        return k == K::Array;
    if (type == "list")
        return k == K::List;
    if (type == "map")
        return k == K::Map;
    if (type == "vector<float64>" || type == "vector<int64>")
        return k == K::Array || k == K::List;
    if (type == "ref" || type == "Future" || type == "RemoteChannel")
        return k == K::Ref;
    return true; // a type the SDK does not know by name: its conversion decides
}

} // namespace

std::string check_arguments(const KernelInfo& k, const List& args)
{
    return k.variadic ? std::string() : argument_error(k.params, args);
}

std::string argument_error(const std::vector<std::string>& params, const List& args)
{
    if (args.size() != params.size())
        return "takes " + std::to_string(params.size()) + " argument"
            + (params.size() == 1 ? "" : "s") + ", got " + std::to_string(args.size());
    for (std::size_t i = 0; i < args.size(); ++i)
        if (args[i].kind() != Value::Kind::Ref && !fits(params[i], args[i]))
            return "argument " + std::to_string(i + 1) + ": expected " + params[i] + ", got "
                + args[i].kind_name();
    return {};
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

std::string argument_error(const KernelDescription& k, const List& args)
{
    return k.variadic ? std::string() : detail::argument_error(k.params, args);
}

} // namespace weft
