#include "inspect_codec.h"

namespace weft::detail {

Value store_table_to_value(const std::vector<StoreEntryInfo>& table)
{
    List rows;
    rows.reserve(table.size());
    for (const auto& e : table) {
        Map holders;
        for (auto [pid, n] : e.holders)
            holders.emplace_back(std::to_string(pid), n);
        rows.push_back(Map { { "whence", std::int64_t(e.id.whence) }, { "n", std::int64_t(e.id.n) },
            { "kind", e.kind == RefKind::Future ? "future" : "channel" },
            { "bytes", std::int64_t(e.bytes) }, { "holders", holders }, { "state", e.state },
            { "age", e.age_seconds }, { "length", std::int64_t(e.length) },
            { "capacity", std::int64_t(e.capacity) } });
    }
    return rows;
}

std::vector<StoreEntryInfo> store_table_from_value(const Value& v)
{
    std::vector<StoreEntryInfo> out;
    for (const auto& row : v.as_list()) {
        StoreEntryInfo e;
        for (const auto& [k, x] : row.as_map()) {
            if (k == "whence")
                e.id.whence = static_cast<Pid>(x.as_int());
            else if (k == "n")
                e.id.n = static_cast<std::uint64_t>(x.as_int());
            else if (k == "kind")
                e.kind = x.as_text() == "future" ? RefKind::Future : RefKind::Channel;
            else if (k == "bytes")
                e.bytes = static_cast<std::size_t>(x.as_int());
            else if (k == "holders")
                for (const auto& [pid, n] : x.as_map())
                    e.holders[static_cast<Pid>(std::stoul(pid))] = static_cast<int>(n.as_int());
            else if (k == "state")
                e.state = x.as_text();
            else if (k == "age")
                e.age_seconds = x.as_double();
            else if (k == "length")
                e.length = static_cast<std::size_t>(x.as_int());
            else if (k == "capacity")
                e.capacity = static_cast<std::size_t>(x.as_int());
        }
        out.push_back(std::move(e));
    }
    return out;
}

} // namespace weft::detail
