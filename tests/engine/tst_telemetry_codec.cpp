// A process's sample on the wire (the typed Telemetry struct): every field round-trips bit for
// bit through a real frame, spans travel packed, and a malformed sample gets a clear error.

#include "framing.h"
#include "sample_codec.h"

#include <capnp/serialize.h>

#include <QtTest>

#include <random>

using namespace weft;
using namespace weft::detail;

namespace {
constexpr std::int64_t kMs = 1'000'000;

// Writes `w` into a frame, reads it back from the frame's bytes.
WireSample round_trip(const WireSample& w)
{
    capnp::MallocMessageBuilder b;
    encode_sample(w, b.initRoot<wire::Telemetry>());
    auto words = capnp::messageToFlatArray(b);
    capnp::FlatArrayMessageReader r(words);
    return decode_sample(r.getRoot<wire::Telemetry>());
}

WireSample random_sample(std::mt19937_64& g)
{
    std::uniform_int_distribution<std::uint64_t> u64;
    std::uniform_int_distribution<int> small(0, 6);
    WireSample w;
    auto& s = w.sample;
    w.clock_ns = static_cast<std::int64_t>(u64(g) >> 1);
    s.cpu_percent = double(u64(g) % 20000) / 100.0;
    s.rss_bytes = u64(g);
    for (auto& p : s.pools)
        p = { small(g), small(g), u64(g), u64(g), u64(g) };
    for (int i = small(g); i > 0; --i)
        s.channels.push_back(
            { { Pid(small(g)), u64(g) }, u64(g), u64(g), u64(g), u64(g), bool(small(g) & 1) });
    s.store_entries = u64(g);
    s.store_bytes = u64(g);
    static const char* states[] = { "pending", "ready", "error", "open", "closed" };
    for (int i = small(g); i > 0; --i) {
        StoreEntryInfo e;
        e.id = { Pid(small(g)), u64(g) };
        e.kind = small(g) & 1 ? RefKind::Channel : RefKind::Future;
        e.bytes = u64(g) % 1'000'000;
        for (int h = small(g); h > 0; --h)
            e.holders[Pid(h)] = small(g) - 3;
        e.state = states[small(g) % 5];
        e.age_seconds = double(u64(g) % 1000) / 7.0;
        e.length = u64(g) % 100;
        e.capacity = u64(g) % 100;
        s.store.push_back(e);
    }
    for (int i = small(g); i > 0; --i)
        s.traffic[Pid(i)] = { u64(g), u64(g), u64(g), u64(g) };
    for (int i = small(g) * 50; i > 0; --i)
        w.spans.push_back({ static_cast<std::int64_t>(u64(g) >> 1),
            static_cast<std::int64_t>(u64(g) >> 1), std::uint32_t(u64(g)), std::uint16_t(u64(g)),
            std::uint8_t(small(g) & 1), std::uint8_t(small(g) & 1) });
    for (int i = small(g); i > 0; --i)
        w.labels.emplace_back(std::uint32_t(i), "kernel " + std::to_string(u64(g)));
    s.spans_dropped = u64(g);
    return w;
}

bool same(const StoreEntryInfo& a, const StoreEntryInfo& b)
{
    return a.id == b.id && a.kind == b.kind && a.bytes == b.bytes && a.holders == b.holders
        && a.state == b.state && a.age_seconds == b.age_seconds && a.length == b.length
        && a.capacity == b.capacity;
}
} // namespace

class TestTelemetryCodec : public QObject {
    Q_OBJECT
private slots:
    // Random samples, every field compared exactly (the seed is printed; WEFT_CODEC_SEED reruns).
    void random_samples_round_trip()
    {
        const auto seed = std::getenv("WEFT_CODEC_SEED")
            ? std::strtoull(std::getenv("WEFT_CODEC_SEED"), nullptr, 10)
            : std::random_device {}();
        qInfo("seed %llu", static_cast<unsigned long long>(seed));
        std::mt19937_64 g(seed);
        for (int round = 0; round < 200; ++round) {
            const auto w = random_sample(g);
            const auto r = round_trip(w);
            const auto &a = w.sample, &b = r.sample;
            QCOMPARE(r.clock_ns, w.clock_ns);
            QCOMPARE(b.cpu_percent, a.cpu_percent);
            QCOMPARE(b.rss_bytes, a.rss_bytes);
            for (std::size_t i = 0; i < a.pools.size(); ++i) {
                QCOMPARE(b.pools[i].threads, a.pools[i].threads);
                QCOMPARE(b.pools[i].busy, a.pools[i].busy);
                QCOMPARE(b.pools[i].runnable, a.pools[i].runnable);
                QCOMPARE(b.pools[i].blocked, a.pools[i].blocked);
                QCOMPARE(b.pools[i].completed, a.pools[i].completed);
            }
            QCOMPARE(b.channels.size(), a.channels.size());
            for (std::size_t i = 0; i < a.channels.size(); ++i) {
                QVERIFY(b.channels[i].id == a.channels[i].id);
                QCOMPARE(b.channels[i].length, a.channels[i].length);
                QCOMPARE(b.channels[i].capacity, a.channels[i].capacity);
                QCOMPARE(b.channels[i].waiting_putters, a.channels[i].waiting_putters);
                QCOMPARE(b.channels[i].waiting_takers, a.channels[i].waiting_takers);
                QCOMPARE(b.channels[i].closed, a.channels[i].closed);
            }
            QCOMPARE(b.store_entries, a.store_entries);
            QCOMPARE(b.store_bytes, a.store_bytes);
            QCOMPARE(b.store.size(), a.store.size());
            for (std::size_t i = 0; i < a.store.size(); ++i)
                QVERIFY(same(b.store[i], a.store[i]));
            QCOMPARE(b.traffic.size(), a.traffic.size());
            for (const auto& [peer, t] : a.traffic) {
                QCOMPARE(b.traffic.at(peer).messages_sent, t.messages_sent);
                QCOMPARE(b.traffic.at(peer).bytes_received, t.bytes_received);
            }
            QCOMPARE(r.spans.size(), w.spans.size());
            QVERIFY(r.spans.empty()
                || std::memcmp(r.spans.data(), w.spans.data(), w.spans.size() * sizeof(RawSpan))
                    == 0);
            QCOMPARE(r.labels, w.labels);
            QCOMPARE(b.spans_dropped, a.spans_dropped);
        }
    }

    void spans_are_packed()
    {
        WireSample w;
        w.spans.push_back({ 1, 2 * kMs, 7, 3, 1, 1 });
        w.spans.push_back({ kMs, 3 * kMs, 8, 4, 0, 0 });
        capnp::MallocMessageBuilder b;
        auto t = b.initRoot<wire::Telemetry>();
        encode_sample(w, t);
        QCOMPARE(t.asReader().getSpans().size(), 2u * 24u);
        auto r = round_trip(w);
        QCOMPARE(r.spans.size(), std::size_t(2));
        QCOMPARE(r.spans[1].start_ns, kMs);
        QCOMPARE(r.spans[0].label, 7u);
        QCOMPARE(r.spans[0].finished, std::uint8_t(1));
    }

    void malformed_sample_names_the_field()
    {
        {
            capnp::MallocMessageBuilder b;
            b.initRoot<wire::Telemetry>().initSpans(25);
            try {
                (void)decode_sample(b.getRoot<wire::Telemetry>().asReader());
                QFAIL("expected an error");
            } catch (const std::invalid_argument& e) {
                QVERIFY2(QString(e.what()).contains("spans are 25 bytes"), e.what());
            }
        }
        {
            capnp::MallocMessageBuilder b;
            auto row = b.initRoot<wire::Telemetry>().initStore(1)[0];
            row.setState(static_cast<wire::StoreState>(9));
            try {
                (void)decode_sample(b.getRoot<wire::Telemetry>().asReader());
                QFAIL("expected an error");
            } catch (const std::invalid_argument& e) {
                QVERIFY2(QString(e.what()).contains("unknown store state 9"), e.what());
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestTelemetryCodec)
#include "tst_telemetry_codec.moc"
