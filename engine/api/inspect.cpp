#include "weft/inspect.h"

namespace weft {

std::size_t value_bytes(const Value& v)
{
    return std::visit(
        [](const auto& x) -> std::size_t {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>)
                return x.size();
            else if constexpr (std::is_same_v<T, Bytes>)
                return x.data.size();
            else if constexpr (std::is_same_v<T, Array>)
                return x.bytes();
            else if constexpr (std::is_same_v<T, List>) {
                std::size_t n = 0;
                for (const auto& e : x)
                    n += value_bytes(e);
                return n;
            } else if constexpr (std::is_same_v<T, Map>) {
                std::size_t n = 0;
                for (const auto& [k, e] : x)
                    n += k.size() + value_bytes(e);
                return n;
            } else if constexpr (std::is_same_v<T, ErrorValue>)
                return x.message.size();
            else
                return 8;
        },
        v.storage());
}

} // namespace weft
