#include "exporters.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include <set>

namespace weft::ui {

QByteArray processSeriesCsv(const TelemetrySnapshot& s)
{
    QByteArray out = "time_s,pid,cpu_percent,rss_bytes,default_threads,default_busy,"
                     "default_queued,default_waiting,interactive_threads,interactive_busy,"
                     "interactive_queued,interactive_waiting,store_entries,store_bytes,messages\n";
    for (auto& p : s.processes)
        p.points.for_each([&](const ProcessPoint& x) {
            out += QByteArray::number(x.time, 'f', 3) + ',' + QByteArray::number(p.pid) + ','
                + QByteArray::number(x.cpu_percent, 'f', 1) + ',' + QByteArray::number(x.rss_bytes);
            for (int k = 0; k < 2; ++k)
                out += ',' + QByteArray::number(x.threads[std::size_t(k)]) + ','
                    + QByteArray::number(x.busy[std::size_t(k)]) + ','
                    + QByteArray::number(x.runnable[std::size_t(k)]) + ','
                    + QByteArray::number(x.blocked[std::size_t(k)]);
            out += ',' + QByteArray::number(x.store_entries) + ','
                + QByteArray::number(x.store_bytes) + ',' + QByteArray::number(x.messages) + '\n';
        });
    return out;
}

QByteArray channelSeriesCsv(const TelemetrySnapshot& s)
{
    QByteArray out = "time_s,owner,channel_whence,channel_n,length,capacity\n";
    for (auto& c : s.channels)
        c.points.for_each([&](const ChannelPoint& x) {
            out += QByteArray::number(x.time, 'f', 3) + ',' + QByteArray::number(c.owner) + ','
                + QByteArray::number(c.id.whence) + ',' + QByteArray::number(c.id.n) + ','
                + QByteArray::number(x.length) + ',' + QByteArray::number(x.capacity) + '\n';
        });
    return out;
}

QByteArray perfettoTrace(const TelemetrySnapshot& s)
{
    QJsonArray events;
    std::set<std::pair<Pid, int>> threads;
    std::set<Pid> procs;
    s.spans.for_each([&](const TaskSpan& t) {
        QJsonObject e;
        e[QStringLiteral("name")] = t.kernel < s.kernel_names.size()
            ? QString::fromStdString(s.kernel_names[t.kernel])
            : QStringLiteral("task");
        e[QStringLiteral("cat")]
            = t.pool == 0 ? QStringLiteral("default") : QStringLiteral("interactive");
        e[QStringLiteral("ph")] = QStringLiteral("X");
        e[QStringLiteral("ts")] = t.start * 1e6;
        e[QStringLiteral("dur")] = std::max(0.0, (t.end - t.start) * 1e6);
        e[QStringLiteral("pid")] = int(t.pid);
        e[QStringLiteral("tid")] = int(t.thread);
        QJsonObject args;
        args[QStringLiteral("finished")] = t.finished;
        if (t.merged > 1)
            args[QStringLiteral("merged_tasks")] = int(t.merged);
        e[QStringLiteral("args")] = args;
        events.append(e);
        threads.insert({ t.pid, t.thread });
        procs.insert(t.pid);
    });
    for (auto& p : s.processes)
        procs.insert(p.pid);
    for (Pid p : procs) {
        QJsonObject e;
        e[QStringLiteral("name")] = QStringLiteral("process_name");
        e[QStringLiteral("ph")] = QStringLiteral("M");
        e[QStringLiteral("pid")] = int(p);
        e[QStringLiteral("args")] = QJsonObject { { QStringLiteral("name"),
            p == 1 ? QStringLiteral("master (process 1)") : QStringLiteral("worker %1").arg(p) } };
        events.append(e);
    }
    for (auto [p, t] : threads) {
        QJsonObject e;
        e[QStringLiteral("name")] = QStringLiteral("thread_name");
        e[QStringLiteral("ph")] = QStringLiteral("M");
        e[QStringLiteral("pid")] = int(p);
        e[QStringLiteral("tid")] = t;
        e[QStringLiteral("args")]
            = QJsonObject { { QStringLiteral("name"), QStringLiteral("thread %1").arg(t) } };
        events.append(e);
    }
    QJsonObject root;
    root[QStringLiteral("traceEvents")] = events;
    root[QStringLiteral("displayTimeUnit")] = QStringLiteral("ms");
    return QJsonDocument(root).toJson(QJsonDocument::Compact);
}

bool writeFile(const QString& path, const QByteArray& data, QString* error)
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(data) != data.size() || !f.commit()) {
        if (error)
            *error = QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
        return false;
    }
    return true;
}

} // namespace weft::ui
