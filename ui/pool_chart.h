#pragma once
// Thread-pool occupancy now, one bar per worker and pool: threads to the right of zero (busy,
// idle), tasks to the left (queued, waiting). With many workers, one bar per pool kind summed
// over all of them. GUI thread.

#include "weft/telemetry.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChartView>
#include <QHorizontalStackedBarSeries>
#include <QValueAxis>

namespace weft::ui {

class PoolChart final : public QChartView {
    Q_OBJECT
public:
    explicit PoolChart(QWidget* parent = nullptr);
    void apply(const TelemetrySnapshot& snapshot);
    [[nodiscard]] double busyThreads() const; // sum over the bars, for tests
    static constexpr int kMaxWorkerBars = 16;

protected:
    void changeEvent(QEvent* e) override;

private:
    QHorizontalStackedBarSeries* m_series;
    QBarSet* m_busy;
    QBarSet* m_idle;
    QBarSet* m_runnable;
    QBarSet* m_blocked;
    QBarCategoryAxis* m_categories;
    QValueAxis* m_values;
};

} // namespace weft::ui
