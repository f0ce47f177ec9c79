#include "throw_trace.h"

#define BOOST_STACKTRACE_LINK // symbolized by libboost_stacktrace_backtrace (libbacktrace)
#include <boost/stacktrace.hpp>

#include <dlfcn.h>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace {

struct ThrowRecord {
    void* frames[64];
    std::size_t n = 0;
};
thread_local ThrowRecord last_throw;

using CxaThrow = void (*)(void*, void*, void (*)(void*));
CxaThrow real_cxa_throw()
{
    static const auto real = reinterpret_cast<CxaThrow>(dlsym(RTLD_NEXT, "__cxa_throw"));
    return real;
}

bool plumbing(std::string_view name)
{
    for (std::string_view p : { "std::_Function_handler", "std::__invoke", "std::function<",
             "std::_Function_base", "__cxa_throw", "weft::detail::" })
        if (name.rfind(p, 0) == 0)
            return true;
    return false;
}

// "name at file:line" for one return address, cached: symbolizing reads debug information.
std::string describe(void* addr)
{
    static std::mutex m;
    static std::unordered_map<void*, std::string> cache;
    {
        std::lock_guard g(m);
        if (auto it = cache.find(addr); it != cache.end())
            return it->second;
    }
    const boost::stacktrace::frame f(addr);
    std::string name = f.name();
    for (std::string_view verbose : { "std::__cxx11::basic_string<char, std::char_traits<char>, "
                                      "std::allocator<char> >",
             "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char>>" })
        for (auto at = name.find(verbose); at != std::string::npos; at = name.find(verbose, at))
            name.replace(at, verbose.size(), "std::string");
    if (name.empty())
        name = "??";
    if (name.size() > 160)
        name = name.substr(0, 157) + "...";
    std::string s = name;
    const std::string file = f.source_file();
    if (!file.empty())
        s += " at " + file + ":" + std::to_string(f.source_line());
    std::lock_guard g(m);
    return cache.emplace(addr, std::move(s)).first->second;
}

} // namespace

// Interposes the C++ runtime's throw: records the stack, then throws as before. The real one is
// the next definition in the lookup order (libstdc++, or a sanitizer's interceptor before it).
extern "C" [[noreturn]] void __cxa_throw(void* ex, void* type, void (*destroy)(void*))
{
    last_throw.n = boost::stacktrace::safe_dump_to(1, last_throw.frames, sizeof last_throw.frames);
    real_cxa_throw()(ex, type, destroy);
    __builtin_unreachable();
}

namespace weft::detail {

std::vector<std::string> last_throw_frames(
    std::initializer_list<const char*> stop_at, std::size_t max_frames)
{
    std::vector<std::string> out;
    const ThrowRecord rec = last_throw; // symbolizing may throw and catch inside libbacktrace
    for (std::size_t i = 0; i < rec.n && out.size() < max_frames; ++i) {
        const std::string s = describe(rec.frames[i]);
        for (const char* stop : stop_at)
            if (s.find(stop) != std::string::npos)
                return out;
        if (!plumbing(s))
            out.push_back("[" + std::to_string(out.size() + 1) + "] " + s);
    }
    return out;
}

} // namespace weft::detail
