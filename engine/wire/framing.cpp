#include "framing.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace weft::detail {

OutFrame::OutFrame(unsigned first_segment_words)
    : builder_(first_segment_words)
{
}

void OutFrame::finish()
{
    auto segs = builder_.getSegmentsForOutput();
    const std::size_t header_words = (segs.size() + 2) & ~std::size_t(1);
    std::uint32_t* header = header_inline_.data();
    iovec* iov = iov_inline_.data();
    if (segs.size() > kInlineSegments) {
        header_heap_.assign(header_words, 0);
        iov_heap_.resize(segs.size() + 1);
        header = header_heap_.data();
        iov = iov_heap_.data();
    } else {
        header[header_words - 1] = 0; // padding word
    }
    header[0] = static_cast<std::uint32_t>(segs.size() - 1);
    total_ = header_words * 4;
    iov[0] = { header, header_words * 4 };
    for (std::size_t i = 0; i < segs.size(); ++i) {
        header[i + 1] = static_cast<std::uint32_t>(segs[i].size());
        iov[i + 1] = { const_cast<capnp::word*>(segs[i].begin()), segs[i].size() * 8 };
        total_ += segs[i].size() * 8;
    }
    iov_ = { iov, segs.size() + 1 };
}

struct FrameDecoder::Buffer {
    explicit Buffer(std::size_t n)
        : cap((n + 63) / 64 * 64)
        , data(static_cast<std::byte*>(std::aligned_alloc(64, cap)))
    {
        if (!data)
            throw std::bad_alloc();
    }
    ~Buffer() { std::free(data); }
    std::size_t cap;
    std::byte* data;
};

namespace {
constexpr std::size_t kDefaultBuffer = 256 * 1024;
constexpr std::size_t kMinReadSpace = 16 * 1024;
// A connection that only takes small frames (a handshake's) reads into a small buffer: an
// unauthenticated peer costs a few KiB.
std::size_t buffer_for(const WireLimits& l)
{
    return std::min(kDefaultBuffer, std::max<std::size_t>(l.max_frame_bytes, 1024));
}
std::size_t read_space_for(const WireLimits& l)
{
    return std::min(kMinReadSpace, buffer_for(l));
}
} // namespace

FrameDecoder::FrameDecoder(WireLimits limits)
    : limits_(limits)
    , buf_(std::make_shared<Buffer>(buffer_for(limits)))
{
}

FrameDecoder::~FrameDecoder() = default;

void FrameDecoder::reserve(std::size_t need)
{
    const std::size_t have = end_ - begin_;
    const bool shared = buf_.use_count() > 1;
    if (!shared && buf_->cap - end_ >= need)
        return;
    if (!shared && buf_->cap >= have + need) {
        std::memmove(buf_->data, buf_->data + begin_, have);
    } else {
        // Values still view the old buffer (or it is too small): move the tail to a new one.
        auto fresh = std::make_shared<Buffer>(std::max(buffer_for(limits_), have + need));
        std::memcpy(fresh->data, buf_->data + begin_, have);
        buf_ = std::move(fresh);
    }
    begin_ = 0;
    end_ = have;
}

std::span<std::byte> FrameDecoder::write_space()
{
    // Read straight into room for the whole pending frame when its size is known.
    std::size_t need = read_space_for(limits_);
    const std::size_t have = end_ - begin_;
    if (skip_ == 0 && have >= 8) {
        const auto* words = reinterpret_cast<const std::uint32_t*>(buf_->data + begin_);
        const std::uint64_t nseg = std::uint64_t(words[0]) + 1;
        const std::size_t header = ((nseg + 2) & ~std::uint64_t(1)) * 4;
        if (nseg <= limits_.max_segments && have >= header) {
            std::size_t total = header;
            for (std::uint64_t i = 0; i < nseg; ++i)
                total += std::size_t(words[i + 1]) * 8;
            if (total <= limits_.max_frame_bytes && total > have)
                need = std::max(need, total - have);
        }
    }
    if (buf_.use_count() > 1 || buf_->cap - end_ < need)
        reserve(need);
    return { buf_->data + end_, buf_->cap - end_ };
}

void FrameDecoder::commit(std::size_t n)
{
    end_ += n;
    if (skip_) {
        const std::size_t drop = std::min(skip_, end_ - begin_);
        begin_ += drop;
        skip_ -= drop;
    }
    if (begin_ == end_)
        begin_ = end_ = 0;
}

FrameDecoder::Status FrameDecoder::next(InFrame& out, std::string& error)
{
    if (skip_)
        return Status::NeedMore;
    const std::size_t have = end_ - begin_;
    if (have < 8)
        return Status::NeedMore;
    const auto* words = reinterpret_cast<const std::uint32_t*>(buf_->data + begin_);
    const std::uint64_t nseg = std::uint64_t(words[0]) + 1;
    if (nseg > limits_.max_segments) {
        // Without a trustworthy header the stream cannot be resynchronised.
        error = "frame header announces " + std::to_string(nseg) + " segments (limit "
            + std::to_string(limits_.max_segments) + "); the stream is corrupt";
        skip_ = std::size_t(-1);
        begin_ = end_ = 0;
        return Status::Corrupt;
    }
    const std::size_t header = ((nseg + 2) & ~std::uint64_t(1)) * 4;
    if (have < header)
        return Status::NeedMore;
    std::size_t total = header;
    for (std::uint64_t i = 0; i < nseg; ++i)
        total += std::size_t(words[i + 1]) * 8;
    if (total > limits_.max_frame_bytes) {
        error = "frame of " + std::to_string(total) + " bytes exceeds the limit of "
            + std::to_string(limits_.max_frame_bytes) + " bytes; skipped";
        const std::size_t drop = std::min(total, have);
        begin_ += drop;
        skip_ = total - drop;
        if (begin_ == end_)
            begin_ = end_ = 0;
        return Status::Rejected;
    }
    if (have < total)
        return Status::NeedMore;
    out.owner = buf_;
    out.bytes = total;
    out.segments.clear();
    const auto* seg = reinterpret_cast<const capnp::word*>(buf_->data + begin_ + header);
    for (std::uint64_t i = 0; i < nseg; ++i) {
        out.segments.emplace_back(seg, words[i + 1]);
        seg += words[i + 1];
    }
    begin_ += total;
    return Status::Frame;
}

} // namespace weft::detail
