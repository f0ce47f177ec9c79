#pragma once
// Channel<T>: Julia's Channel. Buffered (capacity n) or unbuffered (capacity 0: a put waits for a
// taker). Waiting tasks suspend and free their thread. Safe from any thread. Copies share the
// channel.

#include "weft/detail/sync.h"
#include "weft/errors.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>

namespace weft {

struct ChannelStats {
    std::size_t length = 0;
    std::size_t capacity = 0;
    std::size_t waiting_putters = 0;
    std::size_t waiting_takers = 0;
    bool closed = false;
};

template <class T> class Channel {
public:
    explicit Channel(std::size_t capacity = 0)
        : s_(std::make_shared<State>())
    {
        s_->capacity = capacity;
    }

    // put!: waits while the buffer is full (unbuffered: until a taker has the value).
    void put(T v)
    {
        State& s = *s_;
        std::unique_lock lk(s.m);
        if (s.capacity > 0) {
            ++s.waiting_put;
            s.putters.wait(lk, [&] { return s.closed || s.items.size() < s.capacity; });
            --s.waiting_put;
            if (s.closed)
                throw InvalidStateException("Channel is closed.");
            s.items.push_back(std::move(v));
            s.takers.notify_one();
            return;
        }
        if (s.closed)
            throw InvalidStateException("Channel is closed.");
        const std::uint64_t seq = s.put_seq++;
        s.items.push_back(std::move(v));
        s.takers.notify_one();
        ++s.waiting_put;
        s.putters.wait(lk, [&] { return s.closed || s.taken > seq; });
        --s.waiting_put;
        if (s.taken <= seq)
            throw InvalidStateException("Channel is closed.");
    }

    // Puts without waiting if there is room (buffered channels only); false if it would wait.
    // Throws on a closed channel.
    bool try_put(T& v)
    {
        State& s = *s_;
        std::lock_guard g(s.m);
        if (s.closed)
            throw InvalidStateException("Channel is closed.");
        if (s.capacity == 0 || s.items.size() >= s.capacity)
            return false;
        s.items.push_back(std::move(v));
        s.takers.notify_one();
        return true;
    }
    // Takes without waiting if a value is there (buffered channels only).
    std::optional<T> try_take()
    {
        State& s = *s_;
        std::lock_guard g(s.m);
        if (s.capacity == 0 || s.items.empty())
            return std::nullopt;
        T v = std::move(s.items.front());
        s.items.pop_front();
        ++s.taken;
        s.putters.notify_one();
        return v;
    }

    // take!: waits for a value and removes it; throws once the channel is closed and empty.
    T take()
    {
        auto v = take_or_closed();
        if (!v)
            throw InvalidStateException("Channel is closed.");
        return std::move(*v);
    }
    // The same, but nullopt instead of throwing when closed and drained.
    std::optional<T> take_or_closed()
    {
        State& s = *s_;
        std::unique_lock lk(s.m);
        if (!wait_for_item(lk))
            return std::nullopt;
        T v = std::move(s.items.front());
        s.items.pop_front();
        ++s.taken;
        if (s.capacity == 0)
            s.putters.notify_all(); // the putter of this value returns
        else
            s.putters.notify_one();
        return v;
    }
    // fetch: waits for a value and returns it without removing it. An unbuffered channel has
    // nothing to look at without taking it, so fetch on one throws, as in Julia.
    T fetch() const
    {
        State& s = *s_;
        if (s.capacity == 0)
            throw InvalidStateException("fetch is not supported on an unbuffered channel");
        std::unique_lock lk(s.m);
        if (!wait_for_item(lk))
            throw InvalidStateException("Channel is closed.");
        T v = s.items.front();
        s.takers.notify_one(); // pass the wake-up on: the value is still there
        return v;
    }
    // wait: until a value is available; throws if closed and empty.
    void wait() const { (void)fetch(); }
    [[nodiscard]] bool isready() const
    {
        std::lock_guard g(s_->m);
        return !s_->items.empty();
    }
    [[nodiscard]] bool isopen() const
    {
        std::lock_guard g(s_->m);
        return !s_->closed;
    }
    // close: putters and takers waiting on an empty channel get InvalidStateException; buffered
    // values can still be taken.
    void close()
    {
        State& s = *s_;
        std::lock_guard g(s.m);
        s.closed = true;
        if (s.capacity == 0)
            s.items.clear(); // hand-offs that never happened
        s.takers.notify_all();
        s.putters.notify_all();
    }
    [[nodiscard]] ChannelStats stats() const
    {
        std::lock_guard g(s_->m);
        return { s_->items.size(), s_->capacity, s_->waiting_put, s_->waiting_take, s_->closed };
    }
    [[nodiscard]] std::size_t capacity() const { return s_->capacity; }

    // for (auto v : ch): takes until the channel is closed and drained.
    using iterator = detail::TakeIterator<Channel, T>;
    iterator begin() { return iterator(this); }
    iterator end() { return {}; }

private:
    struct State {
        mutable std::mutex m;
        detail::Condition takers, putters;
        std::deque<T> items;
        std::size_t capacity = 0;
        bool closed = false;
        std::uint64_t put_seq = 0, taken = 0;
        std::size_t waiting_put = 0, waiting_take = 0;
    };
    // Waits (as a counted taker) until a value is there; false if closed and empty instead.
    bool wait_for_item(std::unique_lock<std::mutex>& lk) const
    {
        State& s = *s_;
        ++s.waiting_take;
        s.takers.wait(lk, [&] { return s.closed || !s.items.empty(); });
        --s.waiting_take;
        return !s.items.empty();
    }

    std::shared_ptr<State> s_;
};

} // namespace weft
