#include "weft/value.h"

#include "scheduler.h"

#include <cstdlib>
#include <new>
#include <optional>
#include <span>
#include <sstream>

namespace weft {

namespace {
std::string shape_text(std::span<const std::uint64_t> shape)
{
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}
} // namespace

std::size_t dtype_size(DType t)
{
    switch (t) {
    case DType::Float64:
    case DType::Int64:
        return 8;
    case DType::Float32:
    case DType::Int32:
        return 4;
    case DType::UInt8:
    case DType::Bool:
        return 1;
    }
    return 1;
}

const char* dtype_name(DType t)
{
    switch (t) {
    case DType::Float64:
        return "float64";
    case DType::Float32:
        return "float32";
    case DType::Int64:
        return "int64";
    case DType::Int32:
        return "int32";
    case DType::UInt8:
        return "uint8";
    case DType::Bool:
        return "bool";
    }
    return "?";
}

Array::Array(DType dtype, std::vector<std::uint64_t> shape, std::shared_ptr<const void> owner,
    const std::byte* data, std::size_t bytes)
    : Array(EngineOwned {}, dtype, std::move(shape), std::move(owner), data, bytes)
{
    auto code = detail::task_code();
    if (!code || !owner_)
        return;
    // Members go in reverse order: the owner first, then the code its deleter is.
    struct Pinned {
        std::shared_ptr<const void> code;
        std::shared_ptr<const void> owner;
    };
    auto pinned = std::make_shared<const Pinned>(Pinned { std::move(code), std::move(owner_) });
    owner_ = std::shared_ptr<const void>(pinned, pinned.get());
}

Array::Array(EngineOwned, DType dtype, std::vector<std::uint64_t> shape,
    std::shared_ptr<const void> owner, const std::byte* data, std::size_t bytes)
    : dtype_(dtype)
    , shape_(std::move(shape))
    , owner_(std::move(owner))
    , data_(data)
    , bytes_(bytes)
{
    const auto need = bytes_for(dtype_, shape_);
    if (!need || *need != bytes_)
        throw std::invalid_argument("an array of shape " + shape_text(shape_) + " of "
            + dtype_name(dtype_) + " cannot be held in " + std::to_string(bytes_) + " bytes");
}

std::optional<std::size_t> Array::bytes_for(DType dtype, std::span<const std::uint64_t> shape)
{
    std::size_t n = dtype_size(dtype);
    for (auto d : shape)
        if (__builtin_mul_overflow(n, d, &n))
            return std::nullopt;
    return n;
}

Array Array::zeros(DType dtype, std::vector<std::uint64_t> shape)
{
    const auto checked = bytes_for(dtype, shape);
    if (!checked)
        throw std::length_error("an array of shape " + shape_text(shape) + " of "
            + dtype_name(dtype) + " has more bytes than memory can address");
    const std::size_t bytes = *checked;
    // Word-aligned and padded to a whole word, so the buffer can become a message segment as is.
    const std::size_t padded = (bytes + 7) / 8 * 8;
    void* p = padded ? std::aligned_alloc(64, (padded + 63) / 64 * 64) : nullptr;
    if (padded && !p)
        throw std::bad_alloc();
    if (padded)
        std::memset(p, 0, padded);
    std::shared_ptr<void> owner(p, [](void* q) { std::free(q); });
    return Array(EngineOwned {}, dtype, std::move(shape), std::move(owner),
        static_cast<std::byte*>(p), bytes);
}

std::size_t Array::size() const
{
    std::size_t n = 1;
    for (auto d : shape_)
        n *= d;
    return n;
}

bool operator==(const Array& a, const Array& b)
{
    return a.dtype_ == b.dtype_ && a.shape_ == b.shape_ && a.bytes_ == b.bytes_
        && (a.data_ == b.data_ || std::memcmp(a.data_, b.data_, a.bytes_) == 0);
}

namespace {
const char* kKindNames[] = { "nil", "bool", "int64", "float64", "text", "bytes", "array", "list",
    "map", "ref", "error" };

[[noreturn]] void mismatch(const Value& v, const char* wanted)
{
    throw std::invalid_argument(std::string("expected ") + wanted + ", got " + v.kind_name());
}
} // namespace

const char* Value::kind_name() const
{
    return kKindNames[v_.index()];
}

#define WEFT_VALUE_GETTER(fn, T, name)                                                             \
    T Value::fn() const                                                                            \
    {                                                                                              \
        if (auto* p = std::get_if<std::remove_cvref_t<T>>(&v_))                                    \
            return *p;                                                                             \
        mismatch(*this, name);                                                                     \
    }
WEFT_VALUE_GETTER(as_bool, bool, "bool")
WEFT_VALUE_GETTER(as_int, std::int64_t, "int64")
WEFT_VALUE_GETTER(as_text, const std::string&, "text")
WEFT_VALUE_GETTER(as_bytes, const Bytes&, "bytes")
WEFT_VALUE_GETTER(as_array, const Array&, "array")
WEFT_VALUE_GETTER(as_list, const List&, "list")
WEFT_VALUE_GETTER(as_map, const Map&, "map")
WEFT_VALUE_GETTER(as_ref, const RemoteRef&, "ref")
WEFT_VALUE_GETTER(as_error, const ErrorValue&, "error")
#undef WEFT_VALUE_GETTER

double Value::as_double() const
{
    if (auto* d = std::get_if<double>(&v_))
        return *d;
    if (auto* i = std::get_if<std::int64_t>(&v_))
        return static_cast<double>(*i);
    mismatch(*this, "float64");
}

namespace {
template <class T> void print_elems(std::ostream& os, const Array& a, std::size_t max_elems)
{
    auto v = a.view<T>();
    for (std::size_t i = 0; i < v.size() && i < max_elems; ++i)
        os << (i ? ", " : "") << +v[i];
    if (v.size() > max_elems)
        os << ", …";
}
} // namespace

std::string Value::repr(std::size_t max_elems) const
{
    std::ostringstream os;
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>)
                os << "nothing";
            else if constexpr (std::is_same_v<T, bool>)
                os << (x ? "true" : "false");
            else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>)
                os << x;
            else if constexpr (std::is_same_v<T, std::string>)
                os << '"' << x << '"';
            else if constexpr (std::is_same_v<T, Bytes>)
                os << x.data.size() << " bytes";
            else if constexpr (std::is_same_v<T, Array>) {
                for (std::size_t i = 0; i < x.shape().size(); ++i)
                    os << (i ? "×" : "") << x.shape()[i];
                os << ' ' << dtype_name(x.dtype()) << " [";
                switch (x.dtype()) {
                case DType::Float64:
                    print_elems<double>(os, x, max_elems);
                    break;
                case DType::Float32:
                    print_elems<float>(os, x, max_elems);
                    break;
                case DType::Int64:
                    print_elems<std::int64_t>(os, x, max_elems);
                    break;
                case DType::Int32:
                    print_elems<std::int32_t>(os, x, max_elems);
                    break;
                case DType::UInt8:
                    print_elems<std::uint8_t>(os, x, max_elems);
                    break;
                case DType::Bool:
                    print_elems<bool>(os, x, max_elems);
                    break;
                }
                os << ']';
            } else if constexpr (std::is_same_v<T, List>) {
                os << '[';
                for (std::size_t i = 0; i < x.size() && i < max_elems; ++i)
                    os << (i ? ", " : "") << x[i].repr(max_elems);
                if (x.size() > max_elems)
                    os << ", …";
                os << ']';
            } else if constexpr (std::is_same_v<T, Map>) {
                os << '{';
                for (std::size_t i = 0; i < x.size(); ++i)
                    os << (i ? ", " : "") << x[i].first << " => " << x[i].second.repr(max_elems);
                os << '}';
            } else if constexpr (std::is_same_v<T, RemoteRef>) {
                os << (x.kind == RefKind::Future ? "Future" : "RemoteChannel") << '(' << x.owner
                   << ", " << x.id.whence << ", " << x.id.n << ')';
            } else if constexpr (std::is_same_v<T, ErrorValue>) {
                os << x.type << ": " << x.message << " (on worker " << x.origin << ')';
            }
        },
        v_);
    return os.str();
}

} // namespace weft
