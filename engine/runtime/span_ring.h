#pragma once
// Per-thread buffer of task spans for telemetry: the pool thread writes, the sampler reads, and
// neither takes a lock. A full buffer drops the span and counts it.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace weft::detail {

inline std::int64_t steady_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct RawSpan {
    std::int64_t start_ns = 0; // steady clock
    std::int64_t end_ns = 0;
    std::uint32_t label = 0;
    std::uint16_t thread = 0;
    std::uint8_t pool = 0;
    std::uint8_t finished = 0;
};

class SpanRing final {
public:
    static constexpr std::uint64_t kCapacity = 8192;

    // Writer thread only.
    void push(const RawSpan& s)
    {
        const auto h = head_.load(std::memory_order_relaxed);
        if (h - tail_.load(std::memory_order_acquire) >= kCapacity) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        buf_[h % kCapacity] = s;
        head_.store(h + 1, std::memory_order_release);
    }
    // Reader thread only.
    template <class F> void drain(F&& f)
    {
        auto t = tail_.load(std::memory_order_relaxed);
        const auto h = head_.load(std::memory_order_acquire);
        for (; t < h; ++t)
            f(buf_[t % kCapacity]);
        tail_.store(h, std::memory_order_release);
    }
    [[nodiscard]] std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

private:
    std::array<RawSpan, kCapacity> buf_ {};
    alignas(64) std::atomic<std::uint64_t> head_ { 0 };
    alignas(64) std::atomic<std::uint64_t> tail_ { 0 };
    std::atomic<std::uint64_t> dropped_ { 0 };
};

} // namespace weft::detail
