#pragma once
// Spinning before sleeping: how an idle pool thread, or a thread about to wait, looks for work
// that is about to come without a futex wake-up (see scheduler.cpp).

#include <chrono>
#include <sched.h>

namespace weft::detail {

inline void cpu_relax()
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Spins briefly, then yields its core (on a small machine the thread that will wake us may be
// waiting for that core), until `pred` holds or `window` has passed; returns pred() then.
// `poll` does useful work while spinning and says whether it did any; when it did, the window
// starts afresh. The window is checked on every round: a worker's `poll` is a read() of its
// master connection, and when only the yields looked at the clock, the 64 rounds before the
// first yield cost about 100 us of CPU, three times the window, taken from the processes that
// had work whenever the cores were all busy. `Clock` is for tests.
template <class Clock = std::chrono::steady_clock, class Pred, class Poll>
bool spin_until(std::chrono::microseconds window, Pred pred, Poll poll)
{
    if (window.count() <= 0)
        return pred();
    auto deadline = Clock::now() + window;
    for (unsigned i = 1;; ++i) {
        if (pred())
            return true;
        if (poll()) {
            i = 0;
            deadline = Clock::now() + window;
            continue;
        }
        if (Clock::now() >= deadline)
            return pred();
        if (i < 64)
            cpu_relax();
        else
            sched_yield();
    }
}

} // namespace weft::detail
