#pragma once
// Base of the live line charts: a time axis that follows the latest sample over a fixed window,
// series created on first use and removed when a snapshot no longer has them, points replaced
// in one call per series. Colours follow the system palette (light or dark). GUI thread.

#include "weft/telemetry.h"

#include <QChartView>
#include <QColor>
#include <QLineSeries>
#include <QValueAxis>

#include <functional>
#include <map>
#include <set>

namespace weft::ui {

// A categorical colour for series number `i`, readable on light and dark backgrounds.
QColor seriesColor(int i);
// Colours the chart after the application palette (called again when it changes).
void styleChart(QChart* chart);

class TimeSeriesChart : public QChartView {
    Q_OBJECT
public:
    TimeSeriesChart(const QString& title, const QString& yTitle, QWidget* parent = nullptr);
    virtual void apply(const TelemetrySnapshot& snapshot) = 0;
    // Points currently shown (all series), for tests and the status bar.
    [[nodiscard]] int pointCount() const;

protected:
    void begin();
    QLineSeries* line(const QString& key, const QString& name, const QColor& color,
        Qt::PenStyle style = Qt::SolidLine, qreal width = 1.6);
    void finish(double now, double yMax);
    // One line per process of `value` at each sample in the window; raises yMax to fit.
    void processLines(const TelemetrySnapshot& s,
        const std::function<double(const ProcessPoint&)>& value, double& yMax);
    void changeEvent(QEvent* e) override;
    [[nodiscard]] double windowStart(double now) const { return std::max(0.0, now - m_window); }

    QValueAxis* m_x;
    QValueAxis* m_y;

private:
    std::map<QString, QLineSeries*> m_series;
    std::set<QString> m_touched;
    double m_window = 60;
};

// Per-process CPU over time; with many processes, the spread (min to max), median and mean.
class LoadChart final : public TimeSeriesChart {
    Q_OBJECT
public:
    explicit LoadChart(QWidget* parent = nullptr);
    void apply(const TelemetrySnapshot& snapshot) override;
    static constexpr int kMaxLines = 16;
};

// Values buffered in each RemoteChannel over time, with its capacity dashed.
class ChannelChart final : public TimeSeriesChart {
    Q_OBJECT
public:
    explicit ChannelChart(QWidget* parent = nullptr);
    void apply(const TelemetrySnapshot& snapshot) override;
    static constexpr int kMaxChannels = 12;
};

// Live references (store entries) per owner over time.
class ReferencesChart final : public TimeSeriesChart {
    Q_OBJECT
public:
    explicit ReferencesChart(QWidget* parent = nullptr);
    void apply(const TelemetrySnapshot& snapshot) override;
};

} // namespace weft::ui
