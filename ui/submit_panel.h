#pragma once
// Choose a kernel and a pattern, give arguments, submit. Builds a SubmitRequest for the engine's
// own API (remotecall, spawn, pmap, distributed_reduce, everywhere) and says clearly what is
// wrong with the input instead of submitting it.

#include "engine_bridge.h"

#include <QLineEdit>
#include <QWidget>

class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace weft::ui {

class SubmitPanel final : public QWidget {
    Q_OBJECT
public:
    explicit SubmitPanel(QWidget* parent = nullptr);
    void setKernels(const QStringList& kernels);
    // Signatures and descriptions: the argument field shows the chosen kernel's parameter types
    // (its description as help), and mistyped arguments are refused before submitting.
    void setCatalog(const KernelCatalog& catalog);
    void setWorkers(const QList<Pid>& workers);
    // The request the current input describes, or an error message.
    [[nodiscard]] std::optional<SubmitRequest> request(QString* error) const;

    // The per-parameter argument fields shown now (a typed kernel with remotecall, spawn or
    // everywhere), in order; empty when the one free-form field is shown.
    [[nodiscard]] QList<QLineEdit*> parameterFields() const;

signals:
    void submitRequested(const weft::ui::SubmitRequest& request);

private:
    void updateFields();
    void describeKernel();
    // One field per parameter of `k` (kept, with what was typed, while the types stay the same).
    void rebuildParameterFields(const KernelDescription* k);
    // Why `args` do not fit the chosen kernel, or "" (unknown kernels are the engine's to judge).
    [[nodiscard]] QString argumentError(const QString& kernel, const List& args) const;
    void trySubmit();

    QComboBox* m_kernel;
    QComboBox* m_pattern;
    QComboBox* m_worker;
    QLineEdit* m_args;
    QSpinBox* m_batch;
    QComboBox* m_reducer;
    QLabel* m_hint;
    QLabel* m_signature;
    KernelCatalog m_catalog;
    QLabel* m_error;
    QPushButton* m_submit;
    // The optional rows: a field and its label, shown and hidden together.
    struct Row {
        QWidget* label;
        QWidget* field;
        void setVisible(bool v) const
        {
            label->setVisible(v);
            field->setVisible(v);
        }
    };
    Row m_workerRow {}, m_batchRow {}, m_reducerRow {}, m_argsRow {}, m_paramsRow {};
    QWidget* m_params;
    QFormLayout* m_paramForm;
    std::vector<std::string> m_paramTypes;
    QList<QLineEdit*> m_paramEdits;
};

} // namespace weft::ui
