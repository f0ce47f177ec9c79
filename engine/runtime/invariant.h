#pragma once
// WEFT_INVARIANT(condition, what): in debug builds (and sanitizer builds, WEFT_CHECK_INVARIANTS), a
// broken invariant prints the condition, where it is, and `what` (a stream expression naming the
// values involved), then aborts. In release builds it costs nothing: the condition is not
// evaluated.

#include <cstdio>
#include <cstdlib>
#include <sstream>

#if !defined(NDEBUG) || defined(WEFT_CHECK_INVARIANTS)
#define WEFT_INVARIANT(cond, what)                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::ostringstream weft_invariant_what_;                                               \
            weft_invariant_what_ << what;                                                          \
            std::fprintf(stderr, "weft: invariant broken at %s:%d (%s): %s\n", __FILE__, __LINE__, \
                #cond, weft_invariant_what_.str().c_str());                                        \
            std::abort();                                                                          \
        }                                                                                          \
    } while (false)
#else
#define WEFT_INVARIANT(cond, what)                                                                 \
    do {                                                                                           \
        if (false) {                                                                               \
            (void)(cond);                                                                          \
        }                                                                                          \
    } while (false)
#endif
