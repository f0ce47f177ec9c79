#pragma once
// Base of the live line charts: a time axis that follows the latest sample over a fixed window,
// series created on first use and removed when a snapshot no longer has them, points replaced
// in one call per series. The points are prepared from the snapshot on a worker thread
// (QtConcurrent; the latest snapshot wins while one is being prepared) and shown on the GUI
// thread. Colours follow the system palette (light or dark).

#include "weft/telemetry.h"

#include <QChartView>
#include <QColor>
#include <QLineSeries>
#include <QValueAxis>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

namespace weft::ui {

// A categorical colour for series number `i`, readable on light and dark backgrounds.
QColor seriesColor(int i);
// Colours the chart after the application palette (called again when it changes).
void styleChart(QChart* chart);

// What a chart shows for one snapshot: plain values, made on any thread.
struct PlotLine {
    QString key; // identifies the series from one snapshot to the next
    QString name; // legend text; empty: no legend entry
    QColor color;
    Qt::PenStyle style = Qt::SolidLine;
    qreal width = 1.6;
    QList<QPointF> points;
};
struct Plot {
    std::vector<PlotLine> lines;
    double now = 0;
    double yMax = 1;
};

class TimeSeriesChart : public QChartView {
    Q_OBJECT
public:
    // Makes the plot for a snapshot; runs on a worker thread, so it may use nothing but its
    // arguments (the snapshot, the window in seconds).
    using Prepare = Plot (*)(const TelemetrySnapshot& s, double window);
    TimeSeriesChart(
        const QString& title, const QString& yTitle, Prepare prepare, QWidget* parent = nullptr);
    // Prepares the plot off the GUI thread and shows it when ready; a snapshot that arrives
    // meanwhile replaces any other waiting.
    void apply(std::shared_ptr<const TelemetrySnapshot> snapshot);
    // Points currently shown (all series), for tests and the status bar.
    [[nodiscard]] int pointCount() const;
    // Snapshots shown so far (tests wait on it).
    [[nodiscard]] int plotsShown() const { return m_shown; }

    static constexpr double kWindow = 60; // seconds shown

protected:
    void changeEvent(QEvent* e) override;
    // One line per process of `value` at each sample in the window; raises yMax to fit.
    static void processLines(const TelemetrySnapshot& s, double from,
        const std::function<double(const ProcessPoint&)>& value, Plot& plot);

private:
    void show(const Plot& plot);

    QValueAxis* m_x;
    QValueAxis* m_y;
    const Prepare m_prepare;
    std::map<QString, QLineSeries*> m_series;
    bool m_preparing = false;
    std::shared_ptr<const TelemetrySnapshot> m_waiting; // the latest, while one is prepared
    int m_shown = 0;
};

// Per-process CPU over time; with many processes, the spread (min to max), median and mean.
class LoadChart final : public TimeSeriesChart {
    Q_OBJECT
public:
    explicit LoadChart(QWidget* parent = nullptr);
    static Plot prepare(const TelemetrySnapshot& s, double window);
    static constexpr int kMaxLines = 16;
};

// Values buffered in each RemoteChannel over time, with its capacity dashed.
class ChannelChart final : public TimeSeriesChart {
    Q_OBJECT
public:
    explicit ChannelChart(QWidget* parent = nullptr);
    static Plot prepare(const TelemetrySnapshot& s, double window);
    static constexpr int kMaxChannels = 12;
};

// Live references (store entries) per owner over time.
class ReferencesChart final : public TimeSeriesChart {
    Q_OBJECT
public:
    explicit ReferencesChart(QWidget* parent = nullptr);
    static Plot prepare(const TelemetrySnapshot& s, double window);
};

} // namespace weft::ui
