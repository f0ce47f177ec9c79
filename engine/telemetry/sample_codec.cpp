#include "sample_codec.h"

#include <stdexcept>

namespace weft::detail {

namespace {

constexpr std::size_t kSpanColumns = 6;

const Value& field(const Map& m, std::string_view key)
{
    for (const auto& [k, v] : m)
        if (k == key)
            return v;
    throw std::invalid_argument("telemetry sample has no '" + std::string(key) + "'");
}

std::uint64_t u(const Value& v)
{
    return static_cast<std::uint64_t>(v.as_int());
}

} // namespace

Value encode_sample(const WireSample& w)
{
    const auto& s = w.sample;
    List pools;
    for (const auto& p : s.pools)
        pools.emplace_back(List { p.threads, p.busy, p.runnable, p.blocked, p.completed });
    List channels;
    for (const auto& c : s.channels)
        channels.emplace_back(List { c.id.whence, c.id.n, c.length, c.capacity, c.waiting_putters,
            c.waiting_takers, c.closed });
    List traffic;
    for (const auto& [peer, t] : s.traffic)
        traffic.emplace_back(
            List { peer, t.messages_sent, t.bytes_sent, t.messages_received, t.bytes_received });
    std::vector<std::int64_t> spans;
    spans.reserve(w.spans.size() * kSpanColumns);
    for (const auto& r : w.spans) {
        spans.push_back(r.start_ns);
        spans.push_back(r.end_ns);
        spans.push_back(r.label);
        spans.push_back(r.thread);
        spans.push_back(r.pool);
        spans.push_back(r.finished);
    }
    List labels;
    for (const auto& [id, name] : w.labels)
        labels.emplace_back(List { id, name });
    const auto nspans = static_cast<std::uint64_t>(w.spans.size());
    return Map {
        { "clock", w.clock_ns },
        { "cpu", s.cpu_percent },
        { "rss", s.rss_bytes },
        { "pools", std::move(pools) },
        { "channels", std::move(channels) },
        { "store_entries", s.store_entries },
        { "store_bytes", s.store_bytes },
        { "store", store_table_to_value(s.store) },
        { "traffic", std::move(traffic) },
        { "spans", Array::from(std::move(spans), { kSpanColumns, nspans }) },
        { "labels", std::move(labels) },
        { "dropped", s.spans_dropped },
    };
}

WireSample decode_sample(const Value& v)
{
    WireSample w;
    const auto& m = v.as_map();
    auto& s = w.sample;
    w.clock_ns = field(m, "clock").as_int();
    s.cpu_percent = field(m, "cpu").as_double();
    s.rss_bytes = u(field(m, "rss"));
    const auto& pools = field(m, "pools").as_list();
    for (std::size_t i = 0; i < pools.size() && i < s.pools.size(); ++i) {
        const auto& p = pools[i].as_list();
        if (p.size() < 5)
            throw std::invalid_argument("telemetry sample: short pool entry");
        s.pools[i] = { static_cast<int>(p[0].as_int()), static_cast<int>(p[1].as_int()), u(p[2]),
            u(p[3]), u(p[4]) };
    }
    for (const auto& cv : field(m, "channels").as_list()) {
        const auto& c = cv.as_list();
        if (c.size() < 7)
            throw std::invalid_argument("telemetry sample: short channel entry");
        s.channels.push_back({ { static_cast<Pid>(c[0].as_int()), u(c[1]) }, u(c[2]), u(c[3]),
            u(c[4]), u(c[5]), c[6].as_bool() });
    }
    s.store_entries = u(field(m, "store_entries"));
    s.store_bytes = u(field(m, "store_bytes"));
    s.store = store_table_from_value(field(m, "store"));
    for (const auto& tv : field(m, "traffic").as_list()) {
        const auto& t = tv.as_list();
        if (t.size() < 5)
            throw std::invalid_argument("telemetry sample: short traffic entry");
        s.traffic[static_cast<Pid>(t[0].as_int())] = { u(t[1]), u(t[2]), u(t[3]), u(t[4]) };
    }
    const auto& arr = field(m, "spans").as_array();
    const auto cells = arr.view<std::int64_t>();
    if (arr.shape().size() != 2 || arr.shape()[0] != kSpanColumns)
        throw std::invalid_argument("telemetry sample: spans are not a 6xN array");
    w.spans.reserve(cells.size() / kSpanColumns);
    for (std::size_t i = 0; i + kSpanColumns <= cells.size(); i += kSpanColumns)
        w.spans.push_back({ cells[i], cells[i + 1], static_cast<std::uint32_t>(cells[i + 2]),
            static_cast<std::uint16_t>(cells[i + 3]), static_cast<std::uint8_t>(cells[i + 4]),
            static_cast<std::uint8_t>(cells[i + 5]) });
    for (const auto& lv : field(m, "labels").as_list()) {
        const auto& l = lv.as_list();
        if (l.size() < 2)
            throw std::invalid_argument("telemetry sample: short label entry");
        w.labels.emplace_back(static_cast<std::uint32_t>(l[0].as_int()), l[1].as_text());
    }
    s.spans_dropped = u(field(m, "dropped"));
    return w;
}

} // namespace weft::detail
