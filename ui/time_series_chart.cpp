#include "time_series_chart.h"

#include <QApplication>
#include <QEvent>
#include <QLegendMarker>
#include <QPalette>

#include <algorithm>
#include <cmath>

namespace weft::ui {

QColor seriesColor(int i)
{
    // Tableau-like categorical hues, then golden-angle hues beyond them.
    static const QColor base[] = { QColor(0x4e79a7), QColor(0xf28e2b), QColor(0x59a14f),
        QColor(0xe15759), QColor(0x76b7b2), QColor(0xedc948), QColor(0xb07aa1), QColor(0xff9da7),
        QColor(0x9c755f), QColor(0xbab0ac) };
    if (i >= 0 && i < 10)
        return base[i];
    return QColor::fromHsvF(std::fmod(0.13 + i * 0.618034, 1.0), 0.55, 0.85);
}

void styleChart(QChart* chart)
{
    const QPalette pal = QApplication::palette();
    const bool dark = pal.color(QPalette::Window).lightness() < 128;
    chart->setTheme(dark ? QChart::ChartThemeDark : QChart::ChartThemeLight);
    chart->setBackgroundBrush(pal.color(QPalette::Base));
    chart->setBackgroundRoundness(0);
    chart->setTitleBrush(pal.color(QPalette::Text));
    chart->legend()->setLabelColor(pal.color(QPalette::Text));
    for (auto* axis : chart->axes()) {
        axis->setLabelsBrush(pal.color(QPalette::Text));
        axis->setTitleBrush(pal.color(QPalette::Text));
        QColor grid = pal.color(QPalette::Text);
        grid.setAlpha(40);
        axis->setGridLineColor(grid);
    }
    chart->setMargins(QMargins(4, 4, 4, 4));
}

TimeSeriesChart::TimeSeriesChart(const QString& title, const QString& yTitle, QWidget* parent)
    : QChartView(new QChart, parent) // the view owns it (setChart would leak a default one)
    , m_x(new QValueAxis)
    , m_y(new QValueAxis)
{
    auto* c = chart();
    c->setTitle(title);
    c->legend()->setAlignment(Qt::AlignRight);
    m_x->setTitleText(tr("seconds since start"));
    m_x->setLabelFormat(QStringLiteral("%.0f"));
    m_y->setTitleText(yTitle);
    m_y->setLabelFormat(QStringLiteral("%.0f"));
    c->addAxis(m_x, Qt::AlignBottom);
    c->addAxis(m_y, Qt::AlignLeft);
    setRenderHint(QPainter::Antialiasing);
    setMinimumHeight(160);
    styleChart(c);
}

void TimeSeriesChart::changeEvent(QEvent* e)
{
    if (e->type() == QEvent::PaletteChange || e->type() == QEvent::ApplicationPaletteChange)
        styleChart(chart());
    QChartView::changeEvent(e);
}

void TimeSeriesChart::begin()
{
    m_touched.clear();
}

QLineSeries* TimeSeriesChart::line(
    const QString& key, const QString& name, const QColor& color, Qt::PenStyle style, qreal width)
{
    m_touched.insert(key);
    auto it = m_series.find(key);
    if (it != m_series.end())
        return it->second;
    auto* s = new QLineSeries;
    s->setName(name);
    QPen pen(color, width, style);
    s->setPen(pen);
    chart()->addSeries(s);
    s->attachAxis(m_x);
    s->attachAxis(m_y);
    if (name.isEmpty())
        for (auto* m : chart()->legend()->markers(s))
            m->setVisible(false);
    m_series.emplace(key, s);
    return s;
}

void TimeSeriesChart::finish(double now, double yMax)
{
    for (auto it = m_series.begin(); it != m_series.end();) {
        if (!m_touched.count(it->first)) {
            chart()->removeSeries(it->second);
            delete it->second;
            it = m_series.erase(it);
        } else {
            ++it;
        }
    }
    // Early on the axis grows with the run (at least 10 s), then it scrolls with the window.
    const double x0 = windowStart(now);
    const double x1 = std::max(now, std::min(m_window, std::max(10.0, now * 1.2)));
    m_x->setRange(x0, x1);
    // Round tick values (0, 5, 10 … s) wherever the window starts.
    const double raw = (x1 - x0) / 6;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = 10 * mag;
    for (double m : { 1.0, 2.0, 5.0 })
        if (raw <= m * mag) {
            step = m * mag;
            break;
        }
    m_x->setTickType(QValueAxis::TicksDynamic);
    m_x->setTickAnchor(0);
    m_x->setTickInterval(step);
    m_y->setRange(0, yMax);
}

void TimeSeriesChart::processLines(const TelemetrySnapshot& s,
    const std::function<double(const ProcessPoint&)>& value, double& yMax)
{
    const double from = windowStart(s.time);
    int i = 0;
    for (auto& p : s.processes) {
        QList<QPointF> pts;
        p.points.for_each([&](const ProcessPoint& x) {
            if (x.time < from)
                return;
            const double v = value(x);
            pts.append({ x.time, v });
            yMax = std::max(yMax, v);
        });
        line(QString::number(p.pid), p.pid == 1 ? tr("master") : tr("worker %1").arg(p.pid),
            seriesColor(i++))
            ->replace(pts);
    }
}

int TimeSeriesChart::pointCount() const
{
    int n = 0;
    for (auto& [k, s] : m_series)
        n += int(s->count());
    return n;
}

// ---- LoadChart ----------------------------------------------------------------------------

LoadChart::LoadChart(QWidget* parent)
    : TimeSeriesChart(tr("Load per process"), tr("CPU %"), parent)
{
}

void LoadChart::apply(const TelemetrySnapshot& s)
{
    begin();
    const double from = windowStart(s.time);
    double yMax = 100;
    const bool many = s.processes.size() > std::size_t(kMaxLines);
    if (!many) {
        processLines(
            s, [](const ProcessPoint& x) { return double(x.cpu_percent); }, yMax);
    } else {
        // Many processes: one line each would be noise. Bucket samples by interval and show the
        // spread across processes at each moment.
        const double step = std::max(0.05, s.interval);
        std::map<long, std::vector<float>> buckets;
        for (auto& p : s.processes)
            p.points.for_each([&](const ProcessPoint& x) {
                if (x.time >= from)
                    buckets[long(std::floor(x.time / step))].push_back(x.cpu_percent);
            });
        QList<QPointF> lo, hi, med, mean;
        for (auto& [b, v] : buckets) {
            std::sort(v.begin(), v.end());
            const double t = double(b) * step;
            lo.append({ t, v.front() });
            hi.append({ t, v.back() });
            med.append({ t, v[v.size() / 2] });
            double sum = 0;
            for (float x : v)
                sum += x;
            mean.append({ t, sum / double(v.size()) });
            yMax = std::max(yMax, double(v.back()));
        }
        const QColor band = seriesColor(0);
        line(QStringLiteral("max"), tr("busiest process"), band.lighter(130), Qt::DotLine, 1)
            ->replace(hi);
        line(QStringLiteral("median"), tr("median of %1 processes").arg(s.processes.size()), band,
            Qt::SolidLine, 2.2)
            ->replace(med);
        line(QStringLiteral("mean"), tr("mean"), seriesColor(1), Qt::DashLine, 1.4)->replace(mean);
        line(QStringLiteral("min"), tr("idlest process"), band.darker(130), Qt::DotLine, 1)
            ->replace(lo);
    }
    finish(s.time, std::ceil(yMax / 50) * 50);
}

// ---- ChannelChart -------------------------------------------------------------------------

ChannelChart::ChannelChart(QWidget* parent)
    : TimeSeriesChart(tr("RemoteChannel depth"), tr("values buffered"), parent)
{
}

void ChannelChart::apply(const TelemetrySnapshot& s)
{
    begin();
    const double from = windowStart(s.time);
    double yMax = 4;
    // The most recently active channels.
    std::vector<const ChannelHistory*> shown;
    for (auto& c : s.channels)
        if (auto* last = c.points.last(); last && last->time >= from)
            shown.push_back(&c);
    std::sort(shown.begin(), shown.end(),
        [](auto* a, auto* b) { return a->points.last()->time > b->points.last()->time; });
    if (shown.size() > std::size_t(kMaxChannels))
        shown.resize(kMaxChannels);
    int i = 0;
    for (auto* c : shown) {
        QList<QPointF> depth, cap;
        c->points.for_each([&](const ChannelPoint& x) {
            if (x.time < from)
                return;
            depth.append({ x.time, double(x.length) });
            cap.append({ x.time, double(x.capacity) });
            yMax = std::max(yMax, double(std::max(x.length, x.capacity)));
        });
        const auto key = QStringLiteral("%1/%2/%3").arg(c->owner).arg(c->id.whence).arg(c->id.n);
        const QColor color = seriesColor(i++);
        line(key,
            tr("channel (%1, %2) on %3%4")
                .arg(c->id.whence)
                .arg(c->id.n)
                .arg(c->owner == 1 ? tr("master") : tr("worker %1").arg(c->owner))
                .arg(c->gone ? tr(" (closed)") : QString()),
            color, Qt::SolidLine, 2)
            ->replace(depth);
        line(key + QStringLiteral("/cap"), QString(), color, Qt::DashLine, 1)->replace(cap);
    }
    finish(s.time, std::ceil(yMax * 1.1));
}

// ---- ReferencesChart ----------------------------------------------------------------------

ReferencesChart::ReferencesChart(QWidget* parent)
    : TimeSeriesChart(tr("Live references per owner"), tr("values stored"), parent)
{
}

void ReferencesChart::apply(const TelemetrySnapshot& s)
{
    begin();
    const double from = windowStart(s.time);
    double yMax = 4;
    if (s.processes.size() <= std::size_t(LoadChart::kMaxLines)) {
        processLines(
            s, [](const ProcessPoint& x) { return double(x.store_entries); }, yMax);
    } else {
        const double step = std::max(0.05, s.interval);
        std::map<long, std::pair<double, double>> total; // sum, max
        for (auto& p : s.processes)
            p.points.for_each([&](const ProcessPoint& x) {
                if (x.time < from)
                    return;
                auto& b = total[long(std::floor(x.time / step))];
                b.first += x.store_entries;
                b.second = std::max(b.second, double(x.store_entries));
            });
        QList<QPointF> sum, mx;
        for (auto& [b, v] : total) {
            sum.append({ double(b) * step, v.first });
            mx.append({ double(b) * step, v.second });
            yMax = std::max(yMax, v.first);
        }
        line(QStringLiteral("sum"), tr("all owners"), seriesColor(0), Qt::SolidLine, 2)
            ->replace(sum);
        line(QStringLiteral("max"), tr("largest owner"), seriesColor(1), Qt::DashLine)->replace(mx);
    }
    finish(s.time, std::ceil(yMax * 1.1));
}

} // namespace weft::ui
