#include "sample_codec.h"

#include "codec.h"

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace weft::detail {

namespace {

constexpr std::size_t kSpanBytes = 24;
static_assert(std::endian::native == std::endian::little,
    "telemetry spans travel little-endian, copied as they are in memory");
static_assert(sizeof(RawSpan) == kSpanBytes && std::is_trivially_copyable_v<RawSpan>);
static_assert(offsetof(RawSpan, end_ns) == 8 && offsetof(RawSpan, label) == 16
    && offsetof(RawSpan, thread) == 20 && offsetof(RawSpan, pool) == 22
    && offsetof(RawSpan, finished) == 23);

constexpr std::string_view kStates[] = { "pending", "ready", "error", "open", "closed" };

wire::StoreState state_to_wire(std::string_view s)
{
    for (unsigned i = 0; i < std::size(kStates); ++i)
        if (kStates[i] == s)
            return static_cast<wire::StoreState>(i);
    return wire::StoreState::PENDING;
}

std::string state_from_wire(wire::StoreState s)
{
    const auto i = static_cast<unsigned>(s);
    if (i >= std::size(kStates))
        throw std::invalid_argument("telemetry sample: unknown store state " + std::to_string(i));
    return std::string(kStates[i]);
}

} // namespace

void encode_sample(const WireSample& w, wire::Telemetry::Builder out)
{
    const auto& s = w.sample;
    out.setClockNs(w.clock_ns);
    out.setCpuPercent(s.cpu_percent);
    out.setRssBytes(s.rss_bytes);
    auto pools = out.initPools(static_cast<unsigned>(s.pools.size()));
    for (unsigned i = 0; i < s.pools.size(); ++i) {
        const auto& p = s.pools[i];
        pools[i].setThreads(static_cast<std::uint16_t>(p.threads));
        pools[i].setBusy(static_cast<std::uint16_t>(p.busy));
        pools[i].setRunnable(p.runnable);
        pools[i].setBlocked(p.blocked);
        pools[i].setCompleted(p.completed);
    }
    auto channels = out.initChannels(static_cast<unsigned>(s.channels.size()));
    for (unsigned i = 0; i < s.channels.size(); ++i) {
        const auto& c = s.channels[i];
        auto o = channels[i];
        encode_ref_id(c.id, o.initId());
        o.setLength(c.length);
        o.setCapacity(c.capacity);
        o.setWaitingPutters(c.waiting_putters);
        o.setWaitingTakers(c.waiting_takers);
        o.setClosed(c.closed);
    }
    out.setStoreEntries(s.store_entries);
    out.setStoreBytes(s.store_bytes);
    auto store = out.initStore(static_cast<unsigned>(s.store.size()));
    for (unsigned i = 0; i < s.store.size(); ++i) {
        const auto& e = s.store[i];
        auto o = store[i];
        encode_ref_id(e.id, o.initId());
        o.setKind(e.kind == RefKind::Channel ? wire::RefKind::CHANNEL : wire::RefKind::FUTURE);
        o.setBytes(e.bytes);
        auto holders = o.initHolders(static_cast<unsigned>(e.holders.size()));
        unsigned h = 0;
        for (const auto& [pid, n] : e.holders) {
            holders[h].setPid(pid);
            holders[h].setCount(n);
            ++h;
        }
        o.setState(state_to_wire(e.state));
        o.setAgeSeconds(e.age_seconds);
        o.setLength(e.length);
        o.setCapacity(e.capacity);
    }
    auto traffic = out.initTraffic(static_cast<unsigned>(s.traffic.size()));
    unsigned t = 0;
    for (const auto& [peer, x] : s.traffic) {
        traffic[t].setPeer(peer);
        traffic[t].setMessagesSent(x.messages_sent);
        traffic[t].setBytesSent(x.bytes_sent);
        traffic[t].setMessagesReceived(x.messages_received);
        traffic[t].setBytesReceived(x.bytes_received);
        ++t;
    }
    auto spans = out.initSpans(static_cast<unsigned>(w.spans.size() * kSpanBytes));
    if (!w.spans.empty())
        std::memcpy(spans.begin(), w.spans.data(), spans.size());
    auto labels = out.initLabels(static_cast<unsigned>(w.labels.size()));
    for (unsigned i = 0; i < w.labels.size(); ++i) {
        labels[i].setId(w.labels[i].first);
        labels[i].setName(w.labels[i].second);
    }
    out.setSpansDropped(s.spans_dropped);
}

WireSample decode_sample(wire::Telemetry::Reader in)
{
    WireSample w;
    auto& s = w.sample;
    w.clock_ns = in.getClockNs();
    s.cpu_percent = in.getCpuPercent();
    s.rss_bytes = in.getRssBytes();
    const auto pools = in.getPools();
    for (unsigned i = 0; i < pools.size() && i < s.pools.size(); ++i) {
        const auto p = pools[i];
        s.pools[i]
            = { p.getThreads(), p.getBusy(), p.getRunnable(), p.getBlocked(), p.getCompleted() };
    }
    const auto channels = in.getChannels();
    s.channels.reserve(channels.size());
    for (const auto c : channels)
        s.channels.push_back({ decode_ref_id(c.getId()), c.getLength(), c.getCapacity(),
            c.getWaitingPutters(), c.getWaitingTakers(), c.getClosed() });
    s.store_entries = in.getStoreEntries();
    s.store_bytes = in.getStoreBytes();
    const auto store = in.getStore();
    s.store.reserve(store.size());
    for (const auto e : store) {
        StoreEntryInfo info;
        info.id = decode_ref_id(e.getId());
        info.kind = e.getKind() == wire::RefKind::CHANNEL ? RefKind::Channel : RefKind::Future;
        info.bytes = e.getBytes();
        for (const auto h : e.getHolders())
            info.holders[h.getPid()] = h.getCount();
        info.state = state_from_wire(e.getState());
        info.age_seconds = e.getAgeSeconds();
        info.length = e.getLength();
        info.capacity = e.getCapacity();
        s.store.push_back(std::move(info));
    }
    for (const auto t : in.getTraffic())
        s.traffic[t.getPeer()] = { t.getMessagesSent(), t.getBytesSent(), t.getMessagesReceived(),
            t.getBytesReceived() };
    const auto spans = in.getSpans();
    if (spans.size() % kSpanBytes != 0)
        throw std::invalid_argument("telemetry sample: spans are " + std::to_string(spans.size())
            + " bytes, not a whole number of 24-byte records");
    w.spans.resize(spans.size() / kSpanBytes);
    if (!w.spans.empty())
        std::memcpy(w.spans.data(), spans.begin(), spans.size());
    const auto labels = in.getLabels();
    w.labels.reserve(labels.size());
    for (const auto l : labels)
        w.labels.emplace_back(l.getId(), l.getName());
    s.spans_dropped = in.getSpansDropped();
    return w;
}

} // namespace weft::detail
