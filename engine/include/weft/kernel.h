#pragma once
// Kernels: named C++ functions with typed arguments and result, registered with one macro.
//
//     static std::int64_t count_heads(std::int64_t n) { ... }
//     WEFT_KERNEL(count_heads);
//
// A kernel may take `weft::Context&` first, to reach its process (nested calls, myid()).

#include "weft/value.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

class Process;

// What a running kernel can reach: the process it runs on, and who asked for the call.
class Context {
public:
    explicit Context(Process& p, Pid caller = 0)
        : process_(p)
        , caller_(caller)
    {
    }
    Process& process() { return process_; }
    Pid myid() const;
    // The process that made the call (this one for a local call; 0 when unknown).
    [[nodiscard]] Pid caller() const { return caller_; }

private:
    Process& process_;
    Pid caller_ = 0;
};

using KernelFn = std::function<Value(Context&, const List&)>;

// A kernel as a process has it loaded: what a GUI or a CLI lists.
struct KernelDescription {
    std::string name;
    std::string signature; // e.g. "(int64, int64) -> int64"
    std::string description; // one line, as WEFT_KERNEL(fn, "...") gave it ("" if none)
    // The parameters' types ("int64", "float64", "text", "array", "any", ...), without the
    // Context; empty with `variadic` for a kernel written against the value list.
    std::vector<std::string> params;
    std::string result; // the result's type ("nothing" for void)
    bool variadic = false;
    std::string library; // the kernel library that defines it ("" for the program's own)
    friend bool operator==(const KernelDescription&, const KernelDescription&) = default;
};

// Why `args` do not fit kernel `k`'s parameters, as "argument N: expected T, got U" or "takes N
// arguments, got M", or "" when they fit (or the kernel takes any arguments). What a process
// checks before it runs a call, for a front end to check before it submits one. A reference
// argument is not checked (it is fetched where the call runs).
[[nodiscard]] std::string argument_error(const KernelDescription& k, const List& args);

// A kernel library as one process has it loaded.
struct KernelLibraryInfo {
    std::string name; // as weft_add_kernel_library / WEFT_KERNEL_LIBRARY named it
    std::string version; // the library's own version ("" if none)
    std::string path; // the file it was loaded from
    std::vector<KernelDescription> kernels; // sorted by name
};

// ---- Conversions between C++ types and Value ------------------------------------------

template <class T> struct Convert;

template <> struct Convert<Value> {
    static Value from(const Value& v) { return v; }
    static Value to(Value v) { return v; }
    static constexpr const char* name = "any";
};
template <> struct Convert<bool> {
    static bool from(const Value& v) { return v.as_bool(); }
    static Value to(bool b) { return b; }
    static constexpr const char* name = "bool";
};
template <class I>
requires(std::is_integral_v<I> && !std::is_same_v<I, bool>) struct Convert<I> {
    static I from(const Value& v) { return static_cast<I>(v.as_int()); }
    static Value to(I i) { return static_cast<std::int64_t>(i); }
    static constexpr const char* name = "int64";
};
template <> struct Convert<double> {
    static double from(const Value& v) { return v.as_double(); }
    static Value to(double d) { return d; }
    static constexpr const char* name = "float64";
};
template <> struct Convert<std::string> {
    static std::string from(const Value& v) { return v.as_text(); }
    static Value to(std::string s) { return s; }
    static constexpr const char* name = "text";
};
template <> struct Convert<Bytes> {
    static Bytes from(const Value& v) { return v.as_bytes(); }
    static Value to(Bytes b) { return b; }
    static constexpr const char* name = "bytes";
};
template <> struct Convert<Array> {
    static Array from(const Value& v) { return v.as_array(); }
    static Value to(Array a) { return a; }
    static constexpr const char* name = "array";
};
template <> struct Convert<List> {
    static List from(const Value& v) { return v.as_list(); }
    static Value to(List l) { return l; }
    static constexpr const char* name = "list";
};
template <> struct Convert<Map> {
    static Map from(const Value& v) { return v.as_map(); }
    static Value to(Map m) { return m; }
    static constexpr const char* name = "map";
};
template <> struct Convert<RemoteRef> {
    static RemoteRef from(const Value& v) { return v.as_ref(); }
    static Value to(RemoteRef r) { return r; }
    static constexpr const char* name = "ref";
};
// Numeric vectors travel as 1-d arrays and are also accepted from lists of numbers.
template <class T>
requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) struct Convert<std::vector<T>> {
    static std::vector<T> from(const Value& v)
    {
        if (v.kind() == Value::Kind::List) {
            std::vector<T> out;
            for (const auto& e : v.as_list())
                out.push_back(
                    static_cast<T>(std::is_floating_point_v<T> ? e.as_double() : e.as_int()));
            return out;
        }
        auto s = v.as_array().view<T>();
        return { s.begin(), s.end() };
    }
    static Value to(std::vector<T> v) { return Array::from(std::move(v)); }
    static constexpr const char* name
        = std::is_floating_point_v<T> ? "vector<float64>" : "vector<int64>";
};

// Parameter types that need the kernel's process to be made (handles: Future, RemoteChannel).
// A parameter of such a type receives the reference itself: it is not fetched before the call.
template <class T> struct ConvertInContext {
    static constexpr bool enabled = false;
};
template <class T>
concept ContextConverted = requires
{
    ConvertInContext<T>::name;
};

template <class T> Value to_value(T&& x)
{
    return Convert<std::decay_t<T>>::to(std::forward<T>(x));
}

namespace detail {

template <class T> inline constexpr bool is_context_v = std::is_same_v<std::decay_t<T>, Context>;

template <class T> constexpr const char* type_name_of()
{
    if constexpr (ContextConverted<T>)
        return ConvertInContext<T>::name;
    else
        return Convert<T>::name;
}

// The parameters' type names, without the Context a kernel may take first.
template <class... A> std::vector<std::string> parameter_types()
{
    std::vector<std::string> out;
    (
        [&] {
            if constexpr (!is_context_v<A>)
                out.emplace_back(type_name_of<std::decay_t<A>>());
        }(),
        ...);
    return out;
}

template <class R> constexpr const char* result_type()
{
    if constexpr (std::is_void_v<R>)
        return "nothing";
    else
        return Convert<std::decay_t<R>>::name;
}

[[noreturn]] void throw_arity(std::size_t want, std::size_t got);
[[noreturn]] void throw_argument(std::size_t index, const std::exception& e);

template <class R, class... A, std::size_t... I>
Value invoke_typed(R (*fn)(A...), Context& ctx, const List& args, std::index_sequence<I...>)
{
    auto conv = [&](auto tag, std::size_t i) -> decltype(auto) {
        using T = std::decay_t<typename decltype(tag)::type>;
        if constexpr (is_context_v<T>) {
            return static_cast<Context&>(ctx);
        } else if constexpr (ContextConverted<T>) {
            try {
                return ConvertInContext<T>::from(ctx, args[i]);
            } catch (const std::exception& e) {
                throw_argument(i, e);
            }
        } else {
            try {
                return Convert<T>::from(args[i]);
            } catch (const std::exception& e) {
                throw_argument(i, e);
            }
        }
    };
    constexpr std::size_t offset
        = (sizeof...(A) > 0 && is_context_v<std::tuple_element_t<0, std::tuple<A..., void>>>) ? 1
                                                                                              : 0;
    if constexpr (std::is_void_v<R>) {
        fn(conv(std::type_identity<A>(), I - offset)...);
        return {};
    } else {
        return to_value(fn(conv(std::type_identity<A>(), I - offset)...));
    }
}

// A kernel written against values directly takes any number of arguments.
using RawKernel = Value (*)(Context&, const List&);
inline KernelFn make_kernel(RawKernel fn)
{
    return fn;
}
inline std::string signature_of(RawKernel)
{
    return "(any...) -> any";
}

template <class R, class... A> KernelFn make_kernel(R (*fn)(A...))
{
    constexpr bool takes_ctx
        = sizeof...(A) > 0 && is_context_v<std::tuple_element_t<0, std::tuple<A..., void>>>;
    constexpr std::size_t arity = sizeof...(A) - (takes_ctx ? 1 : 0);
    return [fn](Context& ctx, const List& args) -> Value {
        if (args.size() != arity)
            throw_arity(arity, args.size());
        return invoke_typed(fn, ctx, args, std::index_sequence_for<A...>());
    };
}

inline std::vector<bool> keeps_ref_of(RawKernel)
{
    return {};
}
template <class R, class... A> std::vector<bool> keeps_ref_of(R (*)(A...))
{
    std::vector<bool> keep;
    [[maybe_unused]] bool first = true;
    (
        [&] {
            using T = std::decay_t<A>;
            if (first && is_context_v<T>) {
                first = false;
                return;
            }
            first = false;
            keep.push_back(ContextConverted<T>);
        }(),
        ...);
    return keep;
}

template <class R, class... A> std::string signature_of(R (*)(A...))
{
    std::string s = "(";
    for (const auto& p : parameter_types<A...>())
        s += (s.size() > 1 ? ", " : "") + p;
    return s + ") -> " + result_type<R>();
}

inline std::vector<std::string> parameters_of(RawKernel)
{
    return {};
}
template <class R, class... A> std::vector<std::string> parameters_of(R (*)(A...))
{
    return parameter_types<A...>();
}
inline const char* result_of(RawKernel)
{
    return "any";
}
template <class R, class... A> const char* result_of(R (*)(A...))
{
    return result_type<R>();
}
inline constexpr bool is_variadic(RawKernel)
{
    return true;
}
template <class R, class... A> constexpr bool is_variadic(R (*)(A...))
{
    return false;
}

// Kernels defined with WEFT_KERNEL in one binary or plugin, in a list private to it.
struct KernelDef {
    const char* name;
    std::string signature;
    KernelFn fn;
    std::vector<bool> keeps_ref;
    std::vector<std::string> params;
    const char* result = "any";
    bool variadic = false;
    const char* description = "";
    KernelDef* next = nullptr;
};
// The description a WEFT_KERNEL gave, or none.
constexpr const char* describe(const char* description = "")
{
    return description;
}
__attribute__((visibility("hidden"))) inline KernelDef* g_kernel_defs = nullptr;

struct KernelRegistrar {
    explicit KernelRegistrar(KernelDef& d)
    {
        d.next = g_kernel_defs;
        g_kernel_defs = &d;
    }
};

} // namespace detail
} // namespace weft

#define WEFT_KERNEL_CONCAT2(a, b) a##b
#define WEFT_KERNEL_CONCAT(a, b) WEFT_KERNEL_CONCAT2(a, b)

// Registers the function `fn` as the kernel named `name`, with an optional one-line description:
//     WEFT_KERNEL_AS("sum", sum_values, "Adds its arguments");
#define WEFT_KERNEL_AS(name, fn, ...)                                                              \
    static ::weft::detail::KernelDef WEFT_KERNEL_CONCAT(weft_kernel_def_, __LINE__) { name,        \
        ::weft::detail::signature_of(&fn), ::weft::detail::make_kernel(&fn),                       \
        ::weft::detail::keeps_ref_of(&fn), ::weft::detail::parameters_of(&fn),                     \
        ::weft::detail::result_of(&fn), ::weft::detail::is_variadic(&fn),                          \
        ::weft::detail::describe(__VA_ARGS__) };                                                   \
    static const ::weft::detail::KernelRegistrar WEFT_KERNEL_CONCAT(weft_kernel_reg_, __LINE__)    \
    {                                                                                              \
        WEFT_KERNEL_CONCAT(weft_kernel_def_, __LINE__)                                             \
    }

// Registers the function `fn` as a kernel of the same name, with an optional one-line description:
//     WEFT_KERNEL(count_heads, "Counts heads in n coin flips");
#define WEFT_KERNEL(fn, ...) WEFT_KERNEL_AS(#fn, fn __VA_OPT__(, ) __VA_ARGS__)
