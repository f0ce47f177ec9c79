// The master's telemetry record on its own: clock mapping, bounded spans that still cover the
// whole run, freed entries. (The sample's wire form: tst_telemetry_codec.)

#include "sample_codec.h"
#include "telemetry_hub.h"

#include <QtTest>

using namespace weft;
using namespace weft::detail;

namespace {
constexpr std::int64_t kMs = 1'000'000;

WireSample sample_with_spans(
    std::int64_t clock_ns, std::int64_t first_ns, int n, std::uint32_t label)
{
    WireSample w;
    w.clock_ns = clock_ns;
    for (int i = 0; i < n; ++i)
        w.spans.push_back({ first_ns + i * kMs, first_ns + i * kMs + kMs / 2, label,
            std::uint16_t(1 + i % 2), 0, 1 });
    w.labels.emplace_back(label, "k" + std::to_string(label));
    return w;
}
} // namespace

class TestTelemetryHub : public QObject {
    Q_OBJECT
private slots:
    // A worker whose clock is 5 s ahead: its spans land on the master's time line.
    void maps_the_sender_clock()
    {
        TelemetryHub hub({}, 0);
        const std::int64_t ahead = 5'000 * kMs;
        hub.ingest(2, sample_with_spans(ahead + 100 * kMs, ahead + 10 * kMs, 3, 7), 100 * kMs);
        auto s = hub.snapshot();
        QCOMPARE(s->spans.size(), std::size_t(3));
        const TaskSpan* first = nullptr;
        s->spans.for_each([&](const TaskSpan& t) {
            if (!first)
                first = &t;
        });
        QVERIFY(std::abs(first->start - 0.010) < 1e-9);
        QCOMPARE(s->kernel_names.at(first->kernel), std::string("k7"));
        QCOMPARE(s->processes.size(), std::size_t(1));
        QCOMPARE(s->processes[0].points.size(), std::size_t(1));
    }

    // Over the bound, spans merge but still stand for every task and cover the whole run.
    void spans_stay_bounded_over_a_long_run()
    {
        TelemetryOptions o;
        o.max_spans = 1000;
        TelemetryHub hub(o, 0);
        const int per = 500, batches = 40;
        for (int b = 0; b < batches; ++b) {
            const std::int64_t t0 = std::int64_t(b) * per * kMs;
            hub.ingest(2, sample_with_spans(t0 + per * kMs, t0, per, std::uint32_t(1 + b % 3)),
                t0 + per * kMs);
        }
        auto s = hub.snapshot();
        QVERIFY2(s->spans.size() <= o.max_spans, qPrintable(QString::number(s->spans.size())));
        QCOMPARE(s->spans_recorded, std::uint64_t(per * batches));
        std::uint64_t merged = 0;
        double lo = 1e18, hi = 0;
        s->spans.for_each([&](const TaskSpan& t) {
            merged += t.merged;
            lo = std::min(lo, t.start);
            hi = std::max(hi, t.end);
        });
        QCOMPARE(merged, std::uint64_t(per * batches));
        QVERIFY(lo < 0.001);
        QVERIFY(hi > (per * batches - 1) * 0.001);
    }

    void freed_entries_are_reported()
    {
        TelemetryHub hub({}, 0);
        WireSample a;
        StoreEntryInfo e;
        e.id = { 1, 42 };
        e.bytes = 800;
        a.sample.store = { e };
        a.sample.store_entries = 1;
        hub.ingest(2, std::move(a), kMs);
        WireSample b;
        hub.ingest(2, std::move(b), 100 * kMs);
        auto s = hub.snapshot();
        QCOMPARE(s->recently_freed.size(), std::size_t(1));
        QCOMPARE(s->recently_freed[0].info.id.n, std::uint64_t(42));
        QCOMPARE(s->recently_freed[0].owner, Pid(2));
    }
};

QTEST_GUILESS_MAIN(TestTelemetryHub)
#include "tst_telemetry_hub.moc"
