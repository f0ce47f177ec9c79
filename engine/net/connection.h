#pragma once
// One socket to a peer process. Any thread may send (writers combine: whoever finds the socket
// idle writes everything queued); the loop thread reads and decodes frames in place.

#include "event_loop.h"
#include "framing.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace weft::detail {

struct ConnectionStats {
    std::uint64_t frames_sent = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t frames_received = 0;
    std::uint64_t bytes_received = 0;
};

class Connection final : public std::enable_shared_from_this<Connection> {
public:
    using FrameHandler = std::function<void(InFrame&&)>;
    using CloseHandler = std::function<void(const std::string& reason)>;
    using ErrorHandler = std::function<void(const std::string& error)>;

    Connection(EventLoop& loop, int fd, std::string description, WireLimits limits = {});
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Loop thread. `connecting`: a non-blocking connect is in progress; `on_close` reports its
    // failure. Frames go to `on_frame`. Until open_gate() frames are held to the handshake's
    // limits (WireLimits::before_handshake). A frame over the limits goes to `on_error`, and
    // then the connection closes with the reason: its caller must not wait for an answer.
    void start(
        bool connecting, FrameHandler on_frame, CloseHandler on_close, ErrorHandler on_error);
    void set_frame_handler(FrameHandler h); // loop thread
    void set_close_handler(CloseHandler h); // loop thread

    // Any thread. Returns false when the connection is closed (the frame is dropped).
    // While the gate is closed (during the handshake) only `bypass_gate` frames go out.
    bool send(std::unique_ptr<OutFrame> frame, bool bypass_gate = false);
    // For a frame nobody waits on (an asynchronous call): during a user thread's burst such
    // frames are written by the sender in batches of kBatchFrames, and a partial batch by the
    // loop within a few milliseconds, or at once by the next frame that is not batchable (a
    // caller about to wait for an answer sends one).
    bool send_batchable(std::unique_ptr<OutFrame> frame);
    static constexpr std::size_t kBatchFrames = 256;
    void open_gate();
    void close(std::string reason); // any thread; on_close runs on the loop thread
    // Reads and dispatches whatever has arrived, on the calling thread, unless another thread is
    // reading. A thread waiting for a reply calls it to skip the I/O thread's wake-up. True when
    // it dispatched at least one frame.
    bool poll_input();
    // While a PollScope lives, the loop leaves reading to the polling thread (it would only race
    // it for the frame and then have to wake it); an edge it skipped is drained when the last
    // scope ends.
    class PollScope {
    public:
        explicit PollScope(Connection& c);
        ~PollScope();
        PollScope(const PollScope&) = delete;
        PollScope& operator=(const PollScope&) = delete;

    private:
        Connection& c_;
    };

    [[nodiscard]] bool closed() const { return closed_.load(std::memory_order_acquire); }
    [[nodiscard]] const std::string& description() const { return description_; }
    [[nodiscard]] ConnectionStats stats() const;

private:
    struct Io;
    void flush_locked(std::unique_lock<std::mutex>& lk);
    void flush_now(); // writes what is queued unless a writer is active or the socket is full
    void arm_lazy_flush();
    void arm_writable();
    void resume_writing();
    void stop_watching_output(); // loop thread, once the socket took what waited
    kj::Promise<void> read_loop(bool wait_for_edge);
    enum class DrainResult { Closed, WouldBlock, Budget };
    DrainResult drain_input();
    DrainResult drain_locked(std::size_t read_budget, bool short_read_empties);
    // Reads what has arrived on the calling thread, unless another thread holds the read lock:
    // then nullopt. Otherwise whether it dispatched a frame.
    std::optional<bool> read_here();
    void close_now(const std::string& reason);
    void watch_for_stall(); // loop thread, after a read left part of a frame

    EventLoop& loop_;
    int fd_;
    int out_fd_; // a duplicate of fd_: the loop watches it while a write waits for room (Io)
    std::string description_;
    FrameDecoder decoder_; // the handshake's small limits until the gate opens
    WireLimits limits_; // the limits after the handshake
    bool full_limits_ = false; // reader only
    bool stall_watched_ = false; // loop thread
    std::atomic<bool> authenticated_ { false };
    std::unique_ptr<Io> io_; // loop thread only
    FrameHandler on_frame_;
    CloseHandler on_close_;
    ErrorHandler on_error_;

    std::mutex rm_; // one reader at a time: the loop thread or a polling waiter
    std::mutex wm_;
    std::deque<std::unique_ptr<OutFrame>> outq_;
    std::deque<std::unique_ptr<OutFrame>> held_; // application frames waiting for the gate
    std::size_t front_offset_ = 0;
    bool writing_ = false;
    bool blocked_ = false; // the socket said EAGAIN; the loop resumes when writable
    bool gate_open_ = false;
    bool corked_ = false; // queued during a read burst; flushed at its end
    bool lazy_flush_armed_ = false; // the loop will flush a partial batch soon
    std::chrono::steady_clock::time_point last_user_send_;
    std::atomic<bool> closed_ { false };
    std::atomic<int> pollers_ { 0 };
    std::atomic<bool> edge_skipped_ { false };

    std::atomic<std::uint64_t> frames_sent_ { 0 }, bytes_sent_ { 0 };
    std::atomic<std::uint64_t> frames_received_ { 0 }, bytes_received_ { 0 };
};

} // namespace weft::detail
