#pragma once
// "Add local workers…": how many, and the threads of each (default + interactive, like Julia's
// --threads N,M).

#include "weft/cluster.h"

#include <QDialog>

class QSpinBox;

namespace weft::ui {

class AddWorkersDialog final : public QDialog {
    Q_OBJECT
public:
    explicit AddWorkersDialog(QWidget* parent = nullptr);
    [[nodiscard]] int count() const;
    [[nodiscard]] Threads threads() const;

private:
    QSpinBox* m_count;
    QSpinBox* m_default;
    QSpinBox* m_interactive;
};

} // namespace weft::ui
