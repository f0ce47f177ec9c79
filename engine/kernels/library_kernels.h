#pragma once
// Kernel libraries across the cluster: the engine's primitives that load a library on the process
// they run on (weft.load_kernels) and list what it has loaded (weft.kernel_libraries), and the
// value forms their answers travel in.

#include "kernel_library.h"
#include "kernel_registry.h"
#include "weft/value.h"

#include <cstdint>
#include <string>
#include <vector>

namespace weft::detail {

// A library just loaded into a registry: its name, version and path, and the entries it added
// (sorted by name).
struct InstalledLibrary {
    std::string name, version, path;
    std::vector<std::shared_ptr<const KernelInfo>> kernels;
};

// Loads `path` into `registry` (see LoadedLibrary::open for `preflight`). Throws
// KernelLibraryError or std::runtime_error (a duplicate name), changing nothing.
InstalledLibrary install_library(KernelRegistry& registry, const std::string& path, bool preflight);
// The same, with the added kernels described.
LibraryListing load_library(KernelRegistry& registry, const std::string& path, bool preflight);

// A digest of a kernel table, every field of every kernel in the given order: two processes that
// loaded the same library (their tables sorted by name) agree on it, whether one digests its
// descriptions and the other its registry's entries.
[[nodiscard]] std::int64_t listing_digest(const std::vector<KernelDescription>& kernels);
[[nodiscard]] std::int64_t listing_digest(
    const std::vector<std::shared_ptr<const KernelInfo>>& kernels);

// What weft.load_kernels answers: the library's name, version, path and the digest of its kernel
// table, in place of the table itself, which the master has from its own load of the same file.
struct LoadSummary {
    std::string name, version, path;
    std::int64_t digest = 0;
};
LoadSummary summary_from_value(const Value& v);

Value kernel_to_value(const KernelDescription& k);
KernelDescription kernel_from_value(const Value& v);
Value listing_to_value(const LibraryListing& l);
LibraryListing listing_from_value(const Value& v);

} // namespace weft::detail
