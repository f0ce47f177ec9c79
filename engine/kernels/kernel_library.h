#pragma once
// One kernel library, opened: the shared object mapped into this process, its entry point checked
// (SDK version, C++ ABI) and its WEFT_KERNEL definitions ready to install in a KernelRegistry.
// Closed (dlclose) when the last KernelInfo of it goes, i.e. once no call runs its code.
//
// Each open holds the file open and maps it by that descriptor's name, so a rebuilt library loads
// as new code while the old version is still mapped for the calls running it.

#include "weft/kernel_library.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace weft::detail {

// A library that cannot be loaded here; the message says why, naming the file.
class KernelLibraryError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Loads `path` in a forked child (of the library checker's helper when it runs, see
// library_checker.h, else of this process) and reports how its static initialisers went: "" when
// they ran, else why not ("kernel library P cannot be loaded: a static initialiser threw T:
// what"). A file that cannot be opened or loaded at all passes: loading it for real gives the
// precise error.
[[nodiscard]] std::string check_library(const std::string& path);

// The same check of the library open as `fd`, in a child forked from this process; the reason
// alone ("a static initialiser threw T: what"), "" when the initialisers ran.
[[nodiscard]] std::string check_descriptor(int fd);

// The check's two halves, for a process that forks its children ahead (the checker's helper).
// In the child: loads `mapped`, writes its report on `report_fd` and ends. When the initialisers
// ran, it first sends `ran` on `ran_sock` (if one is given): the one waiting for the verdict
// hears it before the child has told its parent. Such a child then waits for its parent to kill
// it, so that its exit (which unmaps all it loaded) comes when the parent chooses.
[[noreturn]] void try_in_this_child(
    const std::string& mapped, int report_fd, int ran_sock = -1, std::string_view ran = {});
// In the parent: reads the child's report from `report_fd` (and closes it), giving up after 30 s;
// "" when the initialisers ran, else why not. A child that reported success may still be tearing
// its address space down: then `running` is its pid, for the caller to reap; else -1.
[[nodiscard]] std::string verdict_of_child(pid_t child, int report_fd, pid_t& running);

class LoadedLibrary final {
public:
    // Loads `path`. With `preflight`, the library is first loaded in a forked child, so that a
    // static initialiser that throws or crashes is reported instead of taking this process down
    // (the dynamic loader cannot unwind an exception out of dlopen: it aborts the process).
    // Throws KernelLibraryError.
    static std::shared_ptr<const LoadedLibrary> open(const std::string& path, bool preflight);
    ~LoadedLibrary();
    LoadedLibrary(const LoadedLibrary&) = delete;
    LoadedLibrary& operator=(const LoadedLibrary&) = delete;

    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] const std::string& version() const { return version_; }
    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] const KernelDef* kernels() const { return defs_; }
    // "libname.so (path)" for messages.
    [[nodiscard]] std::string label() const;

    // How many libraries this process has open now (loaded and not yet unloaded): what tests
    // watch to see an old version go.
    [[nodiscard]] static int open_count();

private:
    LoadedLibrary() = default;
    void* handle_ = nullptr;
    int fd_ = -1;
    std::string name_, version_, path_;
    const KernelDef* defs_ = nullptr;
};

} // namespace weft::detail
