#include "time_series_chart.h"

#include <QApplication>
#include <QEvent>
#include <QFuture>
#include <QLegendMarker>
#include <QPalette>
#include <QtConcurrent/QtConcurrentRun>

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

TimeSeriesChart::TimeSeriesChart(
    const QString& title, const QString& yTitle, Prepare prepare, QWidget* parent)
    : QChartView(new QChart, parent) // the view owns it (setChart would leak a default one)
    , m_x(new QValueAxis)
    , m_y(new QValueAxis)
    , m_prepare(prepare)
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

void TimeSeriesChart::apply(std::shared_ptr<const TelemetrySnapshot> snapshot)
{
    if (m_preparing) {
        m_waiting = std::move(snapshot); // latest wins
        return;
    }
    m_preparing = true;
    QtConcurrent::run(
        [prepare = m_prepare, s = std::move(snapshot)] { return prepare(*s, kWindow); })
        // On this object's thread; not at all once it is gone.
        .then(this, [this](const Plot& plot) {
            show(plot);
            m_preparing = false;
            if (m_waiting)
                apply(std::exchange(m_waiting, nullptr));
        });
}

void TimeSeriesChart::show(const Plot& plot)
{
    std::set<QString> touched;
    for (const auto& l : plot.lines) {
        touched.insert(l.key);
        auto it = m_series.find(l.key);
        if (it == m_series.end()) {
            auto* s = new QLineSeries;
            s->setName(l.name);
            s->setPen(QPen(l.color, l.width, l.style));
            chart()->addSeries(s);
            s->attachAxis(m_x);
            s->attachAxis(m_y);
            if (l.name.isEmpty())
                for (auto* m : chart()->legend()->markers(s))
                    m->setVisible(false);
            it = m_series.emplace(l.key, s).first;
        } else if (it->second->name() != l.name) {
            it->second->setName(l.name);
        }
        it->second->replace(l.points);
    }
    for (auto it = m_series.begin(); it != m_series.end();) {
        if (!touched.count(it->first)) {
            chart()->removeSeries(it->second);
            delete it->second;
            it = m_series.erase(it);
        } else {
            ++it;
        }
    }
    // Early on the axis grows with the run (at least 10 s), then it scrolls with the window.
    const double now = plot.now;
    const double x0 = std::max(0.0, now - kWindow);
    const double x1 = std::max(now, std::min(kWindow, std::max(10.0, now * 1.2)));
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
    m_y->setRange(0, plot.yMax);
    ++m_shown;
}

void TimeSeriesChart::processLines(const TelemetrySnapshot& s, double from,
    const std::function<double(const ProcessPoint&)>& value, Plot& plot)
{
    int i = 0;
    for (auto& p : s.processes) {
        PlotLine l;
        l.key = QString::number(p.pid);
        l.name = p.pid == 1 ? tr("master") : tr("worker %1").arg(p.pid);
        l.color = seriesColor(i++);
        p.points.for_each([&](const ProcessPoint& x) {
            if (x.time < from)
                return;
            const double v = value(x);
            l.points.append({ x.time, v });
            plot.yMax = std::max(plot.yMax, v);
        });
        plot.lines.push_back(std::move(l));
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
    : TimeSeriesChart(tr("Load per process"), tr("CPU %"), &LoadChart::prepare, parent)
{
}

Plot LoadChart::prepare(const TelemetrySnapshot& s, double window)
{
    Plot plot;
    plot.now = s.time;
    plot.yMax = 100;
    const double from = std::max(0.0, s.time - window);
    const bool many = s.processes.size() > std::size_t(kMaxLines);
    if (!many) {
        processLines(
            s, from, [](const ProcessPoint& x) { return double(x.cpu_percent); }, plot);
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
            plot.yMax = std::max(plot.yMax, double(v.back()));
        }
        const QColor band = seriesColor(0);
        plot.lines.push_back({ QStringLiteral("max"), tr("busiest process"), band.lighter(130),
            Qt::DotLine, 1, std::move(hi) });
        plot.lines.push_back(
            { QStringLiteral("median"), tr("median of %1 processes").arg(s.processes.size()), band,
                Qt::SolidLine, 2.2, std::move(med) });
        plot.lines.push_back({ QStringLiteral("mean"), tr("mean"), seriesColor(1), Qt::DashLine,
            1.4, std::move(mean) });
        plot.lines.push_back({ QStringLiteral("min"), tr("idlest process"), band.darker(130),
            Qt::DotLine, 1, std::move(lo) });
    }
    plot.yMax = std::ceil(plot.yMax / 50) * 50;
    return plot;
}

// ---- ChannelChart -------------------------------------------------------------------------

ChannelChart::ChannelChart(QWidget* parent)
    : TimeSeriesChart(
        tr("RemoteChannel depth"), tr("values buffered"), &ChannelChart::prepare, parent)
{
}

Plot ChannelChart::prepare(const TelemetrySnapshot& s, double window)
{
    Plot plot;
    plot.now = s.time;
    const double from = std::max(0.0, s.time - window);
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
        plot.lines.push_back({ key,
            tr("channel (%1, %2) on %3%4")
                .arg(c->id.whence)
                .arg(c->id.n)
                .arg(c->owner == 1 ? tr("master") : tr("worker %1").arg(c->owner))
                .arg(c->gone ? tr(" (closed)") : QString()),
            color, Qt::SolidLine, 2, std::move(depth) });
        plot.lines.push_back(
            { key + QStringLiteral("/cap"), QString(), color, Qt::DashLine, 1, std::move(cap) });
    }
    plot.yMax = std::ceil(yMax * 1.1);
    return plot;
}

// ---- ReferencesChart ----------------------------------------------------------------------

ReferencesChart::ReferencesChart(QWidget* parent)
    : TimeSeriesChart(
        tr("Live references per owner"), tr("values stored"), &ReferencesChart::prepare, parent)
{
}

Plot ReferencesChart::prepare(const TelemetrySnapshot& s, double window)
{
    Plot plot;
    plot.now = s.time;
    plot.yMax = 4;
    const double from = std::max(0.0, s.time - window);
    if (s.processes.size() <= std::size_t(LoadChart::kMaxLines)) {
        processLines(
            s, from, [](const ProcessPoint& x) { return double(x.store_entries); }, plot);
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
            plot.yMax = std::max(plot.yMax, v.first);
        }
        plot.lines.push_back({ QStringLiteral("sum"), tr("all owners"), seriesColor(0),
            Qt::SolidLine, 2, std::move(sum) });
        plot.lines.push_back({ QStringLiteral("max"), tr("largest owner"), seriesColor(1),
            Qt::DashLine, 1.6, std::move(mx) });
    }
    plot.yMax = std::ceil(plot.yMax * 1.1);
    return plot;
}

} // namespace weft::ui
