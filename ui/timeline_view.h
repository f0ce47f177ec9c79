#pragma once
// The task timeline: one row per thread, grouped and labelled by process, one bar per stretch a
// task ran on that thread, coloured by kernel. Follows the present until the user zooms (wheel)
// or pans (drag); double-click or "L" returns to live. Hover shows the task. Which rows there are
// (every thread that ran a task, of the whole run) is worked out from the snapshot on a worker
// thread; the widget lays them out and paints on the GUI thread.

#include "weft/telemetry.h"

#include <QWidget>

#include <map>
#include <memory>

namespace weft::ui {

class TimelineView final : public QWidget {
    Q_OBJECT
public:
    explicit TimelineView(QWidget* parent = nullptr);

    void apply(std::shared_ptr<const TelemetrySnapshot> snapshot);
    // Row plans applied so far (tests wait on it).
    [[nodiscard]] int plansApplied() const { return m_plans; }
    void setLive(bool live);
    [[nodiscard]] QStringList rowLabels() const;
    [[nodiscard]] int spansInView() const; // bars the last paint drew
    // The span under a point of the widget, if any (what the tooltip describes).
    [[nodiscard]] const TaskSpan* spanAt(const QPoint& p) const;
    [[nodiscard]] QString describe(const TaskSpan& s) const;

protected:
    void paintEvent(QPaintEvent* e) override;
    void wheelEvent(QWheelEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mouseReleaseEvent(QMouseEvent* e) override;
    void mouseDoubleClickEvent(QMouseEvent* e) override;
    void keyPressEvent(QKeyEvent* e) override;
    bool event(QEvent* e) override;

private:
    // The processes and their threads (thread -> pool) a snapshot has rows for; any thread.
    struct Plan {
        struct Process {
            QString host;
            bool dead = false;
            std::map<int, int> threads;
        };
        std::map<Pid, Process> processes;
    };
    static Plan plan(const TelemetrySnapshot& s);
    struct Row {
        Pid pid = 0;
        int thread = 0; // 0: the process's header row
        int pool = 0;
        QString label;
        int y = 0, h = 0;
    };
    void layoutRows();
    [[nodiscard]] double xToTime(double x) const;
    [[nodiscard]] double timeToX(double t) const;
    [[nodiscard]] QRectF plotRect() const;
    [[nodiscard]] std::pair<double, double> chunkBounds(
        const std::shared_ptr<const std::vector<TaskSpan>>& chunk) const;

    std::shared_ptr<const TelemetrySnapshot> m_snap;
    Plan m_plan;
    bool m_planning = false;
    std::shared_ptr<const TelemetrySnapshot> m_waiting; // the latest, while a plan is made
    int m_plans = 0;
    std::vector<Row> m_rows;
    std::map<std::pair<Pid, int>, int> m_rowOf; // (pid, thread) -> index in m_rows
    bool m_live = true;
    double m_span = 10; // seconds shown
    double m_t0 = 0, m_t1 = 10;
    bool m_dragging = false;
    QPoint m_dragFrom;
    double m_dragT0 = 0, m_dragT1 = 0;
    mutable int m_drawn = 0;
    // Time bounds of closed span chunks (immutable), so paint skips those out of view.
    struct ChunkBounds {
        std::weak_ptr<const std::vector<TaskSpan>> chunk;
        double lo = 0, hi = 0;
    };
    mutable std::map<const void*, ChunkBounds> m_chunkBounds;
    static constexpr int kGutter = 170;
    static constexpr int kAxisHeight = 22;
};

} // namespace weft::ui
