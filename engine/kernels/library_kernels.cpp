#include "library_kernels.h"

#include "kernel_library.h"
#include "process_access.h"
#include "process_runtime.h"
#include "weft/kernel.h"
#include "weft/process.h"

#include <stdexcept>

namespace weft::detail {

InstalledLibrary install_library(KernelRegistry& registry, const std::string& path, bool preflight)
{
    auto lib = LoadedLibrary::open(path, preflight);
    InstalledLibrary l { lib->name(), lib->version(), lib->path(), {} };
    l.kernels = registry.install(std::move(lib));
    return l;
}

LibraryListing load_library(KernelRegistry& registry, const std::string& path, bool preflight)
{
    auto i = install_library(registry, path, preflight);
    LibraryListing l { std::move(i.name), std::move(i.version), std::move(i.path), {} };
    l.kernels.reserve(i.kernels.size());
    for (const auto& k : i.kernels)
        l.kernels.push_back(k->describe());
    return l;
}

namespace {

const Value& field(const Map& m, std::string_view key)
{
    for (auto& [k, v] : m)
        if (k == key)
            return v;
    throw std::invalid_argument("kernel listing lacks '" + std::string(key) + "'");
}

List texts(const std::vector<std::string>& v)
{
    List out;
    for (auto& s : v)
        out.emplace_back(s);
    return out;
}

} // namespace

Value kernel_to_value(const KernelDescription& k)
{
    return Map { { "name", k.name }, { "signature", k.signature }, { "description", k.description },
        { "params", texts(k.params) }, { "result", k.result }, { "variadic", k.variadic },
        { "library", k.library } };
}

KernelDescription kernel_from_value(const Value& v)
{
    const auto& m = v.as_map();
    KernelDescription k;
    k.name = field(m, "name").as_text();
    k.signature = field(m, "signature").as_text();
    k.description = field(m, "description").as_text();
    for (auto& p : field(m, "params").as_list())
        k.params.push_back(p.as_text());
    k.result = field(m, "result").as_text();
    k.variadic = field(m, "variadic").as_bool();
    k.library = field(m, "library").as_text();
    return k;
}

Value listing_to_value(const LibraryListing& l)
{
    List ks;
    for (auto& k : l.kernels)
        ks.push_back(kernel_to_value(k));
    return Map { { "name", l.name }, { "version", l.version }, { "path", l.path },
        { "kernels", ks } };
}

LibraryListing listing_from_value(const Value& v)
{
    const auto& m = v.as_map();
    LibraryListing l { field(m, "name").as_text(), field(m, "version").as_text(),
        field(m, "path").as_text(), {} };
    for (auto& k : field(m, "kernels").as_list())
        l.kernels.push_back(kernel_from_value(k));
    return l;
}

namespace {

// FNV-1a over every field of every kernel, each field ended by a byte no text holds.
class Digest {
public:
    void add(std::string_view s)
    {
        for (unsigned char ch : s)
            h_ = (h_ ^ ch) * 1099511628211ull;
        h_ = (h_ ^ 0xffu) * 1099511628211ull;
    }
    template <class K> void add_kernel(const K& k, std::string_view library)
    {
        add(k.name);
        add(k.signature);
        add(k.description);
        for (const auto& p : k.params)
            add(p);
        add(k.result);
        add(k.variadic ? "v" : "");
        add(library);
    }
    [[nodiscard]] std::int64_t value() const { return static_cast<std::int64_t>(h_); }

private:
    std::uint64_t h_ = 14695981039346656037ull;
};

} // namespace

std::int64_t listing_digest(const std::vector<KernelDescription>& kernels)
{
    Digest d;
    for (const auto& k : kernels)
        d.add_kernel(k, k.library);
    return d.value();
}

std::int64_t listing_digest(const std::vector<std::shared_ptr<const KernelInfo>>& kernels)
{
    Digest d;
    for (const auto& k : kernels)
        d.add_kernel(*k, k->library ? std::string_view(k->library->name()) : std::string_view());
    return d.value();
}

LoadSummary summary_from_value(const Value& v)
{
    const auto& m = v.as_map();
    return { field(m, "name").as_text(), field(m, "version").as_text(), field(m, "path").as_text(),
        field(m, "digest").as_int() };
}

namespace {

// Loads a kernel library on this process; only the master may ask. The answer is the library's
// summary (see LoadSummary). `preflight`: load it in a forked child first (a throwing
// initialiser).
Value load_kernels(Context& ctx, std::string path, bool preflight)
{
    if (ctx.caller() != 1)
        throw std::invalid_argument("only the master (process 1) may load kernel libraries; "
                                    "process "
            + std::to_string(ctx.caller()) + " asked for " + path);
    // The master has the table from its own load of the same file: a digest tells it whether
    // this one is the same.
    const auto l
        = install_library(ProcessAccess::runtime(ctx.process()).kernels(), path, preflight);
    return Map { { "name", l.name }, { "version", l.version }, { "path", l.path },
        { "digest", listing_digest(l.kernels) } };
}

// The kernel libraries this process has loaded, each with its kernels.
Value kernel_libraries(Context& ctx)
{
    List out;
    for (auto& l : ProcessAccess::runtime(ctx.process()).kernels().libraries())
        out.push_back(listing_to_value(l));
    return out;
}

// Every kernel this process has loaded, with its library and signature.
Value kernel_table(Context& ctx)
{
    List out;
    for (auto& k : ProcessAccess::runtime(ctx.process()).kernels().list())
        out.push_back(kernel_to_value(k));
    return out;
}

WEFT_KERNEL_AS("weft.load_kernels", load_kernels, "Loads a kernel library here (master only)");
WEFT_KERNEL_AS("weft.kernel_libraries", kernel_libraries, "The kernel libraries loaded here");
WEFT_KERNEL_AS("weft.kernel_table", kernel_table, "Every kernel loaded here, with its signature");

} // namespace
} // namespace weft::detail
