#include "codec.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace weft::detail {

void encode_ref_id(const RefId& id, wire::RefId::Builder out)
{
    out.setWhence(id.whence);
    out.setN(id.n);
}

RefId decode_ref_id(wire::RefId::Reader in)
{
    return { in.getWhence(), in.getN() };
}

void encode_error(const ErrorValue& e, wire::Error::Builder out)
{
    out.setType(e.type);
    out.setMessage(e.message);
    out.setOrigin(e.origin);
    auto bt = out.initBacktrace(static_cast<unsigned>(e.backtrace.size()));
    for (unsigned i = 0; i < e.backtrace.size(); ++i)
        bt.set(i, e.backtrace[i]);
    out.setSubject(e.subject);
    out.setKind(static_cast<wire::ErrorKind>(e.kind));
}

ErrorValue decode_error(wire::Error::Reader in)
{
    const auto kind = static_cast<unsigned>(in.getKind());
    if (kind > static_cast<unsigned>(ErrorKind::UnknownProcess))
        throw std::invalid_argument("unknown error kind " + std::to_string(kind));
    ErrorValue e { in.getType(), in.getMessage(), in.getOrigin(), {}, in.getSubject(),
        static_cast<ErrorKind>(kind) };
    for (auto line : in.getBacktrace())
        e.backtrace.emplace_back(line);
    return e;
}

namespace {

kj::ArrayPtr<const kj::byte> bytes_of(const std::string& s)
{
    return { reinterpret_cast<const kj::byte*>(s.data()), s.size() };
}

void encode_array(const Array& a, wire::NdArray::Builder out, OutFrame& frame)
{
    out.setDtype(static_cast<wire::DType>(a.dtype()));
    auto shape = out.initShape(static_cast<unsigned>(a.shape().size()));
    for (unsigned i = 0; i < a.shape().size(); ++i)
        shape.set(i, a.shape()[i]);
    const auto* p = reinterpret_cast<const kj::byte*>(a.data());
    const bool aligned = (reinterpret_cast<std::uintptr_t>(p) & 7) == 0;
    // Padding bytes up to the next word become visible on the wire: only arrays whose buffer is
    // a whole number of words (ours always are) may go out in place.
    if (a.bytes() >= kZeroCopyArrayBytes && aligned && a.bytes() % 8 == 0
        && frame.take_external_segment()) {
        frame.keep_alive(a.owner());
        out.adoptData(frame.builder().getOrphanage().referenceExternalData(
            capnp::Data::Reader(p, a.bytes())));
    } else {
        out.setData(capnp::Data::Reader(p, a.bytes()));
    }
}

Array decode_array(wire::NdArray::Reader in, const std::shared_ptr<const void>& owner)
{
    std::vector<std::uint64_t> shape;
    shape.reserve(in.getShape().size());
    for (auto d : in.getShape())
        shape.push_back(d);
    const auto dtype_raw = static_cast<unsigned>(in.getDtype());
    if (dtype_raw > static_cast<unsigned>(DType::Bool))
        throw std::invalid_argument("array with unknown dtype " + std::to_string(dtype_raw));
    const auto dtype = static_cast<DType>(dtype_raw);
    auto data = in.getData();
    // The shape is checked against the bytes the frame carries before anything is allocated.
    const auto need = Array::bytes_for(dtype, shape);
    if (!need || *need != data.size())
        throw std::invalid_argument("array shape needs "
            + (need ? std::to_string(*need) : std::string("more than 2^64"))
            + " bytes but the frame carries " + std::to_string(data.size()));
    const auto* p = reinterpret_cast<const std::byte*>(data.begin());
    if (data.size() >= kZeroCopyArrayBytes && (reinterpret_cast<std::uintptr_t>(p) & 7) == 0)
        return Array(dtype, std::move(shape), owner, p, data.size());
    auto a = Array::zeros(dtype, std::move(shape));
    if (data.size())
        std::memcpy(a.mutable_data(), p, data.size());
    return a;
}

} // namespace

void encode_ref_address(const RemoteRef& x, wire::RemoteRef::Builder r)
{
    r.setKind(x.kind == RefKind::Future ? wire::RefKind::FUTURE : wire::RefKind::CHANNEL);
    encode_ref_id(x.id, r.initId());
    r.setOwner(x.owner);
}

RemoteRef decode_ref_address(wire::RemoteRef::Reader r)
{
    return RemoteRef { r.getKind() == wire::RefKind::FUTURE ? RefKind::Future : RefKind::Channel,
        decode_ref_id(r.getId()), r.getOwner(), nullptr };
}

void encode_value(const Value& v, wire::Value::Builder out, OutFrame& frame, RefWriter* refs)
{
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>)
                out.setNil();
            else if constexpr (std::is_same_v<T, bool>)
                out.setBool(x);
            else if constexpr (std::is_same_v<T, std::int64_t>)
                out.setInt64(x);
            else if constexpr (std::is_same_v<T, double>)
                out.setFloat64(x);
            else if constexpr (std::is_same_v<T, std::string>)
                out.setText(x);
            else if constexpr (std::is_same_v<T, Bytes>)
                out.setBytes(bytes_of(x.data));
            else if constexpr (std::is_same_v<T, Array>)
                encode_array(x, out.initArray(), frame);
            else if constexpr (std::is_same_v<T, List>) {
                auto l = out.initList(static_cast<unsigned>(x.size()));
                for (unsigned i = 0; i < x.size(); ++i)
                    encode_value(x[i], l[i], frame, refs);
            } else if constexpr (std::is_same_v<T, Map>) {
                auto m = out.initMap(static_cast<unsigned>(x.size()));
                for (unsigned i = 0; i < x.size(); ++i) {
                    m[i].setKey(x[i].first);
                    encode_value(x[i].second, m[i].initValue(), frame, refs);
                }
            } else if constexpr (std::is_same_v<T, RemoteRef>) {
                if (refs)
                    refs->write(x, out.initRef(), frame);
                else
                    encode_ref_address(x, out.initRef());
            } else if constexpr (std::is_same_v<T, ErrorValue>) {
                encode_error(x, out.initError());
            }
        },
        v.storage());
}

Value decode_value(
    wire::Value::Reader in, const std::shared_ptr<const void>& owner, RefReader* refs)
{
    switch (in.which()) {
    case wire::Value::NIL:
        return {};
    case wire::Value::BOOL:
        return in.getBool();
    case wire::Value::INT64:
        return in.getInt64();
    case wire::Value::FLOAT64:
        return in.getFloat64();
    case wire::Value::TEXT:
        return std::string(in.getText());
    case wire::Value::BYTES: {
        auto d = in.getBytes();
        return Bytes { std::string(reinterpret_cast<const char*>(d.begin()), d.size()) };
    }
    case wire::Value::ARRAY:
        return decode_array(in.getArray(), owner);
    case wire::Value::LIST: {
        List l;
        l.reserve(in.getList().size());
        for (auto e : in.getList())
            l.push_back(decode_value(e, owner, refs));
        return l;
    }
    case wire::Value::MAP: {
        Map m;
        m.reserve(in.getMap().size());
        for (auto e : in.getMap())
            m.emplace_back(std::string(e.getKey()), decode_value(e.getValue(), owner, refs));
        return m;
    }
    case wire::Value::REF:
        return refs ? refs->read(in.getRef(), owner) : decode_ref_address(in.getRef());
    case wire::Value::ERROR:
        return decode_error(in.getError());
    }
    throw std::invalid_argument("value of unknown kind " + std::to_string(unsigned(in.which())));
}

} // namespace weft::detail
