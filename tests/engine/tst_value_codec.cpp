// Value <-> Cap'n Proto round trips through real framing, including in-place decoding of arrays.

#include "codec.h"
#include "framing.h"

#include <capnp/serialize.h>

#include <QtTest>

#include <cstring>

using namespace weft;
using namespace weft::detail;

Q_DECLARE_METATYPE(weft::Value)

namespace {

std::vector<std::byte> flatten(OutFrame& f)
{
    std::vector<std::byte> out;
    for (const auto& v : f.iov()) {
        auto* p = static_cast<const std::byte*>(v.iov_base);
        out.insert(out.end(), p, p + v.iov_len);
    }
    return out;
}

// Encodes `v` as the value of a Result message, frames it, decodes it back.
Value round_trip(const Value& v, InFrame* keep = nullptr)
{
    OutFrame f;
    auto r = f.root().initResult();
    r.setCallId(7);
    encode_value(v, r.initValue(), f);
    f.finish();
    const auto bytes = flatten(f);
    FrameDecoder dec;
    std::size_t fed = 0;
    InFrame frame;
    std::string error;
    for (;;) {
        auto space = dec.write_space();
        const std::size_t n = std::min(space.size(), bytes.size() - fed);
        std::memcpy(space.data(), bytes.data() + fed, n);
        fed += n;
        dec.commit(n);
        auto st = dec.next(frame, error);
        if (st == FrameDecoder::Status::Frame)
            break;
        if (st == FrameDecoder::Status::Rejected || st == FrameDecoder::Status::Corrupt)
            throw std::runtime_error(error);
        if (fed == bytes.size())
            throw std::runtime_error("incomplete frame");
    }
    capnp::ReaderOptions ro;
    ro.traversalLimitInWords = uint64_t(1) << 32;
    ro.nestingLimit = WireLimits {}.nesting_limit;
    capnp::SegmentArrayMessageReader reader({ frame.segments.data(), frame.segments.size() }, ro);
    auto msg = reader.getRoot<wire::Message>();
    if (!msg.isResult() || msg.getResult().getCallId() != 7)
        throw std::runtime_error("wrong message decoded");
    Value out = decode_value(msg.getResult().getValue(), frame.owner);
    if (keep)
        *keep = std::move(frame);
    return out;
}

} // namespace

class TestValueCodec : public QObject {
    Q_OBJECT
private slots:
    void roundTrip_data()
    {
        QTest::addColumn<Value>("value");
        QTest::newRow("nil") << Value();
        QTest::newRow("true") << Value(true);
        QTest::newRow("int64 min") << Value(std::numeric_limits<std::int64_t>::min());
        QTest::newRow("float64") << Value(3.25);
        QTest::newRow("text") << Value("hello, wörld");
        QTest::newRow("empty text") << Value("");
        QTest::newRow("bytes") << Value(Bytes { std::string("\0\1\2\xff", 4) });
        QTest::newRow("float64 2x3")
            << Value(Array::from(std::vector<double> { 1, 2, 3, 4, 5, 6 }, { 2, 3 }));
        QTest::newRow("float32") << Value(Array::from(std::vector<float> { 1.5f, -2.5f }));
        QTest::newRow("int64") << Value(Array::from(std::vector<std::int64_t> { -1, 0, 1 }));
        QTest::newRow("int32") << Value(Array::from(std::vector<std::int32_t> { 7, 8, 9 }));
        QTest::newRow("uint8 odd length")
            << Value(Array::from(std::vector<std::uint8_t> { 1, 2, 3, 4, 5 }));
        QTest::newRow("bool") << Value(Array::from(std::vector<bool> { true, false, true }));
        QTest::newRow("empty array") << Value(Array::from(std::vector<double> {}));
        QTest::newRow("list") << Value(List { 1, "two", 3.0, List { nullptr, false } });
        QTest::newRow("map") << Value(Map { { "a", 1 }, { "b", List { "x" } } });
        QTest::newRow("ref") << Value(RemoteRef { RefKind::Channel, { 3, 42 }, 5 });
        QTest::newRow("error") << Value(
            ErrorValue { "DomainError", "sqrt of -1", 4, { "in kernel 'f' on worker 4" }, "f" });
        List deep = { 1 };
        for (int i = 0; i < 30; ++i)
            deep = List { deep, Map { { "k", i } } };
        QTest::newRow("nested 30 deep") << Value(deep);
    }
    void roundTrip()
    {
        QFETCH(Value, value);
        const Value back = round_trip(value);
        QCOMPARE(back.kind(), value.kind());
        QVERIFY2(back == value, back.repr().c_str());
    }

    void bigArrayIsReadInPlace()
    {
        std::vector<double> v(1'000'000);
        for (std::size_t i = 0; i < v.size(); ++i)
            v[i] = double(i) * 0.5;
        const Value in = Array::from(v);
        InFrame frame;
        const Value out = round_trip(in, &frame);
        QVERIFY(out == in);
        const auto& a = out.as_array();
        QCOMPARE(a.size(), v.size());
        // Viewed in the received frame's buffer, not copied out of it.
        QCOMPARE(a.owner().get(), frame.owner.get());
        const auto* begin = reinterpret_cast<const std::byte*>(frame.segments.front().begin());
        const auto* end = reinterpret_cast<const std::byte*>(frame.segments.back().end());
        QVERIFY(a.data() >= begin && a.data() + a.bytes() <= end);
    }

    void bigArraySendsWithoutCopy()
    {
        auto a = Array::from(std::vector<double>(100'000, 1.0));
        OutFrame f;
        auto r = f.root().initResult();
        encode_value(a, r.initValue(), f);
        f.finish();
        bool found = false;
        for (const auto& v : f.iov())
            found |= v.iov_base == static_cast<const void*>(a.data());
        QVERIFY2(found, "the array's own buffer should be one of the frame's segments");
    }

    void excessiveNestingIsRejected()
    {
        List deep = { 1 };
        for (int i = 0; i < 200; ++i)
            deep = List { deep };
        try {
            round_trip(deep);
            QFAIL("expected a nesting error");
        } catch (const kj::Exception& e) {
            QVERIFY(std::string(e.getDescription().cStr()).find("too deeply-nested")
                != std::string::npos);
        }
    }

    void typedAccessMismatchNamesBothKinds()
    {
        try {
            (void)Value("x").as_int();
            QFAIL("expected std::invalid_argument");
        } catch (const std::invalid_argument& e) {
            QCOMPARE(QString(e.what()), QString("expected int64, got text"));
        }
    }
};

QTEST_GUILESS_MAIN(TestValueCodec)
#include "tst_value_codec.moc"
