#include "connection.h"

#include "socket.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace weft::detail {

namespace {
constexpr std::size_t kMaxIov = 512; // a burst of small frames goes out in few syscalls
// A user thread's batchable send this soon after its previous one is part of a burst: it is
// queued, and written with others in one system call.
constexpr auto kBurstGap = std::chrono::microseconds(20);

// Connections that queued frames while the loop thread handles a read burst; written at its end.
thread_local std::vector<std::shared_ptr<Connection>>* t_corked = nullptr;
// Bytes read in one turn of the loop before other connections get a go.
constexpr std::size_t kReadBudget = 8 * 1024 * 1024;
} // namespace

// The loop watches input all the time, and output only while a write waits for room, through a
// descriptor of its own (epoll keeps one entry per descriptor). An AF_UNIX socket reports
// "writable" each time the peer reads a message: a loop that watched for that all the time woke
// for every frame it sent, and on a small machine that wake-up took the core a waiting caller
// or an idle worker thread was about to read the answer on.
struct Connection::Io {
    using Observer = kj::UnixEventPort::FdObserver;
    Io(kj::UnixEventPort& event_port, int input_fd, int output_fd)
        : port(event_port)
        , out_fd(output_fd)
        , reader(event_port, input_fd, Observer::OBSERVE_READ)
    {
    }
    kj::Promise<void> when_writable()
    {
        if (writer == nullptr)
            writer = kj::heap<Observer>(port, out_fd, Observer::OBSERVE_WRITE);
        return KJ_ASSERT_NONNULL(writer)->whenBecomesWritable();
    }
    kj::UnixEventPort& port;
    int out_fd;
    Observer reader;
    kj::Maybe<kj::Own<Observer>> writer; // while a write waits for room
    kj::Maybe<kj::Promise<void>> reading;
    kj::Maybe<kj::Promise<void>> write_wait;
};

Connection::Connection(EventLoop& loop, int fd, std::string description, WireLimits limits)
    : loop_(loop)
    , fd_(fd)
    , out_fd_(::fcntl(fd, F_DUPFD_CLOEXEC, 0))
    , description_(std::move(description))
    , decoder_(limits.before_handshake())
    , limits_(limits)
{
    if (out_fd_ < 0) {
        const int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(), "dup of a socket");
    }
}

Connection::~Connection()
{
    // io_ is normally gone by now (closed on the loop thread); never touch KJ off its thread.
    if (io_ && !loop_.on_loop_thread())
        (void)io_.release();
    io_.reset();
    ::close(out_fd_);
    ::close(fd_);
}

ConnectionStats Connection::stats() const
{
    return { frames_sent_.load(), bytes_sent_.load(), frames_received_.load(),
        bytes_received_.load() };
}

void Connection::start(
    bool connecting, FrameHandler on_frame, CloseHandler on_close, ErrorHandler on_error)
{
    on_frame_ = std::move(on_frame);
    on_close_ = std::move(on_close);
    on_error_ = std::move(on_error);
    io_ = std::make_unique<Io>(loop_.port(), fd_, out_fd_);
    if (connecting) {
        {
            std::lock_guard g(wm_);
            blocked_ = true; // nothing goes out before the connect completes
        }
        auto self = shared_from_this();
        io_->write_wait
            = io_->when_writable()
                  .then([this, self] {
                      if (int err = socket_error(fd_); err != 0) {
                          close_now(std::string("connect failed: ") + std::strerror(err));
                          return;
                      }
                      resume_writing();
                      stop_watching_output();
                  })
                  .eagerlyEvaluate(nullptr);
    }
    io_->reading = read_loop(true).eagerlyEvaluate([this](kj::Exception&& e) {
        close_now(std::string("read failed: ") + e.getDescription().cStr());
    });
}

void Connection::set_frame_handler(FrameHandler h)
{
    on_frame_ = std::move(h);
}

void Connection::set_close_handler(CloseHandler h)
{
    on_close_ = std::move(h);
}

bool Connection::send(std::unique_ptr<OutFrame> frame, bool bypass_gate)
{
    std::unique_lock lk(wm_);
    if (closed_.load(std::memory_order_relaxed))
        return false;
    frames_sent_.fetch_add(1, std::memory_order_relaxed);
    if (!gate_open_ && !bypass_gate) {
        held_.push_back(std::move(frame));
        return true;
    }
    outq_.push_back(std::move(frame));
    if (writing_ || blocked_)
        return true;
    if (t_corked) {
        // Replies made while the loop reads a burst go out together at the end of it.
        if (!corked_) {
            corked_ = true;
            t_corked->push_back(shared_from_this());
        }
        return true;
    }
    // Someone usually waits for this frame's answer: it goes out now, from this thread.
    // (Asynchronous calls, which nobody waits on, batch through send_batchable.)
    writing_ = true;
    flush_locked(lk);
    return true;
}

bool Connection::send_batchable(std::unique_ptr<OutFrame> frame)
{
    if (loop_.on_loop_thread())
        return send(std::move(frame));
    std::unique_lock lk(wm_);
    if (closed_.load(std::memory_order_relaxed))
        return false;
    const auto now = std::chrono::steady_clock::now();
    const bool burst = now - last_user_send_ < kBurstGap;
    last_user_send_ = now;
    if (!burst || !gate_open_ || t_corked) {
        lk.unlock();
        return send(std::move(frame));
    }
    frames_sent_.fetch_add(1, std::memory_order_relaxed);
    outq_.push_back(std::move(frame));
    if (writing_ || blocked_)
        return true;
    if (outq_.size() >= kBatchFrames) {
        writing_ = true;
        flush_locked(lk);
        return true;
    }
    if (!lazy_flush_armed_) {
        lazy_flush_armed_ = true;
        lk.unlock();
        arm_lazy_flush();
    }
    return true;
}

void Connection::arm_lazy_flush()
{
    loop_.post([self = shared_from_this()] {
        self->loop_.add_task(self->loop_.timer().afterDelay(1 * kj::MILLISECONDS).then([self] {
            {
                std::lock_guard g(self->wm_);
                self->lazy_flush_armed_ = false;
            }
            self->flush_now();
        }));
    });
}

void Connection::flush_now()
{
    std::unique_lock lk(wm_);
    corked_ = false;
    if (writing_ || blocked_ || outq_.empty())
        return;
    writing_ = true;
    flush_locked(lk);
}

void Connection::open_gate()
{
    authenticated_.store(true, std::memory_order_release);
    std::unique_lock lk(wm_);
    gate_open_ = true;
    for (auto& f : held_)
        outq_.push_back(std::move(f));
    held_.clear();
    if (writing_ || blocked_ || outq_.empty())
        return;
    writing_ = true;
    flush_locked(lk);
}

void Connection::flush_locked(std::unique_lock<std::mutex>& lk)
{
    while (!outq_.empty() && !closed_.load(std::memory_order_relaxed)) {
        iovec iov[kMaxIov];
        std::size_t cnt = 0;
        std::size_t skip = front_offset_;
        for (auto& f : outq_) {
            for (const auto& v : f->iov()) {
                if (skip >= v.iov_len) {
                    skip -= v.iov_len;
                    continue;
                }
                iov[cnt++] = { static_cast<char*>(v.iov_base) + skip, v.iov_len - skip };
                skip = 0;
                if (cnt == kMaxIov)
                    break;
            }
            if (cnt == kMaxIov)
                break;
        }
        lk.unlock();
        msghdr mh {};
        mh.msg_iov = iov;
        mh.msg_iovlen = cnt;
        ssize_t n = ::sendmsg(fd_, &mh, MSG_NOSIGNAL);
        const int err = errno;
        lk.lock();
        if (n < 0) {
            if (err == EINTR)
                continue;
            writing_ = false;
            if (err == EAGAIN || err == EWOULDBLOCK) {
                blocked_ = true;
                arm_writable();
            } else {
                outq_.clear(); // nothing more can go out; close must not try again
                front_offset_ = 0;
                lk.unlock();
                close(std::string("write failed: ") + std::strerror(err));
                lk.lock();
            }
            return;
        }
        bytes_sent_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
        front_offset_ += static_cast<std::size_t>(n);
        while (!outq_.empty() && front_offset_ >= outq_.front()->total_bytes()) {
            front_offset_ -= outq_.front()->total_bytes();
            outq_.pop_front();
        }
    }
    writing_ = false;
    if (closed_.load(std::memory_order_relaxed)) { // closed while we wrote: see close_now
        outq_.clear();
        front_offset_ = 0;
    }
}

void Connection::arm_writable()
{
    auto self = shared_from_this();
    loop_.post([this, self] {
        if (!io_)
            return;
        io_->write_wait = nullptr;
        io_->write_wait = io_->when_writable()
                              .then([this, self] {
                                  resume_writing();
                                  stop_watching_output();
                              })
                              .eagerlyEvaluate(nullptr);
        // The socket may have drained before we started watching: try once now.
        resume_writing();
    });
}

void Connection::stop_watching_output()
{
    // Runs inside write_wait's continuation, which must not destroy itself: on a later turn.
    loop_.add_task(kj::evalLater([this, self = shared_from_this()] {
        {
            std::lock_guard g(wm_);
            if (blocked_)
                return; // waiting for room again: a newer write_wait uses the observer
        }
        if (io_) {
            io_->write_wait = nullptr;
            io_->writer = nullptr;
        }
    }));
}

void Connection::resume_writing()
{
    std::unique_lock lk(wm_);
    if (!blocked_ || writing_)
        return;
    blocked_ = false;
    if (outq_.empty())
        return;
    writing_ = true;
    flush_locked(lk);
}

kj::Promise<void> Connection::read_loop(bool wait_for_edge)
{
    auto next = [this]() -> kj::Promise<void> {
        edge_skipped_.store(true);
        if (pollers_.load() > 0)
            return read_loop(true); // the poller reads; the last one's scope drains what is left
        edge_skipped_.store(false);
        switch (drain_input()) {
        case DrainResult::Closed:
            return kj::READY_NOW;
        case DrainResult::WouldBlock:
            watch_for_stall();
            return read_loop(true);
        case DrainResult::Budget:
            break;
        }
        // Yield to other connections; what is left is read without waiting for a new edge.
        return read_loop(false);
    };
    if (wait_for_edge)
        return io_->reader.whenBecomesReadable().then(kj::mv(next));
    return kj::evalLater(kj::mv(next));
}

void Connection::watch_for_stall()
{
    if (stall_watched_ || limits_.frame_stall_ms == 0)
        return;
    {
        std::unique_lock rl(rm_, std::try_to_lock);
        if (!rl || decoder_.partial_bytes() == 0)
            return; // nothing half-read (or a poller is reading: the next read comes back here)
    }
    stall_watched_ = true;
    const auto seen = bytes_received_.load(std::memory_order_relaxed);
    auto self = shared_from_this();
    loop_.add_task(loop_.timer()
                       .afterDelay(limits_.frame_stall_ms * kj::MILLISECONDS)
                       .then([this, self, seen] {
                           stall_watched_ = false;
                           if (closed())
                               return;
                           std::size_t left;
                           {
                               std::unique_lock rl(rm_, std::try_to_lock);
                               if (!rl)
                                   return;
                               left = decoder_.partial_bytes();
                           }
                           if (left == 0)
                               return;
                           if (bytes_received_.load(std::memory_order_relaxed) != seen) {
                               watch_for_stall(); // still coming: watch the next stretch
                               return;
                           }
                           close_now("a frame stopped arriving (" + std::to_string(left)
                               + " bytes of it came, then nothing for "
                               + std::to_string(limits_.frame_stall_ms) + " ms)");
                       }));
}

bool Connection::poll_input()
{
    return read_here().value_or(false);
}

std::optional<bool> Connection::read_here()
{
    std::unique_lock rl(rm_, std::try_to_lock);
    if (!rl)
        return std::nullopt;
    if (closed() || !on_frame_)
        return false;
    const auto before = frames_received_.load(std::memory_order_relaxed);
    // Read until the socket is empty (EAGAIN, or a short read: see drain_locked). Whatever
    // arrives later raises a new edge for the loop, which reads (or finds nothing) itself.
    while (drain_locked(std::size_t(-1), true) == DrainResult::Budget) { }
    return frames_received_.load(std::memory_order_relaxed) != before;
}

Connection::PollScope::PollScope(Connection& c)
    : c_(c)
{
    c_.pollers_.fetch_add(1);
}

Connection::PollScope::~PollScope()
{
    if (c_.pollers_.fetch_sub(1) != 1 || !c_.edge_skipped_.exchange(false))
        return;
    // The loop skipped an edge: what it announced may still be unread. Read it here rather
    // than wake the loop for it (an eventfd write and two context switches per wait). A reader
    // holding the lock may already be past its last read, so then the loop must do it.
    if (c_.read_here().has_value())
        return;
    c_.loop_.post([self = c_.shared_from_this()] {
        while (!self->closed() && self->drain_input() == DrainResult::Budget) { }
    });
}

Connection::DrainResult Connection::drain_input()
{
    std::lock_guard rl(rm_);
    // A short read shows the socket empty unless the peer also closed it, which this edge may
    // have reported along with the last data: then read on, to the end.
    bool at_end = true;
    KJ_IF_MAYBE (e, io_->reader.atEndHint())
        at_end = *e;
    return drain_locked(kReadBudget, !at_end);
}

Connection::DrainResult Connection::drain_locked(std::size_t read_budget, bool short_read_empties)
{
    std::vector<std::shared_ptr<Connection>> corked;
    t_corked = &corked;
    auto flush_corked = [&] {
        t_corked = nullptr;
        for (auto& c : corked)
            c->flush_now();
        corked.clear();
        t_corked = &corked;
    };
    struct Uncork {
        std::vector<std::shared_ptr<Connection>>& list;
        ~Uncork()
        {
            t_corked = nullptr;
            for (auto& c : list)
                c->flush_now();
        }
    } uncork { corked };
    std::size_t budget = read_budget;
    while (!closed()) {
        auto space = decoder_.write_space();
        ssize_t n = ::read(fd_, space.data(), space.size());
        if (n > 0) {
            decoder_.commit(static_cast<std::size_t>(n));
            bytes_received_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
            InFrame frame;
            std::string error;
            for (;;) {
                // The handshake's last frame opened the gate: the next frames may be large.
                if (!full_limits_ && authenticated_.load(std::memory_order_acquire)) {
                    decoder_.set_limits(limits_);
                    full_limits_ = true;
                }
                auto st = decoder_.next(frame, error);
                if (st == FrameDecoder::Status::NeedMore)
                    break;
                if (st == FrameDecoder::Status::Rejected) {
                    // Whatever the frame carried cannot be answered (its call id is in the
                    // bytes skipped), so nobody may be left waiting on it: the connection ends
                    // and every call pending on it fails with this reason. A peer that has not
                    // proved it knows the cookie gets no more than a handshake's worth.
                    if (on_error_)
                        on_error_(error);
                    close_now(std::string(full_limits_ ? "" : "before the handshake: ") + error);
                    return DrainResult::Closed;
                }
                if (st == FrameDecoder::Status::Corrupt) {
                    // No way to find the next frame: end the connection, so that everything
                    // waiting on it fails with this reason instead of waiting forever.
                    if (on_error_)
                        on_error_(error);
                    close_now("unreadable stream: " + error);
                    return DrainResult::Closed;
                }
                frames_received_.fetch_add(1, std::memory_order_relaxed);
                on_frame_(std::move(frame));
                frame = {};
                if (closed())
                    return DrainResult::Closed;
            }
            flush_corked();
            // A stream socket that gave less than asked for is empty now (epoll(7)): skipping
            // the read that would say EAGAIN saves a system call per message.
            if (short_read_empties && static_cast<std::size_t>(n) < space.size())
                return DrainResult::WouldBlock;
            if (static_cast<std::size_t>(n) >= budget)
                return DrainResult::Budget;
            budget -= static_cast<std::size_t>(n);
            continue;
        }
        if (n == 0) {
            close_now("the peer closed the connection");
            return DrainResult::Closed;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return DrainResult::WouldBlock;
        close_now(std::string("read failed: ") + std::strerror(errno));
        return DrainResult::Closed;
    }
    return DrainResult::Closed;
}

void Connection::close(std::string reason)
{
    auto self = shared_from_this();
    if (loop_.on_loop_thread()) {
        close_now(reason);
        return;
    }
    loop_.post([self, reason = std::move(reason)] { self->close_now(reason); });
}

void Connection::close_now(const std::string& reason)
{
    {
        std::unique_lock lk(wm_);
        if (closed_.load())
            return;
        // Last words (a Reject, say) may still be corked: give them one try before closing.
        if (!writing_ && !blocked_ && !outq_.empty()) {
            writing_ = true;
            flush_locked(lk);
        }
        if (closed_.exchange(true))
            return;
        // A writer on another thread may be inside sendmsg with these frames' bytes: it drops
        // them itself when it returns and sees the connection closed.
        if (!writing_) {
            outq_.clear();
            front_offset_ = 0;
        }
        held_.clear();
    }
    ::shutdown(fd_, SHUT_RDWR);
    // This may run inside one of io_'s own continuations: tear it down on a later turn. The
    // handlers go too (under the read lock, since a reader may be inside one): they often hold
    // this connection, and a closed connection must not keep itself alive.
    auto self = shared_from_this();
    loop_.post([self] {
        self->io_.reset();
        std::lock_guard rl(self->rm_);
        self->on_frame_ = nullptr;
        self->on_error_ = nullptr;
    });
    // Only the first close gets here, so nothing else touches on_close_ now.
    auto on_close = std::exchange(on_close_, nullptr);
    if (on_close)
        on_close(reason);
}

} // namespace weft::detail
