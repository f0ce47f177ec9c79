#pragma once
// Writing what the window shows to files: series as CSV, the timeline as a Chrome/Perfetto trace
// (open it in ui.perfetto.dev or chrome://tracing).

#include "weft/telemetry.h"

#include <QByteArray>
#include <QString>

namespace weft::ui {

// One line per sample of each process: time, pid, CPU, memory, pools, store.
QByteArray processSeriesCsv(const TelemetrySnapshot& s);
// One line per sample of each channel: time, owner, channel id, length, capacity.
QByteArray channelSeriesCsv(const TelemetrySnapshot& s);
// Trace Event Format JSON: a complete event per span, processes and threads named.
QByteArray perfettoTrace(const TelemetrySnapshot& s);

// Writes `data` to `path`; false and `error` set when it cannot.
bool writeFile(const QString& path, const QByteArray& data, QString* error);

} // namespace weft::ui
