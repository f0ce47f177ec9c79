#pragma once
// A process's I/O thread: a KJ event loop that owns every socket's reading side. Other threads
// hand it work with `post`. It never runs user code.

#include <kj/async-unix.h>
#include <kj/async.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace weft::detail {

class EventLoop final {
public:
    EventLoop();
    ~EventLoop() noexcept; // stops the loop if still running
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Runs `fn` on the loop thread, in posting order. Safe from any thread; dropped after stop.
    void post(std::function<void()> fn);
    // Runs `fn` on the loop thread and waits for it (runs it inline when called on the loop).
    void run_sync(const std::function<void()>& fn);
    // Runs the `on_stop` hooks and then ends the loop; joins the thread.
    void stop();
    void add_stop_hook(std::function<void()> fn); // loop thread only

    [[nodiscard]] bool on_loop_thread() const;
    // Loop thread only:
    kj::UnixEventPort& port() { return *port_; }
    kj::Timer& timer() { return *timer_; }
    void add_task(kj::Promise<void> p);

private:
    void drain_posts();
    kj::Promise<void> watch_wakeups();

    int wake_fd_ = -1;
    std::mutex m_;
    std::vector<std::function<void()>> posted_;
    bool stopping_ = false;
    std::vector<std::function<void()>> stop_hooks_;
    kj::UnixEventPort* port_ = nullptr;
    kj::Timer* timer_ = nullptr;
    kj::Own<kj::PromiseFulfiller<void>> stop_fulfiller_;
    std::unique_ptr<kj::TaskSet> tasks_;
    std::unique_ptr<kj::UnixEventPort::FdObserver> wake_observer_;
    std::thread::id loop_thread_id_;
    std::thread thread_;
};

} // namespace weft::detail
