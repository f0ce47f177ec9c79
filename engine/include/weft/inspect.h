#pragma once
// What a process's store holds: the values it owns and who holds references to them. Tests, the
// GUI and telemetry read it.

#include "weft/value.h"

#include <map>
#include <string>
#include <vector>

namespace weft {

struct StoreEntryInfo {
    RefId id;
    RefKind kind = RefKind::Future;
    std::size_t bytes = 0;
    std::map<Pid, int> holders; // process -> references it holds
    std::string state; // future: pending, ready, error; channel: open, closed
    double age_seconds = 0;
    std::size_t length = 0; // channel: values buffered
    std::size_t capacity = 0; // channel
};

// An estimate of the memory a value takes (array payloads, text, nested values).
std::size_t value_bytes(const Value& v);

} // namespace weft
