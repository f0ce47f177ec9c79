#pragma once
// Where the exception being handled came from. Every throw on any thread records its raw return
// addresses (a hook on __cxa_throw: a few microseconds, no allocation, nothing symbolized). A
// kernel's error turns them into Julia-style frames ("name at file:line"), as Julia's
// CapturedException keeps catch_backtrace(). Any thread; the record is per OS thread, and nothing
// can switch a task between a throw and the catch that reads it.

#include <initializer_list>
#include <string>
#include <vector>

namespace weft::detail {

// The frames of the last throw on this thread, innermost first, numbered as Julia prints them
// ("[1] name at file:line", file and line where debug information exists). They stop at the
// first frame whose name contains one of `stop_at` (not included) and after `max_frames`; the
// plumbing between a kernel and its caller (std::function, std::invoke, weft::detail's argument
// conversion) is left out.
[[nodiscard]] std::vector<std::string> last_throw_frames(
    std::initializer_list<const char*> stop_at, std::size_t max_frames = 24);

} // namespace weft::detail
