#pragma once
// A kernel library: a shared object whose WEFT_KERNEL definitions any process of a cluster can
// load at run time (Cluster::load_kernels, or ClusterOptions::kernel_libraries).
//
// Build one with the SDK's CMake function, which adds the entry point below for you:
//
//     find_package(Weft REQUIRED)
//     weft_add_kernel_library(mykernels VERSION 1.2 SOURCES mykernels.cpp)
//
// or by hand: compile with -fPIC -shared -fvisibility=hidden -fvisibility-inlines-hidden (only
// the entry point is exported, so a load binds the library's own functions without looking them
// up), link libweft, and write in exactly one source file
//
//     #include <weft/kernel_library.h>
//     WEFT_KERNEL_LIBRARY("mykernels", "1.2");
//
// The entry point is the library's only exported contract with the loader: plain C data first
// (versions, ABI), so a library built against another SDK is refused before any C++ type crosses.

#include "weft/kernel.h"
#include "weft/version.h"

#include <cstdint>

namespace weft::detail {

struct KernelLibraryEntry {
    std::uint32_t layout; // of this struct: 1
    const char* sdk_version; // WEFT_VERSION_STRING the library was compiled with
    std::uint32_t cxx_abi; // __GXX_ABI_VERSION
    std::uint32_t cxx11_strings; // _GLIBCXX_USE_CXX11_ABI (std::string's layout)
    const char* name; // the library's name (a reload replaces the library of the same name)
    const char* version; // the library's own version ("" if none)
    const KernelDef* (*kernels)(); // the WEFT_KERNEL definitions of this library
};

inline constexpr std::uint32_t kernel_library_layout = 1;
inline constexpr const char* kernel_library_symbol = "weft_kernel_library_entry";

} // namespace weft::detail

#define WEFT_KERNEL_LIBRARY(name, version)                                                         \
    extern "C" __attribute__((visibility("default"))) const ::weft::detail::KernelLibraryEntry*    \
    weft_kernel_library_entry()                                                                    \
    {                                                                                              \
        static const ::weft::detail::KernelLibraryEntry entry {                                    \
            ::weft::detail::kernel_library_layout, WEFT_VERSION_STRING, __GXX_ABI_VERSION,         \
            _GLIBCXX_USE_CXX11_ABI, name, version,                                                 \
            [] {                                                                                   \
                return static_cast<const ::weft::detail::KernelDef*>(                              \
                    ::weft::detail::g_kernel_defs);                                                \
            }                                                                                      \
        };                                                                                         \
        return &entry;                                                                             \
    }                                                                                              \
    static_assert(true, "")
