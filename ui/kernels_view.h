#pragma once
// The Kernels view: every kernel some process has loaded, with its library, signature and
// description, and which processes have it; below, why a library did not load where it did not.

#include "engine_bridge.h"

#include <QWidget>

class QLabel;
class QTableWidget;

namespace weft::ui {

class KernelsView final : public QWidget {
    Q_OBJECT
public:
    explicit KernelsView(QWidget* parent = nullptr);
    // `processes`: every process of the cluster, to say "all" when a kernel is on each.
    void setCatalog(const KernelCatalog& catalog, const QList<Pid>& processes);
    [[nodiscard]] QTableWidget* table() const { return m_table; }
    [[nodiscard]] QLabel* errors() const { return m_errors; }

private:
    QTableWidget* m_table;
    QLabel* m_errors;
};

// "1, 2, 5-8" for a list of process ids.
[[nodiscard]] QString processRanges(QList<Pid> pids);

} // namespace weft::ui
