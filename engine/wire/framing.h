#pragma once
// Standard Cap'n Proto stream framing, written with writev and read into reusable word-aligned
// buffers from which frames are decoded in place.

#include "weft.capnp.h"
#include "weft/value.h"

#include <capnp/message.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <sys/uio.h>
#include <utility>
#include <vector>

namespace weft::detail {

// Limits applied to every incoming frame; a frame over them is rejected with a clear error and
// the connection carries on with the next frame.
struct WireLimits {
    std::size_t max_frame_bytes = std::size_t(2) << 30; // 2 GiB
    // Decoding a frame reads at most this many words per word it carries (Cap'n Proto's
    // traversal limit, set per frame): bounded work for any frame, however it is shaped.
    std::uint64_t traversal_words_per_word = 4;
    int nesting_limit = 256; // each level of a nested Value costs about three
    std::uint32_t max_segments = 512;

    // Before the peer has proved it knows the cookie: a handshake frame is about 100 bytes.
    std::size_t handshake_frame_bytes = 4096;
    std::uint32_t handshake_timeout_ms = 5000; // WEFT_HANDSHAKE_TIMEOUT_MS overrides it
    std::size_t max_unauthenticated = 64; // per listener; the oldest goes first
    // A frame begun but not finished, with no byte for this long, ends the connection: a header
    // that lies about its size would otherwise leave everything behind it waiting forever.
    std::uint32_t frame_stall_ms = 30000; // WEFT_FRAME_STALL_MS overrides it

    // The limits a connection applies until its handshake is done.
    [[nodiscard]] WireLimits before_handshake() const
    {
        WireLimits l = *this;
        l.max_frame_bytes = handshake_frame_bytes;
        l.max_segments = 2;
        return l;
    }
};

// One outgoing message: its builder, the memory it references, and its framing header.
class OutFrame final {
public:
    explicit OutFrame(unsigned first_segment_words = 64);
    wire::Message::Builder root() { return builder_.getRoot<wire::Message>(); }
    capnp::MallocMessageBuilder& builder() { return builder_; }
    // Keeps memory referenced by the message (an external array segment) alive until written.
    void keep_alive(std::shared_ptr<const void> p) { keep_.push_back(std::move(p)); }
    // Whether one more array may go out as its own segment; past a cap it is copied into the
    // message instead, so a frame never has more segments than a receiver accepts.
    bool take_external_segment()
    {
        if (external_ >= kMaxExternalSegments)
            return false;
        ++external_;
        return true;
    }
    static constexpr unsigned kMaxExternalSegments = 128; // WireLimits::max_segments is 512
    // A reference (id, owner) in the message whose receiver must be made a holder first.
    void hold_for_receiver(const RefId& id, Pid owner) { holds_.emplace_back(id, owner); }
    [[nodiscard]] const std::vector<std::pair<RefId, Pid>>& holds_for_receiver() const
    {
        return holds_;
    }
    // Lays out the header and segments; call once, after the message is complete.
    void finish();
    [[nodiscard]] std::size_t total_bytes() const { return total_; }
    [[nodiscard]] std::span<const iovec> iov() const { return iov_; }

private:
    static constexpr std::size_t kInlineSegments = 7; // most messages have one
    capnp::MallocMessageBuilder builder_;
    std::vector<std::shared_ptr<const void>> keep_;
    std::array<std::uint32_t, kInlineSegments + 1> header_inline_ {};
    std::array<iovec, kInlineSegments + 1> iov_inline_ {};
    std::vector<std::uint32_t> header_heap_; // for messages with more segments
    std::vector<iovec> iov_heap_;
    std::span<const iovec> iov_;
    std::size_t total_ = 0;
    unsigned external_ = 0;
    std::vector<std::pair<RefId, Pid>> holds_;
};

// A complete received frame; `owner` keeps its bytes alive for values that view them.
struct InFrame {
    std::shared_ptr<const void> owner;
    std::vector<kj::ArrayPtr<const capnp::word>> segments;
    std::size_t bytes = 0;
};

// Splits a byte stream into frames. Owned by one connection's reader.
class FrameDecoder final {
public:
    explicit FrameDecoder(WireLimits limits = {});
    ~FrameDecoder();

    // Where the next read should put bytes (never empty).
    std::span<std::byte> write_space();
    void commit(std::size_t n);

    enum class Status { Frame, NeedMore, Rejected, Corrupt };
    // Frame: `out` holds the next frame. Rejected: the next frame broke a limit; `error` says how,
    // and its bytes are being skipped. Corrupt: the header cannot be trusted, so no later frame
    // can be found; the stream must be closed. NeedMore: read more.
    Status next(InFrame& out, std::string& error);
    // Bytes of a frame not complete yet (0 between frames).
    [[nodiscard]] std::size_t partial_bytes() const { return end_ - begin_ + skip_; }
    // New limits from the next frame on (a connection's, once its handshake is done).
    void set_limits(const WireLimits& limits) { limits_ = limits; }
    [[nodiscard]] const WireLimits& limits() const { return limits_; }

private:
    struct Buffer;
    void reserve(std::size_t need);

    WireLimits limits_;
    std::shared_ptr<Buffer> buf_;
    std::size_t begin_ = 0; // bytes
    std::size_t end_ = 0;
    std::size_t skip_ = 0; // bytes of a rejected frame still to discard
};

} // namespace weft::detail
