// A kernel library built against another SDK version: its entry point is written by hand with
// the version a library built against Weft 0.0.1 would carry.
#include <weft/kernel_library.h>

extern "C" __attribute__((visibility("default"))) const weft::detail::KernelLibraryEntry*
weft_kernel_library_entry()
{
    static const weft::detail::KernelLibraryEntry entry { weft::detail::kernel_library_layout,
        "0.0.1", __GXX_ABI_VERSION, _GLIBCXX_USE_CXX11_ABI, "other_sdk", "1",
        [] { return static_cast<const weft::detail::KernelDef*>(nullptr); } };
    return &entry;
}
