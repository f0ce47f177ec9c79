// What File ▸ Export writes: series as CSV, the timeline as a Chrome/Perfetto trace.

#include "exporters.h"
#include "snapshot_builders.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

using namespace weft;
using namespace weft::ui;
using namespace weft::ui::test;

class TestExporters : public QObject {
    Q_OBJECT
private slots:
    void exports()
    {
        TelemetrySnapshot s;
        auto p = process(2, 1);
        ProcessPoint pt;
        pt.time = 1.5;
        pt.cpu_percent = 99;
        pt.threads = { 2, 1 };
        pt.busy = { 1, 0 };
        p.points = series<ProcessPoint>({ pt, pt });
        s.processes = { p };
        ChannelHistory c;
        c.id = { 1, 3 };
        c.owner = 2;
        c.points = series<ChannelPoint>({ { 1.0, 4, 10 } });
        s.channels = { c };
        s.kernel_names = { "task", "work_ms" };
        TaskSpan t;
        t.start = 0.5;
        t.end = 0.75;
        t.pid = 2;
        t.thread = 1;
        t.kernel = 1;
        t.finished = true;
        s.spans = series<TaskSpan>({ t });

        const auto csv = QString::fromUtf8(processSeriesCsv(s)).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(csv.size(), 3);
        QVERIFY(csv[0].startsWith("time_s,pid,cpu_percent"));
        QVERIFY(csv[1].startsWith("1.500,2,99.0,"));
        QCOMPARE(csv[0].count(','), csv[1].count(','));
        QVERIFY(channelSeriesCsv(s).contains("1.000,2,1,3,4,10"));

        QJsonParseError err;
        const auto doc = QJsonDocument::fromJson(perfettoTrace(s), &err);
        QCOMPARE(err.error, QJsonParseError::NoError);
        const auto events = doc.object()["traceEvents"].toArray();
        bool span = false, named = false;
        for (const auto& e : events) {
            const auto o = e.toObject();
            if (o["ph"] == "X") {
                span = true;
                QCOMPARE(o["name"].toString(), QString("work_ms"));
                QCOMPARE(o["ts"].toDouble(), 500000.0);
                QCOMPARE(o["dur"].toDouble(), 250000.0);
                QCOMPARE(o["pid"].toInt(), 2);
            }
            if (o["ph"] == "M" && o["name"] == "process_name")
                named |= o["args"].toObject()["name"].toString() == "worker 2";
        }
        QVERIFY(span && named);
        QString error;
        QVERIFY(!writeFile("/nonexistent-dir/x.csv", "x", &error));
        QVERIFY(error.contains("/nonexistent-dir/x.csv"));
    }
};

QTEST_MAIN(TestExporters)
#include "tst_exporters.moc"
