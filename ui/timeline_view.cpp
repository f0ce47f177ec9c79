#include "timeline_view.h"

#include "time_series_chart.h"

#include <QFuture>
#include <QHelpEvent>
#include <QKeyEvent>
#include <QPainter>
#include <QToolTip>
#include <QWheelEvent>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <limits>
#include <set>

namespace weft::ui {

namespace {

QColor kernelColor(std::uint32_t kernel)
{
    return kernel == 0 ? QColor(0x9a, 0x9a, 0x9a) : seriesColor(int(kernel) - 1);
}

double niceStep(double span, int ticks)
{
    const double raw = span / std::max(1, ticks);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : { 1.0, 2.0, 5.0, 10.0 })
        if (raw <= m * mag)
            return m * mag;
    return 10 * mag;
}

} // namespace

TimelineView::TimelineView(QWidget* parent)
    : QWidget(parent)
{
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setMinimumHeight(180);
    setAttribute(Qt::WA_OpaquePaintEvent);
}

void TimelineView::apply(std::shared_ptr<const TelemetrySnapshot> snapshot)
{
    m_snap = snapshot;
    std::erase_if(m_chunkBounds, [](const auto& kv) { return kv.second.chunk.expired(); });
    if (m_live) {
        m_t1 = std::max(m_snap->time, m_span);
        m_t0 = m_t1 - m_span;
    }
    update();
    // The rows: every thread that ever ran a task means a walk over the whole run's spans, which
    // runs on a worker thread; the latest snapshot waits while one is planned.
    if (m_planning) {
        m_waiting = std::move(snapshot);
        return;
    }
    m_planning = true;
    QtConcurrent::run([s = std::move(snapshot)] { return plan(*s); }).then(this, [this](Plan p) {
        m_plan = std::move(p);
        ++m_plans;
        layoutRows();
        update();
        m_planning = false;
        if (m_waiting)
            apply(std::exchange(m_waiting, nullptr));
    });
}

TimelineView::Plan TimelineView::plan(const TelemetrySnapshot& s)
{
    Plan out;
    // Threads of each process: those its pools have now, and any that ran a recorded task.
    for (auto& p : s.processes) {
        auto& proc = out.processes[p.pid];
        proc.host = QString::fromStdString(p.host);
        proc.dead = p.state == WorkerState::Exited;
        const int nd = p.latest.pools[0].threads, ni = p.latest.pools[1].threads;
        for (int i = 1; i <= nd; ++i)
            proc.threads.emplace(i, 0);
        for (int i = 1; i <= ni; ++i)
            proc.threads.emplace(nd + i, 1);
    }
    s.spans.for_each(
        [&](const TaskSpan& t) { out.processes[t.pid].threads.emplace(t.thread, t.pool); });
    return out;
}

void TimelineView::setLive(bool live)
{
    if (m_live == live)
        return;
    m_live = live;
    if (live && m_snap) {
        m_t1 = std::max(m_snap->time, m_span);
        m_t0 = m_t1 - m_span;
    }
    update();
}

void TimelineView::layoutRows()
{
    m_rows.clear();
    m_rowOf.clear();
    const auto& procs = m_plan.processes;
    int nthreads = 0;
    for (auto& [pid, p] : procs)
        nthreads += int(p.threads.size());
    const QRectF plot = plotRect();
    const int groups = int(procs.size());
    // Few processes: a header row each. Many (a 64-worker cluster): no header rows, the process
    // label sits in the gutter beside its threads, and rows shrink to fit.
    const bool compact = groups > 12;
    const int headerH = compact ? 0 : 15;
    const double avail = plot.height() - groups * headerH;
    const int rowH = std::clamp(int(avail / std::max(1, nthreads)), compact ? 1 : 3, 22);
    int y = int(plot.top());
    // Grouped by host, as the workers table is: the master, this machine's workers, then each
    // other host's.
    std::vector<std::pair<Pid, const decltype(procs.begin()->second)*>> order;
    for (auto& [pid, proc] : procs)
        order.emplace_back(pid, &proc);
    const auto group = [](Pid pid, const QString& host) {
        return std::tuple(pid == 1                                       ? 0
                : (host.isEmpty() || host == QLatin1String("localhost")) ? 1
                                                                         : 2,
            pid == 1 || host == QLatin1String("localhost") ? QString() : host, pid);
    };
    std::stable_sort(order.begin(), order.end(), [&](auto& a, auto& b) {
        return group(a.first, a.second->host) < group(b.first, b.second->host);
    });
    for (auto& [pid, procp] : order) {
        const auto& proc = *procp;
        const QString& host = proc.host;
        const bool dead = proc.dead;
        const auto& t = proc.threads;
        Row header;
        header.pid = pid;
        header.label = compact
            ? (pid == 1 ? tr("master") : tr("W%1").arg(pid)) + (dead ? tr(" ✕") : QString())
            : (pid == 1 ? tr("Master (process 1)") : tr("Worker %1").arg(pid))
                + (host.isEmpty() || pid == 1 ? QString() : QStringLiteral(" · ") + host)
                + (dead ? tr(" · exited") : QString());
        header.y = y;
        header.h = compact ? rowH * int(t.size()) : headerH;
        header.pool = compact ? 1 : 0; // marks a gutter label rather than a header row
        m_rows.push_back(header);
        y += headerH;
        for (auto& [thread, pool] : t) {
            Row r;
            r.pid = pid;
            r.thread = thread;
            r.pool = pool;
            r.label = tr("thread %1 · %2")
                          .arg(thread)
                          .arg(pool == 0 ? tr("default") : tr("interactive"));
            r.y = y;
            r.h = rowH;
            m_rowOf[{ pid, thread }] = int(m_rows.size());
            m_rows.push_back(r);
            y += rowH;
        }
    }
}

std::pair<double, double> TimelineView::chunkBounds(
    const std::shared_ptr<const std::vector<TaskSpan>>& chunk) const
{
    auto it = m_chunkBounds.find(chunk.get());
    // A cached entry counts only while its chunk lives (an address can be reused).
    if (it != m_chunkBounds.end() && !it->second.chunk.expired())
        return { it->second.lo, it->second.hi };
    double lo = std::numeric_limits<double>::max(), hi = std::numeric_limits<double>::lowest();
    for (auto& sp : *chunk) {
        lo = std::min(lo, sp.start);
        hi = std::max(hi, sp.end);
    }
    // The open chunk is copied into every snapshot: only closed (full) chunks are worth keeping.
    if (chunk->size() >= 512)
        m_chunkBounds[chunk.get()] = { chunk, lo, hi };
    return { lo, hi };
}

QRectF TimelineView::plotRect() const
{
    return QRectF(
        kGutter, 4, std::max(10, width() - kGutter - 8), std::max(10, height() - kAxisHeight - 8));
}

double TimelineView::timeToX(double t) const
{
    const QRectF r = plotRect();
    return r.left() + (t - m_t0) / (m_t1 - m_t0) * r.width();
}

double TimelineView::xToTime(double x) const
{
    const QRectF r = plotRect();
    return m_t0 + (x - r.left()) / r.width() * (m_t1 - m_t0);
}

QStringList TimelineView::rowLabels() const
{
    QStringList out;
    for (auto& r : m_rows)
        out << r.label;
    return out;
}

int TimelineView::spansInView() const
{
    return m_drawn;
}

void TimelineView::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    const QPalette pal = palette();
    p.fillRect(rect(), pal.color(QPalette::Base));
    const QRectF plot = plotRect();
    QColor faint = pal.color(QPalette::Text);
    faint.setAlpha(18);
    QColor grid = pal.color(QPalette::Text);
    grid.setAlpha(45);
    m_drawn = 0;
    if (!m_snap || m_rows.empty()) {
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(rect(), Qt::AlignCenter,
            tr("No tasks yet. Add workers and submit work: each bar is a task running on a "
               "thread."));
        return;
    }
    // Rows: process headers and alternating thread rows; idle time is the empty background.
    QFont small = font();
    small.setPointSizeF(font().pointSizeF() * 0.85);
    QFont bold = font();
    bold.setBold(true);
    int alt = 0;
    int lastLabelBottom = -1000;
    for (auto& r : m_rows) {
        if (r.thread == 0 && r.pool == 1) {
            // Compact: a separator, and the label when there is room for it.
            p.setPen(grid);
            p.drawLine(QPointF(0, r.y), QPointF(width(), r.y));
            if (r.y >= lastLabelBottom) {
                p.setFont(small);
                p.setPen(pal.color(QPalette::Text));
                const int h = QFontMetrics(small).height();
                p.drawText(QRectF(6, r.y, kGutter - 10, h), Qt::AlignLeft | Qt::AlignTop, r.label);
                lastLabelBottom = r.y + h;
            }
            alt = 0;
            continue;
        }
        if (r.thread == 0) {
            p.setPen(grid);
            p.drawLine(QPointF(0, r.y), QPointF(width(), r.y));
            p.setPen(pal.color(QPalette::Text));
            p.setFont(bold);
            p.drawText(
                QRectF(6, r.y, width() - 12, r.h), Qt::AlignVCenter | Qt::AlignLeft, r.label);
            alt = 0;
            continue;
        }
        if (alt++ % 2)
            p.fillRect(QRectF(plot.left(), r.y, plot.width(), r.h), faint);
        if (r.h >= 10) {
            p.setFont(small);
            p.setPen(pal.color(QPalette::PlaceholderText));
            p.drawText(
                QRectF(16, r.y, kGutter - 20, r.h), Qt::AlignVCenter | Qt::AlignLeft, r.label);
        }
    }
    // Bars. Chunks wholly outside the view are skipped (their bounds are cached: chunks never
    // change), and neighbours that land on the same pixels in one colour are drawn as one.
    p.setClipRect(plot);
    p.setPen(Qt::NoPen);
    const double pxPerSec = plot.width() / (m_t1 - m_t0);
    std::set<std::uint32_t> kernelsShown;
    struct Pending {
        double x0 = 0, x1 = -1;
        std::uint32_t kernel = 0;
        bool merged = false;
    };
    std::vector<Pending> pending(m_rows.size());
    const auto flush = [&](std::size_t row) {
        auto& q = pending[row];
        if (q.x1 < q.x0)
            return;
        const Row& r = m_rows[row];
        QColor c = kernelColor(q.kernel);
        if (q.merged)
            c.setAlpha(170);
        const double inset = r.h >= 6 ? 1 : 0;
        p.fillRect(QRectF(q.x0, r.y + inset, q.x1 - q.x0, r.h - 2 * inset), c);
        q.x1 = q.x0 - 1;
    };
    for (const auto& chunk : m_snap->spans.chunks) {
        auto [lo, hi] = chunkBounds(chunk);
        if (hi < m_t0 || lo > m_t1)
            continue;
        for (const TaskSpan& sp : *chunk) {
            if (sp.end < m_t0 || sp.start > m_t1)
                continue;
            auto it = m_rowOf.find({ sp.pid, sp.thread });
            if (it == m_rowOf.end())
                continue;
            const auto row = std::size_t(it->second);
            const double x0 = timeToX(sp.start);
            const double x1 = x0 + std::max(1.0, (sp.end - sp.start) * pxPerSec);
            auto& q = pending[row];
            const bool merged = sp.merged > 1;
            if (q.x1 >= q.x0 && q.kernel == sp.kernel && q.merged == merged && x0 <= q.x1 + 0.5
                && x0 >= q.x0) {
                q.x1 = std::max(q.x1, x1);
            } else {
                flush(row);
                q = { x0, x1, sp.kernel, merged };
            }
            kernelsShown.insert(sp.kernel);
            ++m_drawn;
        }
    }
    for (std::size_t row = 0; row < pending.size(); ++row)
        flush(row);
    p.setClipping(false);
    // Time axis.
    const double step = niceStep(m_t1 - m_t0, std::max(2, int(plot.width() / 110)));
    p.setFont(small);
    const double axisY = plot.bottom() + 2;
    p.setPen(grid);
    p.drawLine(QPointF(plot.left(), axisY), QPointF(plot.right(), axisY));
    for (double t = std::ceil(m_t0 / step) * step; t <= m_t1; t += step) {
        const double x = timeToX(t);
        p.setPen(grid);
        p.drawLine(QPointF(x, plot.top()), QPointF(x, axisY + 3));
        p.setPen(pal.color(QPalette::Text));
        const QString label = step < 0.01 ? QStringLiteral("%1 ms").arg(t * 1000, 0, 'f', 1)
            : step < 1                    ? QStringLiteral("%1 s").arg(t, 0, 'f', 2)
                                          : QStringLiteral("%1 s").arg(t, 0, 'f', 0);
        p.drawText(QRectF(x - 50, axisY + 3, 100, kAxisHeight - 4), Qt::AlignHCenter | Qt::AlignTop,
            label);
    }
    // Legend: the kernels in view.
    int lx = int(plot.right()) - 8;
    const int ly = int(plot.top()) + 2;
    p.setFont(small);
    const QFontMetrics fm(small);
    for (auto it = kernelsShown.rbegin(); it != kernelsShown.rend(); ++it) {
        const auto name = *it < m_snap->kernel_names.size()
            ? QString::fromStdString(m_snap->kernel_names[*it])
            : QStringLiteral("?");
        const int w = fm.horizontalAdvance(name) + 18;
        lx -= w;
        QColor bg = pal.color(QPalette::Base);
        bg.setAlpha(220);
        p.fillRect(QRect(lx - 2, ly, w, fm.height() + 2), bg);
        p.fillRect(QRect(lx, ly + 3, 10, fm.height() - 4), kernelColor(*it));
        p.setPen(pal.color(QPalette::Text));
        p.drawText(QPoint(lx + 13, ly + fm.ascent() + 1), name);
    }
    if (!m_live) {
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(QRectF(plot.left() + 6, plot.bottom() - 18, 400, 16), Qt::AlignLeft,
            tr("Paused view · double-click or press L for live"));
    }
}

const TaskSpan* TimelineView::spanAt(const QPoint& pos) const
{
    if (!m_snap)
        return nullptr;
    const Row* row = nullptr;
    for (auto& r : m_rows)
        if (r.thread != 0 && pos.y() >= r.y && pos.y() < r.y + r.h)
            row = &r;
    if (!row || pos.x() < kGutter)
        return nullptr;
    const double t = xToTime(pos.x());
    const double slack = 2.0 * (m_t1 - m_t0) / plotRect().width();
    const TaskSpan* best = nullptr;
    for (auto& c : m_snap->spans.chunks)
        for (auto& s : *c)
            if (s.pid == row->pid && s.thread == row->thread && s.start - slack <= t
                && t <= s.end + slack)
                best = &s;
    return best;
}

QString TimelineView::describe(const TaskSpan& s) const
{
    const auto name = s.kernel < m_snap->kernel_names.size()
        ? QString::fromStdString(m_snap->kernel_names[s.kernel])
        : QStringLiteral("?");
    const double ms = (s.end - s.start) * 1000;
    QString text = tr("<b>%1</b><br>%2, thread %3 (%4 pool)<br>ran %5 ms, from %6 s to %7 s")
                       .arg(name.toHtmlEscaped())
                       .arg(s.pid == 1 ? tr("master") : tr("worker %1").arg(s.pid))
                       .arg(s.thread)
                       .arg(s.pool == 0 ? tr("default") : tr("interactive"))
                       .arg(ms, 0, 'f', ms < 1 ? 3 : 1)
                       .arg(s.start, 0, 'f', 3)
                       .arg(s.end, 0, 'f', 3);
    text += s.finished ? tr("<br>the task finished here")
                       : tr("<br>the task then waited (its thread was free)");
    if (s.merged > 1)
        text += tr("<br>%1 older tasks merged into this bar").arg(s.merged);
    return text;
}

bool TimelineView::event(QEvent* e)
{
    if (e->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(e);
        if (const TaskSpan* s = spanAt(he->pos()))
            QToolTip::showText(he->globalPos(), describe(*s), this);
        else
            QToolTip::hideText();
        return true;
    }
    if (e->type() == QEvent::Resize)
        layoutRows();
    return QWidget::event(e);
}

void TimelineView::wheelEvent(QWheelEvent* e)
{
    const double factor = e->angleDelta().y() > 0 ? 1 / 1.25 : 1.25;
    const double span = std::clamp((m_t1 - m_t0) * factor, 0.0005, 3600.0);
    if (m_live) {
        m_span = span;
        m_t0 = m_t1 - span;
    } else {
        const double anchor = xToTime(e->position().x());
        const double frac = (anchor - m_t0) / (m_t1 - m_t0);
        m_t0 = anchor - frac * span;
        m_t1 = m_t0 + span;
        m_span = span;
    }
    update();
    e->accept();
}

void TimelineView::mousePressEvent(QMouseEvent* e)
{
    if (e->button() == Qt::LeftButton) {
        m_dragging = true;
        m_dragFrom = e->pos();
        m_dragT0 = m_t0;
        m_dragT1 = m_t1;
        setCursor(Qt::ClosedHandCursor);
    }
}

void TimelineView::mouseMoveEvent(QMouseEvent* e)
{
    if (!m_dragging)
        return;
    const double dt = (e->pos().x() - m_dragFrom.x()) / plotRect().width() * (m_dragT1 - m_dragT0);
    if (std::abs(e->pos().x() - m_dragFrom.x()) > 2)
        setLive(false);
    m_t0 = m_dragT0 - dt;
    m_t1 = m_dragT1 - dt;
    update();
}

void TimelineView::mouseReleaseEvent(QMouseEvent*)
{
    m_dragging = false;
    unsetCursor();
}

void TimelineView::mouseDoubleClickEvent(QMouseEvent*)
{
    setLive(true);
}

void TimelineView::keyPressEvent(QKeyEvent* e)
{
    if (e->key() == Qt::Key_L)
        setLive(true);
    else
        QWidget::keyPressEvent(e);
}

} // namespace weft::ui
