#pragma once
// A store table as a Value, the result of the `store_table` kernel that Cluster::store_table(pid)
// calls on a worker. Any thread.

#include "weft/inspect.h"

#include <vector>

namespace weft::detail {

Value store_table_to_value(const std::vector<StoreEntryInfo>& table);
// Throws std::invalid_argument for a value that is not a store table.
std::vector<StoreEntryInfo> store_table_from_value(const Value& v);

} // namespace weft::detail
