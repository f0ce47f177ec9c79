#include "submit_panel.h"

#include "value_text.h"

#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

namespace weft::ui {

SubmitPanel::SubmitPanel(QWidget* parent)
    : QWidget(parent)
    , m_kernel(new QComboBox)
    , m_pattern(new QComboBox)
    , m_worker(new QComboBox)
    , m_args(new QLineEdit)
    , m_batch(new QSpinBox)
    , m_reducer(new QComboBox)
    , m_hint(new QLabel)
    , m_signature(new QLabel)
    , m_error(new QLabel)
    , m_submit(new QPushButton(tr("Submit")))
    , m_params(new QWidget)
    , m_paramForm(new QFormLayout(m_params))
{
    m_params->setObjectName(QStringLiteral("parameters"));
    m_paramForm->setContentsMargins(0, 0, 0, 0);
    m_kernel->setObjectName(QStringLiteral("kernel"));
    m_pattern->setObjectName(QStringLiteral("pattern"));
    m_worker->setObjectName(QStringLiteral("worker"));
    m_args->setObjectName(QStringLiteral("arguments"));
    m_batch->setObjectName(QStringLiteral("batchSize"));
    m_reducer->setObjectName(QStringLiteral("reducer"));
    m_submit->setObjectName(QStringLiteral("submit"));
    m_error->setObjectName(QStringLiteral("inputError"));
    m_signature->setObjectName(QStringLiteral("signature"));
    m_signature->setWordWrap(true);
    m_signature->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_pattern->addItem(tr("remotecall on a worker"), int(Pattern::RemoteCall));
    m_pattern->addItem(tr("spawn (any worker)"), int(Pattern::Spawn));
    m_pattern->addItem(tr("pmap over items"), int(Pattern::Pmap));
    m_pattern->addItem(tr("distributed reduction"), int(Pattern::Reduce));
    m_pattern->addItem(tr("everywhere"), int(Pattern::Everywhere));
    m_batch->setRange(1, 100000);
    m_reducer->addItems(
        { QStringLiteral("+"), QStringLiteral("*"), QStringLiteral("min"), QStringLiteral("max") });
    m_reducer->setEditable(true); // or the name of a two-argument kernel
    m_args->setClearButtonEnabled(true);
    m_hint->setWordWrap(true);
    m_hint->setForegroundRole(QPalette::PlaceholderText);
    m_error->setWordWrap(true);
    m_error->setStyleSheet(QStringLiteral("color: #d03b3b"));
    m_error->hide();
    m_submit->setDefault(true);

    auto* form = new QFormLayout(this);
    form->setContentsMargins(0, 0, 0, 0);
    // Rows are shown and hidden by their own widgets, never by QFormLayout::setRowVisible: mixed
    // with a label hidden on its own (the error) it lost track of rows, and the Arguments row
    // could vanish for good.
    const auto row = [&](const QString& text, QWidget* field) {
        auto* label = new QLabel(text);
        label->setBuddy(field);
        form->addRow(label, field);
        return Row { label, field };
    };
    row(tr("&Kernel:"), m_kernel);
    form->addRow(QString(), m_signature);
    row(tr("&Pattern:"), m_pattern);
    m_workerRow = row(tr("&Worker:"), m_worker);
    m_argsRow = row(tr("&Arguments:"), m_args);
    m_paramsRow = row(tr("&Arguments:"), m_params);
    m_batchRow = row(tr("&Batch size:"), m_batch);
    m_reducerRow = row(tr("&Reducer:"), m_reducer);
    form->addRow(m_hint);
    form->addRow(m_error);
    auto* buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(m_submit);
    form->addRow(buttons);

    connect(m_pattern, &QComboBox::currentIndexChanged, this, &SubmitPanel::updateFields);
    connect(m_kernel, &QComboBox::currentTextChanged, this, &SubmitPanel::describeKernel);
    connect(m_submit, &QPushButton::clicked, this, &SubmitPanel::trySubmit);
    connect(m_args, &QLineEdit::returnPressed, this, &SubmitPanel::trySubmit);
    connect(m_args, &QLineEdit::textChanged, m_error, &QLabel::hide);
    updateFields();
}

namespace {

// What a value of a parameter type looks like, as the field's example.
QString exampleOf(const std::string& type)
{
    if (type == "int64")
        return QStringLiteral("42");
    if (type == "float64")
        return QStringLiteral("3.5");
    if (type == "bool")
        return QStringLiteral("true");
    if (type == "text")
        return QStringLiteral("\"text\"");
    if (type == "list" || type == "vector<float64>" || type == "vector<int64>")
        return QStringLiteral("[1, 2, 3]");
    return QString::fromStdString(type);
}

} // namespace

QList<QLineEdit*> SubmitPanel::parameterFields() const
{
    return m_params->isHidden() ? QList<QLineEdit*> {} : m_paramEdits;
}

void SubmitPanel::rebuildParameterFields(const KernelDescription* k)
{
    const std::vector<std::string> types
        = k && !k->variadic ? k->params : std::vector<std::string> {};
    if (types == m_paramTypes)
        return;
    m_paramTypes = types;
    while (m_paramForm->rowCount() > 0)
        m_paramForm->removeRow(0); // deletes the row's label and field
    m_paramEdits.clear();
    for (std::size_t i = 0; i < types.size(); ++i) {
        auto* edit = new QLineEdit;
        edit->setObjectName(QStringLiteral("argument%1").arg(i + 1));
        edit->setPlaceholderText(exampleOf(types[i]));
        edit->setClearButtonEnabled(true);
        auto* label = new QLabel(QStringLiteral("%1 · %2").arg(i + 1).arg(
            QString::fromStdString(types[i]).toHtmlEscaped()));
        label->setBuddy(edit);
        label->setForegroundRole(QPalette::PlaceholderText);
        m_paramForm->addRow(label, edit);
        connect(edit, &QLineEdit::returnPressed, this, &SubmitPanel::trySubmit);
        connect(edit, &QLineEdit::textChanged, m_error, &QLabel::hide);
        m_paramEdits << edit;
    }
}

void SubmitPanel::setKernels(const QStringList& kernels)
{
    const QString current = m_kernel->currentText();
    m_kernel->clear();
    m_kernel->addItems(kernels);
    const int i = m_kernel->findText(current);
    if (i >= 0)
        m_kernel->setCurrentIndex(i);
}

void SubmitPanel::setCatalog(const KernelCatalog& catalog)
{
    m_catalog = catalog;
    describeKernel();
}

void SubmitPanel::describeKernel()
{
    const auto* k = m_catalog.find(m_kernel->currentText().trimmed());
    if (!k) {
        m_signature->clear();
        m_signature->setToolTip(QString());
        m_args->setToolTip(QString());
        updateFields();
        return;
    }
    const QString sig = QString::fromStdString(k->name + k->signature);
    const QString desc = QString::fromStdString(k->description);
    m_signature->setText(desc.isEmpty() ? QStringLiteral("<code>%1</code>").arg(sig.toHtmlEscaped())
                                        : QStringLiteral("<code>%1</code> — %2")
                                              .arg(sig.toHtmlEscaped(), desc.toHtmlEscaped()));
    m_signature->setToolTip(QString::fromStdString(
        k->library.empty() ? std::string("built in") : "from kernel library " + k->library));
    m_args->setToolTip(desc);
    updateFields();
}

QString SubmitPanel::argumentError(const QString& kernel, const List& args) const
{
    const auto* k = m_catalog.find(kernel);
    if (!k)
        return {};
    const auto why = argument_error(*k, args);
    return why.empty()
        ? QString()
        : tr("%1%2: %3")
              .arg(kernel, QString::fromStdString(k->signature), QString::fromStdString(why));
}

void SubmitPanel::setWorkers(const QList<Pid>& workers)
{
    const auto current = m_worker->currentData();
    m_worker->clear();
    for (Pid p : workers)
        m_worker->addItem(p == 1 ? tr("1 (master)") : tr("worker %1").arg(p), p);
    const int i = m_worker->findData(current);
    if (i >= 0)
        m_worker->setCurrentIndex(i);
}

void SubmitPanel::updateFields()
{
    const auto p = Pattern(m_pattern->currentData().toInt());
    // A typed kernel's parameter types are the example the argument field shows.
    const auto* k = m_catalog.find(m_kernel->currentText().trimmed());
    QStringList types;
    if (k && !k->variadic)
        for (const auto& t : k->params)
            types << QString::fromStdString(t);
    const QString example
        = k && !k->variadic ? types.join(QStringLiteral(", ")) : QStringLiteral("2, 3");
    m_workerRow.setVisible(p == Pattern::RemoteCall);
    m_batchRow.setVisible(p == Pattern::Pmap);
    m_reducerRow.setVisible(p == Pattern::Reduce);
    // A typed kernel called with its arguments gets a field per parameter, its type beside it.
    rebuildParameterFields(k);
    const bool perParameter = !m_paramEdits.isEmpty()
        && (p == Pattern::RemoteCall || p == Pattern::Spawn || p == Pattern::Everywhere);
    m_argsRow.setVisible(!perParameter);
    m_paramsRow.setVisible(perParameter);
    for (auto* e : m_paramEdits)
        e->setToolTip(k ? QString::fromStdString(k->description) : QString());
    switch (p) {
    case Pattern::RemoteCall:
        m_hint->setText(tr("Runs kernel(arguments…) on the chosen worker. Arguments: 2, 3.5, "
                           "\"text\", [1, 2], true."));
        m_args->setPlaceholderText(example);
        break;
    case Pattern::Spawn:
        m_hint->setText(tr("Runs kernel(arguments…) on the next worker, round robin."));
        m_args->setPlaceholderText(example);
        break;
    case Pattern::Pmap:
        m_hint->setText(tr("kernel(item) for every item, handed to whichever worker is free "
                           "(dynamic scheduling). Items: a range such as 1:100, or a list."));
        m_args->setPlaceholderText(QStringLiteral("1:100"));
        break;
    case Pattern::Reduce:
        m_hint->setText(tr("@distributed (reducer) for i in lo:hi — kernel(i), one contiguous "
                           "chunk per worker, partial results reduced here."));
        m_args->setPlaceholderText(QStringLiteral("1:1000000"));
        break;
    case Pattern::Everywhere:
        m_hint->setText(tr("Runs kernel(arguments…) on every process, the master included."));
        m_args->setPlaceholderText(k && !k->variadic ? example : QString());
        break;
    }
}

std::optional<SubmitRequest> SubmitPanel::request(QString* error) const
{
    SubmitRequest r;
    r.pattern = Pattern(m_pattern->currentData().toInt());
    r.kernel = m_kernel->currentText().trimmed();
    if (r.kernel.isEmpty()) {
        *error = tr("Choose a kernel.");
        return std::nullopt;
    }
    QString text = m_args->text().trimmed();
    const bool perParameter = !parameterFields().isEmpty();
    switch (r.pattern) {
    case Pattern::RemoteCall:
    case Pattern::Spawn:
    case Pattern::Everywhere: {
        if (perParameter) {
            // One value per field.
            QStringList texts;
            for (int i = 0; i < m_paramEdits.size(); ++i) {
                const QString t = m_paramEdits[i]->text().trimmed();
                const QString type = QString::fromStdString(m_paramTypes[std::size_t(i)]);
                auto one = parseArguments(t);
                if (!one.error.isEmpty()) {
                    *error = tr("Argument %1 (%2): %3").arg(i + 1).arg(type, one.error);
                    return std::nullopt;
                }
                if (one.values.size() != 1) {
                    *error = one.values.empty()
                        ? tr("Argument %1 (%2): give a value, e.g. %3")
                              .arg(i + 1)
                              .arg(type, exampleOf(m_paramTypes[std::size_t(i)]))
                        : tr("Argument %1 (%2): one value, not %3")
                              .arg(i + 1)
                              .arg(type)
                              .arg(one.values.size());
                    return std::nullopt;
                }
                r.args.push_back(std::move(one.values.front()));
                texts << t;
            }
            text = texts.join(QStringLiteral(", "));
        } else {
            auto parsed = parseArguments(text);
            if (!parsed.error.isEmpty()) {
                *error = tr("Arguments: %1").arg(parsed.error);
                return std::nullopt;
            }
            r.args = std::move(parsed.values);
        }
        if (auto why = argumentError(r.kernel, r.args); !why.isEmpty()) {
            *error = why;
            return std::nullopt;
        }
        if (r.pattern == Pattern::RemoteCall) {
            if (m_worker->currentIndex() < 0) {
                *error = tr("Add a worker first, or choose spawn.");
                return std::nullopt;
            }
            r.worker = Pid(m_worker->currentData().toUInt());
        }
        r.description = QStringLiteral("%1 %2(%3)%4")
                            .arg(patternName(r.pattern), r.kernel, text,
                                r.pattern == Pattern::RemoteCall ? tr(" on worker %1").arg(r.worker)
                                                                 : QString());
        break;
    }
    case Pattern::Pmap: {
        auto parsed = parseItems(text);
        if (!parsed.error.isEmpty() || parsed.values.empty()) {
            *error = parsed.error.isEmpty()
                ? tr("Give the items: a range such as 1:100, or a list.")
                : tr("Items: %1").arg(parsed.error);
            return std::nullopt;
        }
        r.items = std::move(parsed.values);
        // pmap calls kernel(item): the first item stands for all of them.
        if (auto why = argumentError(r.kernel, List { r.items.front() }); !why.isEmpty()) {
            *error = tr("Items: %1").arg(why);
            return std::nullopt;
        }
        r.batchSize = m_batch->value();
        r.description = tr("pmap %1 over %2 (%3 items, batch %4)")
                            .arg(r.kernel, text)
                            .arg(r.items.size())
                            .arg(r.batchSize);
        break;
    }
    case Pattern::Reduce: {
        auto range = parseRange(text);
        if (!range || range->second < range->first) {
            *error = tr("Give a range lo:hi, such as 1:1000000.");
            return std::nullopt;
        }
        r.lo = range->first;
        r.hi = range->second + 1; // Julia's ranges include their end
        if (auto why = argumentError(r.kernel, List { Value(r.lo) }); !why.isEmpty()) {
            *error = tr("The mapper is called with each integer i: %1").arg(why);
            return std::nullopt;
        }
        r.reducer = m_reducer->currentText().trimmed();
        r.description = tr("@distributed (%1) for i in %2: %3(i)").arg(r.reducer, text, r.kernel);
        break;
    }
    }
    return r;
}

void SubmitPanel::trySubmit()
{
    QString error;
    auto r = request(&error);
    if (!r) {
        m_error->setText(error);
        m_error->show();
        return;
    }
    m_error->hide();
    emit submitRequested(*r);
}

} // namespace weft::ui
