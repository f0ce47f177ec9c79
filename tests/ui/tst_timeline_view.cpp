// The timeline on a long run: a million spans over 16 workers.

#include "snapshot_builders.h"
#include "time_bound.h"
#include "timeline_view.h"

#include <QtTest>

using namespace weft;
using namespace weft::ui;
using namespace weft::ui::test;

class TestTimelineView : public QObject {
    Q_OBJECT
private slots:
    // A long run: a million spans over 16 workers. Live view paints only the last seconds, and
    // must stay far under a 10 Hz frame budget.
    void timeline_paints_a_long_run_quickly()
    {
        auto s = std::make_shared<TelemetrySnapshot>();
        s->kernel_names = { "task", "work_ms", "square" };
        const int n = 1'000'000;
        std::vector<TaskSpan> all;
        all.reserve(n);
        for (int i = 0; i < n; ++i) {
            TaskSpan t;
            t.pid = Pid(2 + i % 16);
            t.thread = std::uint16_t(1 + (i / 16) % 2);
            t.start = i * 0.0006;
            t.end = t.start + 0.0004;
            t.kernel = std::uint32_t(1 + i % 2);
            t.finished = true;
            all.push_back(t);
        }
        for (std::size_t i = 0; i < all.size(); i += 4096)
            s->spans.chunks.push_back(
                std::make_shared<const std::vector<TaskSpan>>(all.begin() + std::ptrdiff_t(i),
                    all.begin() + std::ptrdiff_t(std::min(all.size(), i + 4096))));
        s->time = n * 0.0006;
        for (Pid p = 1; p <= 17; ++p)
            s->processes.push_back(process(p, 0));
        TimelineView v;
        v.resize(1200, 600);
        QElapsedTimer t;
        t.start();
        v.apply(s);
        const auto applyMs = t.elapsed(); // what the GUI thread spends: the rest is off it
        QTRY_COMPARE(v.plansApplied(), 1); // the rows, worked out on a worker thread
        qInfo("timeline, 1M spans: rows planned off the GUI thread in %lld ms", t.elapsed());
        (void)v.grab(); // the first paint also loads fonts
        t.restart();
        (void)v.grab();
        const auto paintMs = t.elapsed();
        qInfo("timeline, 1M spans: apply %lld ms, paint %lld ms, %d bars drawn", applyMs, paintMs,
            v.spansInView());
        QVERIFY(v.spansInView() > 1000);
        // The figure is the line above (~25 ms); the bound catches a painter that goes back to
        // drawing every span (seconds), when WEFT_TEST_TIME_SCALE asks for bounds. Debug and
        // sanitizer builds run the painter 20-40x slower, so they only log the figure.
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
        QVERIFY2(weft::test::within_time_bound(applyMs + paintMs, 400),
            "a frame of a 1M-span run must not take seconds");
#endif
    }
};

QTEST_MAIN(TestTimelineView)
#include "tst_timeline_view.moc"
