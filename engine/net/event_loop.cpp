#include "event_loop.h"

#include <kj/async-io.h>
#include <kj/debug.h>

#include <cstdio>
#include <future>
#include <sys/eventfd.h>
#include <unistd.h>

namespace weft::detail {

namespace {
class LogTaskErrors final : public kj::TaskSet::ErrorHandler {
public:
    void taskFailed(kj::Exception&& e) override
    {
        std::fprintf(stderr, "weft: I/O task failed: %s\n", e.getDescription().cStr());
    }
};
LogTaskErrors g_log_task_errors;
} // namespace

EventLoop::EventLoop()
{
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    KJ_SYSCALL(wake_fd_);
    std::promise<void> started;
    auto started_f = started.get_future();
    thread_ = std::thread([this, &started] {
        loop_thread_id_ = std::this_thread::get_id();
        auto io = kj::setupAsyncIo();
        port_ = &io.unixEventPort;
        timer_ = &io.provider->getTimer();
        tasks_ = std::make_unique<kj::TaskSet>(g_log_task_errors);
        wake_observer_ = std::make_unique<kj::UnixEventPort::FdObserver>(
            *port_, wake_fd_, kj::UnixEventPort::FdObserver::OBSERVE_READ);
        auto paf = kj::newPromiseAndFulfiller<void>();
        stop_fulfiller_ = kj::mv(paf.fulfiller);
        tasks_->add(watch_wakeups());
        started.set_value();
        paf.promise.wait(io.waitScope);
        tasks_.reset();
        wake_observer_.reset();
        port_ = nullptr;
        timer_ = nullptr;
    });
    started_f.wait();
}

EventLoop::~EventLoop() noexcept
{
    stop();
    ::close(wake_fd_);
}

bool EventLoop::on_loop_thread() const
{
    return std::this_thread::get_id() == loop_thread_id_;
}

void EventLoop::post(std::function<void()> fn)
{
    bool first;
    {
        std::lock_guard g(m_);
        if (stopping_)
            return;
        first = posted_.empty();
        posted_.push_back(std::move(fn));
    }
    if (first) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    }
}

void EventLoop::run_sync(const std::function<void()>& fn)
{
    if (on_loop_thread()) {
        fn();
        return;
    }
    std::promise<void> done;
    auto f = done.get_future();
    post([&] {
        try {
            fn();
            done.set_value();
        } catch (...) {
            done.set_exception(std::current_exception());
        }
    });
    {
        std::lock_guard g(m_);
        if (stopping_)
            return;
    }
    f.get();
}

void EventLoop::add_task(kj::Promise<void> p)
{
    tasks_->add(kj::mv(p));
}

void EventLoop::add_stop_hook(std::function<void()> fn)
{
    stop_hooks_.push_back(std::move(fn));
}

kj::Promise<void> EventLoop::watch_wakeups()
{
    return wake_observer_->whenBecomesReadable().then([this] {
        std::uint64_t n;
        while (::read(wake_fd_, &n, sizeof n) > 0) { }
        drain_posts();
        return watch_wakeups();
    });
}

void EventLoop::drain_posts()
{
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard g(m_);
        batch.swap(posted_);
    }
    for (auto& fn : batch)
        fn();
}

void EventLoop::stop()
{
    if (!thread_.joinable())
        return;
    post([this] {
        drain_posts();
        for (auto& hook : stop_hooks_)
            hook();
        stop_hooks_.clear();
        {
            std::lock_guard g(m_);
            stopping_ = true;
        }
        drain_posts();
        stop_fulfiller_->fulfill();
    });
    thread_.join();
}

} // namespace weft::detail
