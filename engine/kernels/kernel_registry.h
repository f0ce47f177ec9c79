#pragma once
// The kernels one process has loaded, by name, with what running them needs: the function, which
// parameters take handles (so their references are not fetched first), the parameter types the
// call is checked against, and the label telemetry names their tasks by. Kernels come from the
// program itself (the engine's primitives, a driver's own WEFT_KERNELs) or from kernel libraries.
//
// A reload replaces a library's entries. A call holds its entry (and so its library) while it
// runs: old calls finish on the old code, and the old library is unloaded when the last of them
// ends. Thread-safe (a shared lock; lookups are the hot path).

#include "weft/kernel.h"

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace weft::detail {

class LoadedLibrary;

// The Value kinds a parameter type accepts, one bit per Value::Kind.
using KindMask = std::uint16_t;

struct KernelInfo {
    // First, so it is destroyed last: `fn` may be code of the library it keeps mapped.
    std::shared_ptr<const LoadedLibrary> library; // null for the program's own kernels
    std::string name;
    std::string signature; // e.g. "(int64, int64) -> int64"
    KernelFn fn;
    // keeps_ref[i]: argument i is a handle parameter, so a reference there is not fetched first.
    std::vector<bool> keeps_ref;
    std::vector<std::string> params; // type names; empty and `variadic` for a raw kernel
    std::vector<KindMask> accepts; // per parameter, worked out once: calls check against it
    std::string result;
    bool variadic = true;
    std::uint32_t label = 0; // telemetry's name for the kernel's tasks (a label_name index)
    std::string description; // one line ("" if none)
    // The pattern kernels (weft.map_batch, weft.reduce_range) run a user's kernel.
    [[nodiscard]] bool internal() const { return name.rfind("weft.", 0) == 0; }
    [[nodiscard]] KernelDescription describe() const;
};

using LibraryListing = KernelLibraryInfo;

class KernelRegistry final {
public:
    KernelRegistry();
    ~KernelRegistry();

    void add(std::string name, std::string signature, KernelFn fn, std::vector<bool> keeps_ref = {},
        std::string description = {});
    // Every kernel in a binary's WEFT_KERNEL list, as the program's own.
    void add_defined(const KernelDef* head);
    // Installs every kernel of `lib`, replacing a library of the same name (a reload: kernels the
    // new version no longer defines go too), and returns the new entries sorted by name (a
    // caller that wants descriptions makes them: a worker only digests them). Throws
    // std::runtime_error, and changes nothing, when one of its kernels is already defined by the
    // program or by another library.
    std::vector<std::shared_ptr<const KernelInfo>> install(
        std::shared_ptr<const LoadedLibrary> lib);

    // The entry a call runs; it keeps its library loaded while held.
    [[nodiscard]] std::shared_ptr<const KernelInfo> find(std::string_view name) const;
    [[nodiscard]] std::vector<KernelDescription> list() const; // sorted by name
    [[nodiscard]] std::vector<LibraryListing> libraries() const; // sorted by name
    // Names of task labels; label 0 is "task" (a task that runs no kernel of its own).
    [[nodiscard]] std::string label_name(std::uint32_t label) const;

private:
    std::uint32_t label_for(const std::string& name); // under m_
    void put(std::shared_ptr<KernelInfo> info); // under m_

    mutable std::shared_mutex m_;
    std::vector<std::string> labels_ { "task" };
    std::unordered_map<std::string, std::uint32_t> label_of_;
    std::unordered_map<std::string, std::shared_ptr<const KernelInfo>> kernels_;
    std::unordered_map<std::string, std::shared_ptr<const LoadedLibrary>> libraries_;
};

// The first argument of `args` that does not fit `k`'s parameters, as "argument N: expected T,
// got U" (what the caller is told, with the kernel's name), or "" when all fit. A reference is
// checked once fetched.
[[nodiscard]] std::string check_arguments(const KernelInfo& k, const List& args);
[[nodiscard]] KindMask accepted_kinds(const std::string& type);
[[nodiscard]] std::string argument_error(
    const std::vector<std::string>& params, const std::vector<KindMask>& accepts, const List& args);

} // namespace weft::detail
