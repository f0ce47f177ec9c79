#include "kernel_library.h"

#include "exception_name.h"
#include "library_checker.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dlfcn.h>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace weft {

const char* runtime_version()
{
    return WEFT_VERSION_STRING;
}

namespace detail {

namespace {

std::atomic<int> g_open { 0 };

// dlopen through a pointer whose type allows exceptions: glibc declares dlopen noexcept, so a
// try around a direct call is dropped by the compiler, and an initialiser's exception would pass
// it (or end in std::terminate) instead of being caught.
using Dlopen = void* (*)(const char*, int);
void* dlopen_may_throw(const char* path, int flags)
{
    static volatile Dlopen f = &::dlopen;
    return f(path, flags);
}

std::string fd_path(int fd)
{
    return "/proc/self/fd/" + std::to_string(fd);
}

// The loader's message, with the descriptor's name replaced by the file the user gave.
std::string loader_error(const std::string& mapped, const std::string& path)
{
    const char* e = ::dlerror();
    std::string m = e ? e : "unknown dynamic loader error";
    for (auto at = m.find(mapped); at != std::string::npos; at = m.find(mapped, at + path.size()))
        m.replace(at, mapped.size(), path);
    return m;
}

// The file, held open for as long as the library is loaded. The loader maps it by its
// /proc/self/fd name: that name is unique while the descriptor is held, so a rebuilt library
// (the linker writes a new file) loads as new code beside the old version, and symbolizing a
// kernel's frames still finds the file the code came from after a rebuild replaced it.
int open_library_file(const std::string& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw KernelLibraryError(
            "cannot open kernel library " + path + ": " + std::strerror(errno));
    struct stat st { };
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw KernelLibraryError("kernel library " + path + " is not a regular file");
    }
    return fd;
}

// The preflight child's report of the exception being handled, and its end.
int g_report_fd = -1;
[[noreturn]] void report_exception()
{
    std::string m = "a static initialiser threw ";
    try {
        if (auto e = std::current_exception())
            std::rethrow_exception(e);
        m = "a static initialiser called std::terminate";
    } catch (const std::exception& e) {
        m += current_exception_type() + ": " + e.what();
    } catch (...) {
        m += current_exception_type();
    }
    [[maybe_unused]] auto n = ::write(g_report_fd, m.data(), m.size());
    ::_exit(3);
}

// The child's first byte: its initialisers ran (the rest of a report is an error's text).
constexpr char kInitialisersRan = '\x06';
// How the dynamic loader ends a process whose call it cannot bind to a function.
constexpr int kUnboundSymbol = 127;

// Collects a checked child: its verdict is in before it has torn its address space down, which
// costs as much again as the check, so that wait happens on a thread of its own.
void reap_later(pid_t child)
{
    std::thread([child] {
        int st = 0;
        while (::waitpid(child, &st, 0) < 0 && errno == EINTR) { }
    }).detach();
}

// Loads the library (by its descriptor's name) in a forked child and reports how its
// initialisers went: "" when they ran.
std::string preflight(const std::string& mapped)
{
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0)
        throw KernelLibraryError(
            std::string("cannot check kernel library: ") + std::strerror(errno));
    const pid_t child = ::fork();
    if (child < 0) {
        ::close(p[0]);
        ::close(p[1]);
        throw KernelLibraryError(
            std::string("cannot check kernel library: ") + std::strerror(errno));
    }
    if (child == 0) {
        ::close(p[0]);
        try_in_this_child(mapped, p[1]);
    }
    ::close(p[1]);
    pid_t running = -1;
    auto why = verdict_of_child(child, p[0], running);
    if (running > 0)
        reap_later(running);
    return why;
}

} // namespace

[[noreturn]] void try_in_this_child(
    const std::string& mapped, int report_fd, int ran_sock, std::string_view ran)
{
    // The child never returns into the caller's code. Depending on the unwind information on
    // the way, an exception from an initialiser either comes out of dlopen or ends in
    // std::terminate: both are reported.
    g_report_fd = report_fd;
    // A crash ends the child plainly: a handler the process installed (a test framework's, an
    // application's crash reporter) must not run in it.
    for (int sig : { SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS })
        std::signal(sig, SIG_DFL);
    std::set_terminate(report_exception);
    try {
        // A failure to load is the parent's to report (with the loader's message). The
        // initialisers are what is checked: functions are bound as they are called, which
        // spares the child binding every other one (an initialiser that calls a function that
        // is defined nowhere ends the child, with the status kUnboundSymbol).
        dlopen_may_throw(mapped.c_str(), RTLD_LAZY | RTLD_LOCAL);
    } catch (...) {
        report_exception();
    }
    if (ran_sock >= 0) {
        [[maybe_unused]] auto sent = ::send(ran_sock, ran.data(), ran.size(), MSG_NOSIGNAL);
    }
    [[maybe_unused]] auto n = ::write(report_fd, &kInitialisersRan, 1);
    if (ran_sock >= 0)
        for (;;)
            ::pause(); // until the parent kills it (see the header)
    ::_exit(0);
}

std::string verdict_of_child(pid_t child, int report_fd, pid_t& running)
{
    running = -1;
    std::string report;
    char buf[512];
    pollfd pfd { report_fd, POLLIN, 0 };
    bool timed_out = false;
    for (;;) {
        const int r = ::poll(&pfd, 1, 30'000);
        if (r == 0) {
            timed_out = true;
            ::kill(child, SIGKILL);
            break;
        }
        if (r < 0 && errno == EINTR)
            continue;
        const auto n = ::read(report_fd, buf, sizeof buf);
        if (n > 0) {
            report.append(buf, static_cast<std::size_t>(n));
            if (report.front() == kInitialisersRan)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    ::close(report_fd);
    if (!report.empty() && report.front() == kInitialisersRan) {
        int status = 0;
        if (::waitpid(child, &status, WNOHANG) != child)
            running = child;
        return {};
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) { }
    if (timed_out)
        return "its static initialisers did not finish within 30 s";
    if (!report.empty())
        return report;
    if (WIFSIGNALED(status))
        return std::string("a static initialiser crashed (") + ::strsignal(WTERMSIG(status)) + ")";
    if (WIFEXITED(status) && WEXITSTATUS(status) == kUnboundSymbol)
        return "a static initialiser ended the process (exit status 127: the dynamic loader's, "
               "for a function it could not find)";
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return "a static initialiser ended the process (exit status "
            + std::to_string(WEXITSTATUS(status)) + ")";
    return "its check ended without a report";
}

std::string check_descriptor(int fd)
{
    return preflight(fd_path(fd));
}

std::string check_library(const std::string& path)
{
    std::error_code ec;
    const auto abs = std::filesystem::absolute(path, ec);
    const std::string where = ec ? path : abs.lexically_normal().string();
    const int fd = ::open(where.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    std::string why;
    try {
        auto verdict = check_in_helper(fd);
        why = verdict ? std::move(*verdict) : check_descriptor(fd);
    } catch (const std::exception& e) {
        why = e.what();
    }
    ::close(fd);
    return why.empty() ? why : "kernel library " + where + " cannot be loaded: " + why;
}

std::shared_ptr<const LoadedLibrary> LoadedLibrary::open(
    const std::string& path, bool preflight_first)
{
    std::error_code ec;
    const auto abs = std::filesystem::absolute(path, ec);
    const std::string where = ec ? path : abs.lexically_normal().string();
    const int fd = open_library_file(where);
    const std::string mapped = fd_path(fd);
    auto fail = [&](const std::string& m) {
        ::close(fd);
        throw KernelLibraryError(m);
    };
    if (preflight_first) {
        if (auto why = preflight(mapped); !why.empty())
            fail("kernel library " + where + " cannot be loaded: " + why);
    }
    void* h = nullptr;
    try {
        h = dlopen_may_throw(mapped.c_str(), RTLD_NOW | RTLD_LOCAL);
    } catch (const std::exception& e) {
        // Not checked first (a worker trusting its master's check of another copy): the process
        // lives, but its dynamic loader may be left locked.
        fail("kernel library " + where + " cannot be loaded: a static initialiser threw "
            + current_exception_type() + ": " + e.what());
    }
    if (!h)
        fail(loader_error(mapped, where));
    using Entry = const KernelLibraryEntry* (*)();
    auto entry_fn = reinterpret_cast<Entry>(::dlsym(h, kernel_library_symbol));
    if (!entry_fn) {
        ::dlclose(h);
        fail(where + " is not a Weft kernel library: it has no " + kernel_library_symbol
            + " (build it with weft_add_kernel_library, or put WEFT_KERNEL_LIBRARY in one of its "
              "sources)");
    }
    const auto* e = entry_fn();
    std::string mismatch;
    if (!e || e->layout != kernel_library_layout)
        mismatch = "its entry point has layout " + std::to_string(e ? e->layout : 0)
            + ", this process reads layout " + std::to_string(kernel_library_layout);
    else if (std::strcmp(e->sdk_version, runtime_version()) != 0)
        mismatch = std::string("it was built against Weft SDK ") + e->sdk_version
            + ", this process runs Weft " + runtime_version();
    else if (e->cxx_abi != __GXX_ABI_VERSION || e->cxx11_strings != _GLIBCXX_USE_CXX11_ABI)
        mismatch = "it was built with C++ ABI " + std::to_string(e->cxx_abi) + " (cxx11 strings "
            + std::to_string(e->cxx11_strings) + "), this process uses "
            + std::to_string(__GXX_ABI_VERSION) + " (cxx11 strings "
            + std::to_string(_GLIBCXX_USE_CXX11_ABI) + ")";
    if (!mismatch.empty()) {
        ::dlclose(h);
        fail("ABI mismatch: kernel library " + where + " cannot be loaded: " + mismatch);
    }
    std::shared_ptr<LoadedLibrary> lib(new LoadedLibrary);
    lib->handle_ = h;
    lib->fd_ = fd;
    lib->name_ = e->name ? e->name : "";
    lib->version_ = e->version ? e->version : "";
    lib->path_ = where;
    lib->defs_ = e->kernels();
    if (lib->name_.empty())
        lib->name_ = std::filesystem::path(where).stem().string();
    g_open.fetch_add(1);
    return lib;
}

LoadedLibrary::~LoadedLibrary()
{
    bool still_mapped = false;
    if (handle_) {
        ::dlclose(handle_);
        // The loader finds a loaded object by name before anything else. If this one stays
        // loaded (a library built with GNU unique symbols is never unloaded, and one reloaded
        // from the same unchanged file is shared), its name /proc/self/fd/N must never name
        // another library: the descriptor stays open, so N is not reused.
        if (void* h = ::dlopen(fd_path(fd_).c_str(), RTLD_NOLOAD | RTLD_LAZY)) {
            ::dlclose(h);
            still_mapped = true;
        }
    }
    if (fd_ >= 0 && !still_mapped)
        ::close(fd_);
    g_open.fetch_sub(1);
}

std::string LoadedLibrary::label() const
{
    return "'" + name_ + "' (" + path_ + ")";
}

int LoadedLibrary::open_count()
{
    return g_open.load();
}

} // namespace detail
} // namespace weft
