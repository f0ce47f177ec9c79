#pragma once
// The demangled type of the exception being handled, for error values and logs. Call it inside a
// catch block.

#include <cstdlib>
#include <cxxabi.h>
#include <string>

namespace weft::detail {

inline std::string current_exception_type()
{
    auto* t = abi::__cxa_current_exception_type();
    if (!t)
        return "unknown exception";
    int status = 0;
    char* name = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
    std::string s = status == 0 && name ? name : t->name();
    std::free(name);
    return s;
}

} // namespace weft::detail
