#pragma once
// Weft's dynamic value: what kernels take and return and what crosses the wire.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace weft {

using Pid = std::uint32_t;

enum class DType : std::uint8_t { Float64, Float32, Int64, Int32, UInt8, Bool };

[[nodiscard]] std::size_t dtype_size(DType t);
[[nodiscard]] const char* dtype_name(DType t);

template <class T> constexpr DType dtype_of()
{
    if constexpr (std::is_same_v<T, double>)
        return DType::Float64;
    else if constexpr (std::is_same_v<T, float>)
        return DType::Float32;
    else if constexpr (std::is_same_v<T, std::int64_t>)
        return DType::Int64;
    else if constexpr (std::is_same_v<T, std::int32_t>)
        return DType::Int32;
    else if constexpr (std::is_same_v<T, std::uint8_t>)
        return DType::UInt8;
    else if constexpr (std::is_same_v<T, bool>)
        return DType::Bool;
    else
        static_assert(!sizeof(T*), "unsupported array element type");
}

// Identity of a remote value: created by process `whence`, its `n`-th reference.
struct RefId {
    Pid whence = 0;
    std::uint64_t n = 0;
    friend bool operator==(const RefId&, const RefId&) = default;
};

enum class RefKind : std::uint8_t { Future, Channel };

// What keeps a remote value alive for one process: a Future's or a RemoteChannel's handle. Opaque
// to users; copies of a RemoteRef share it.
class RefHold {
public:
    virtual ~RefHold() = default;
};

// A reference to a remote value or channel. As a value it holds its referent like a handle does:
// `hold` is this process's hold (a reference made from a Future or a RemoteChannel, or received
// in a message, has one), and a reference sent to another process gives that process its own
// hold before it leaves, as Julia's protocol adds the receiver as a client first. So a reference
// inside a channel item, a list or a result keeps its value alive wherever it is. As in Julia,
// a cycle across processes (a channel that holds itself through its items) is never freed.
struct RemoteRef {
    RemoteRef() = default;
    RemoteRef(RefKind k, RefId i, Pid o, std::shared_ptr<RefHold> h = {})
        : kind(k)
        , id(i)
        , owner(o)
        , hold(std::move(h))
    {
    }
    RefKind kind = RefKind::Future;
    RefId id;
    Pid owner = 0;
    std::shared_ptr<RefHold> hold; // empty: a bare address, which keeps nothing alive
    // The same reference, whoever holds it.
    friend bool operator==(const RemoteRef& a, const RemoteRef& b)
    {
        return a.kind == b.kind && a.id == b.id && a.owner == b.owner;
    }
};

// Which typed exception an error value becomes when it is thrown (see throw_error_value).
enum class ErrorKind : std::uint8_t {
    Remote, // RemoteException: a kernel's own error, or one raised inside a kernel
    KernelNotFound,
    ProcessExited,
    InvalidState,
    Connection,
    UnknownProcess,
};

// An error carried as a value (a failed call's result).
struct ErrorValue {
    std::string type; // for people: "std::runtime_error", "KernelNotFound", ...
    std::string message;
    Pid origin = 0;
    std::vector<std::string> backtrace;
    std::string subject; // what the error is about: a kernel name, a reference
    ErrorKind kind = ErrorKind::Remote;
    friend bool operator==(const ErrorValue&, const ErrorValue&) = default;
};

// An immutable N-d array (column-major, like Julia). Copies share the buffer, which may be a
// region of a received frame: arrays are read in place.
class Array {
public:
    Array() = default;
    // An array over `data`, which `owner` keeps alive. Made by a kernel of a kernel library, the
    // array keeps that library loaded too, so the owner's deleter can still run after a reload.
    Array(DType dtype, std::vector<std::uint64_t> shape, std::shared_ptr<const void> owner,
        const std::byte* data, std::size_t bytes);

    // A new zero-filled array that the caller fills through `mutable_data` before sharing it.
    static Array zeros(DType dtype, std::vector<std::uint64_t> shape);
    // The bytes an array of this shape holds, or nothing when that overflows.
    [[nodiscard]] static std::optional<std::size_t> bytes_for(
        DType dtype, std::span<const std::uint64_t> shape);

    template <class T> static Array from(std::vector<T> values, std::vector<std::uint64_t> shape)
    {
        auto a = zeros(dtype_of<T>(), std::move(shape));
        if (a.size() != values.size())
            throw std::invalid_argument("Array::from: shape does not match the number of values");
        if constexpr (std::is_same_v<T, bool>) {
            auto* out = reinterpret_cast<std::uint8_t*>(a.mutable_data());
            for (std::size_t i = 0; i < values.size(); ++i)
                out[i] = values[i] ? 1 : 0;
        } else if (!values.empty()) {
            std::memcpy(a.mutable_data(), values.data(), values.size() * sizeof(T));
        }
        return a;
    }
    template <class T> static Array from(std::vector<T> values)
    {
        auto n = static_cast<std::uint64_t>(values.size());
        return from(std::move(values), { n });
    }

    [[nodiscard]] DType dtype() const { return dtype_; }
    [[nodiscard]] const std::vector<std::uint64_t>& shape() const { return shape_; }
    [[nodiscard]] std::size_t size() const; // number of elements
    [[nodiscard]] std::size_t bytes() const { return bytes_; }
    [[nodiscard]] const std::byte* data() const { return data_; }
    [[nodiscard]] const std::shared_ptr<const void>& owner() const { return owner_; }
    // Only for an array made by `zeros` and not yet shared.
    [[nodiscard]] std::byte* mutable_data() { return const_cast<std::byte*>(data_); }

    template <class T> [[nodiscard]] std::span<const T> view() const
    {
        if (dtype_ != dtype_of<T>())
            throw std::invalid_argument(std::string("array holds ") + dtype_name(dtype_) + ", not "
                + dtype_name(dtype_of<T>()));
        return { reinterpret_cast<const T*>(data_), size() };
    }

    friend bool operator==(const Array& a, const Array& b);

private:
    struct EngineOwned { }; // an owner whose deleter is the engine's own
    Array(EngineOwned, DType dtype, std::vector<std::uint64_t> shape,
        std::shared_ptr<const void> owner, const std::byte* data, std::size_t bytes);

    DType dtype_ = DType::Float64;
    std::vector<std::uint64_t> shape_;
    std::shared_ptr<const void> owner_;
    const std::byte* data_ = nullptr;
    std::size_t bytes_ = 0;
};

struct Bytes {
    std::string data;
    friend bool operator==(const Bytes&, const Bytes&) = default;
};

// What a Value holds (in the order of Value::Storage). Declared before the List and Map aliases,
// whose names its enumerators share.
enum class ValueKind { Nil, Bool, Int64, Float64, Text, Bytes, Array, List, Map, Ref, Error };

class Value;
using List = std::vector<Value>;
using Map = std::vector<std::pair<std::string, Value>>;

class Value {
public:
    using Storage = std::variant<std::monostate, bool, std::int64_t, double, std::string, Bytes,
        Array, List, Map, RemoteRef, ErrorValue>;
    using Kind = ValueKind;

    Value() = default;
    Value(std::nullptr_t) { }
    Value(bool b)
        : v_(b)
    {
    }
    template <class I>
    requires(std::is_integral_v<I> && !std::is_same_v<I, bool>) Value(I i)
        : v_(static_cast<std::int64_t>(i))
    {
    }
    Value(double d)
        : v_(d)
    {
    }
    Value(float d)
        : v_(static_cast<double>(d))
    {
    }
    Value(std::string s)
        : v_(std::move(s))
    {
    }
    Value(const char* s)
        : v_(std::string(s))
    {
    }
    Value(Bytes b)
        : v_(std::move(b))
    {
    }
    Value(Array a)
        : v_(std::move(a))
    {
    }
    Value(List l)
        : v_(std::move(l))
    {
    }
    Value(Map m)
        : v_(std::move(m))
    {
    }
    Value(RemoteRef r)
        : v_(r)
    {
    }
    Value(ErrorValue e)
        : v_(std::move(e))
    {
    }

    [[nodiscard]] Kind kind() const { return static_cast<Kind>(v_.index()); }
    [[nodiscard]] const char* kind_name() const;
    [[nodiscard]] bool is_nil() const { return kind() == Kind::Nil; }
    [[nodiscard]] bool is_error() const { return kind() == Kind::Error; }

    // Typed access; throws std::invalid_argument naming both kinds on a mismatch.
    [[nodiscard]] bool as_bool() const;
    [[nodiscard]] std::int64_t as_int() const;
    [[nodiscard]] double as_double() const; // also converts an int64
    [[nodiscard]] const std::string& as_text() const;
    [[nodiscard]] const Bytes& as_bytes() const;
    [[nodiscard]] const Array& as_array() const;
    [[nodiscard]] const List& as_list() const;
    [[nodiscard]] const Map& as_map() const;
    [[nodiscard]] const RemoteRef& as_ref() const;
    [[nodiscard]] const ErrorValue& as_error() const;

    [[nodiscard]] const Storage& storage() const { return v_; }
    [[nodiscard]] Storage& storage() { return v_; }

    // A short human-readable rendering (arrays abbreviated), for logs and the CLI.
    [[nodiscard]] std::string repr(std::size_t max_elems = 8) const;

    friend bool operator==(const Value&, const Value&) = default;

private:
    Storage v_;
};

} // namespace weft

template <> struct std::hash<weft::RefId> {
    std::size_t operator()(const weft::RefId& r) const noexcept
    {
        return std::hash<std::uint64_t>()(r.n * 0x9E3779B97F4A7C15ull ^ r.whence);
    }
};
