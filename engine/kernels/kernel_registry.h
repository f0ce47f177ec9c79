#pragma once
// The kernels one process has loaded, by name, with what running them needs: the function, which
// parameters take handles (so their references are not fetched first), and the label telemetry
// names their tasks by. A reload replaces an entry; the old one stays valid for the calls still
// running it. Thread-safe (a shared lock; lookups are the hot path).

#include "weft/kernel.h"

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace weft::detail {

struct KernelInfo {
    std::string name;
    std::string signature; // e.g. "(int64, int64) -> int64"
    KernelFn fn;
    // keeps_ref[i]: argument i is a handle parameter, so a reference there is not fetched first.
    std::vector<bool> keeps_ref;
    std::uint32_t label = 0; // telemetry's name for the kernel's tasks (a label_name index)
    std::string description; // one line ("" if none)
    // The pattern kernels (weft.map_batch, weft.reduce_range) run a user's kernel.
    [[nodiscard]] bool internal() const { return name.rfind("weft.", 0) == 0; }
};

class KernelRegistry final {
public:
    void add(std::string name, std::string signature, KernelFn fn, std::vector<bool> keeps_ref = {},
        std::string description = {});
    // Every kernel in a binary's WEFT_KERNEL list.
    void add_defined(const KernelDef* head);
    [[nodiscard]] const KernelInfo* find(std::string_view name) const;
    [[nodiscard]] std::vector<KernelDescription> list() const; // sorted by name
    // Names of task labels; label 0 is "task" (a task that runs no kernel of its own).
    [[nodiscard]] std::string label_name(std::uint32_t label) const;

private:
    mutable std::shared_mutex m_;
    std::vector<std::string> labels_ { "task" };
    std::unordered_map<std::string, std::unique_ptr<KernelInfo>> kernels_;
    std::vector<std::unique_ptr<KernelInfo>> retired_; // replaced, possibly still running
};

} // namespace weft::detail
