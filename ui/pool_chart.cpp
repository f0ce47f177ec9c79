#include "pool_chart.h"

#include "time_series_chart.h"

#include <QEvent>

#include <cmath>

namespace weft::ui {

PoolChart::PoolChart(QWidget* parent)
    : QChartView(new QChart, parent) // the view owns it (setChart would leak a default one)
    , m_series(new QHorizontalStackedBarSeries)
    , m_busy(new QBarSet(tr("busy threads")))
    , m_idle(new QBarSet(tr("idle threads")))
    , m_runnable(new QBarSet(tr("queued tasks")))
    , m_blocked(new QBarSet(tr("waiting tasks")))
    , m_categories(new QBarCategoryAxis)
    , m_values(new QValueAxis)
{
    m_busy->setColor(QColor(0x59a14f));
    m_idle->setColor(QColor(0xbab0ac));
    m_runnable->setColor(QColor(0xf28e2b));
    m_blocked->setColor(QColor(0x4e79a7));
    for (auto* s : { m_busy, m_idle, m_runnable, m_blocked }) {
        s->setBorderColor(Qt::transparent);
        m_series->append(s);
    }
    m_series->setBarWidth(0.7);
    auto* c = chart();
    c->setTitle(tr("Thread pools: tasks ← 0 → threads"));
    c->addSeries(m_series);
    c->addAxis(m_categories, Qt::AlignLeft);
    c->addAxis(m_values, Qt::AlignBottom);
    m_series->attachAxis(m_categories);
    m_series->attachAxis(m_values);
    m_values->setLabelFormat(QStringLiteral("%.0f"));
    c->legend()->setAlignment(Qt::AlignBottom);
    setRenderHint(QPainter::Antialiasing);
    setMinimumHeight(160);
    styleChart(c);
}

void PoolChart::changeEvent(QEvent* e)
{
    if (e->type() == QEvent::PaletteChange || e->type() == QEvent::ApplicationPaletteChange)
        styleChart(chart());
    QChartView::changeEvent(e);
}

void PoolChart::apply(const TelemetrySnapshot& s)
{
    struct Bar {
        QString name;
        double busy = 0, idle = 0, runnable = 0, blocked = 0;
    };
    std::vector<Bar> bars;
    std::vector<const ProcessHistory*> live;
    for (auto& p : s.processes)
        if (p.state != WorkerState::Exited && p.latest.pools[0].threads > 0)
            live.push_back(&p);
    const bool many = live.size() > std::size_t(kMaxWorkerBars);
    if (!many) {
        // Bottom to top: the master first, so read top-down the last worker comes first.
        for (auto it = live.rbegin(); it != live.rend(); ++it) {
            auto& p = **it;
            for (int k = 1; k >= 0; --k) {
                const auto& pool = p.latest.pools[std::size_t(k)];
                if (pool.threads == 0)
                    continue;
                Bar b;
                b.name = QStringLiteral("%1 · %2").arg(
                    p.pid == 1 ? tr("master") : tr("worker %1").arg(p.pid),
                    k == 0 ? tr("default") : tr("interactive"));
                b.busy = pool.busy;
                b.idle = std::max(0, pool.threads - pool.busy);
                b.runnable = -double(pool.runnable);
                b.blocked = -double(pool.blocked);
                bars.push_back(b);
            }
        }
    } else {
        for (int k = 1; k >= 0; --k) {
            Bar b;
            b.name = tr("%1 processes · %2")
                         .arg(live.size())
                         .arg(k == 0 ? tr("default") : tr("interactive"));
            for (auto* p : live) {
                const auto& pool = p->latest.pools[std::size_t(k)];
                b.busy += pool.busy;
                b.idle += std::max(0, pool.threads - pool.busy);
                b.runnable -= double(pool.runnable);
                b.blocked -= double(pool.blocked);
            }
            bars.push_back(b);
        }
    }
    QStringList names;
    QList<qreal> busy, idle, runnable, blocked;
    double lo = -1, hi = 1;
    for (auto& b : bars) {
        names << b.name;
        busy << b.busy;
        idle << b.idle;
        runnable << b.runnable;
        blocked << b.blocked;
        hi = std::max(hi, b.busy + b.idle);
        lo = std::min(lo, b.runnable + b.blocked);
    }
    if (names != m_categories->categories()) {
        m_categories->clear();
        m_categories->append(names);
    }
    // Replace values in place (no series rebuild, no flicker).
    const auto setValues = [](QBarSet* set, const QList<qreal>& v) {
        if (set->count() != v.size()) {
            set->remove(0, set->count());
            set->append(v);
        } else {
            for (int i = 0; i < v.size(); ++i)
                if (set->at(i) != v[i])
                    set->replace(i, v[i]);
        }
    };
    setValues(m_busy, busy);
    setValues(m_idle, idle);
    setValues(m_runnable, runnable);
    setValues(m_blocked, blocked);
    const double span = std::max(hi, -lo);
    const double r = span <= 4 ? 4 : std::ceil(span / 4) * 4;
    m_values->setRange(-r, r);
}

double PoolChart::busyThreads() const
{
    return m_busy->sum();
}

} // namespace weft::ui
