// The submit panel as a user drives it: the rows each pattern needs, kept through failed
// submissions and pattern switches, and the request the input describes.

#include "submit_panel.h"

#include <QComboBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QtTest>

using namespace weft;
using namespace weft::ui;

namespace {

struct Panel {
    SubmitPanel p;
    QComboBox* pattern = p.findChild<QComboBox*>("pattern");
    QLineEdit* args = p.findChild<QLineEdit*>("arguments");
    QSpinBox* batch = p.findChild<QSpinBox*>("batchSize");
    QComboBox* worker = p.findChild<QComboBox*>("worker");
    QLabel* error = p.findChild<QLabel*>("inputError");
    Panel()
    {
        p.setKernels({ "add", "square" });
        p.setWorkers({ 2, 3 });
        p.show();
    }
    void choose(Pattern x) { pattern->setCurrentIndex(pattern->findData(int(x))); }
    // A row is shown when its field and its label are.
    bool rowShown(QWidget* field) const
    {
        auto* form = static_cast<QFormLayout*>(p.layout());
        auto* label = form->labelForField(field);
        return field->isVisible() && label && label->isVisible();
    }
    void submit() { QTest::mouseClick(p.findChild<QPushButton*>("submit"), Qt::LeftButton); }
};

} // namespace

class TestSubmitPanel : public QObject {
    Q_OBJECT
private slots:
    // A typed kernel gets a field per parameter, with its type and an example; each field takes
    // one value, and switching patterns back and forth keeps what was typed.
    void typed_kernels_get_a_field_per_parameter()
    {
        Panel w;
        KernelCatalog cat;
        KernelDescription k;
        k.name = "scale";
        k.signature = "(float64, int64) -> float64";
        k.description = "x times n";
        k.params = { "float64", "int64" };
        k.result = "float64";
        cat.kernels.push_back({ k, { 1, 2 } });
        w.p.setKernels({ "add", "scale" });
        w.p.setCatalog(cat);
        auto* kernel = w.p.findChild<QComboBox*>("kernel");
        kernel->setCurrentIndex(kernel->findText("scale"));
        w.choose(Pattern::RemoteCall);
        auto fields = w.p.parameterFields();
        QCOMPARE(fields.size(), 2);
        QVERIFY(!w.rowShown(w.args));
        QCOMPARE(fields[0]->placeholderText(), QString("3.5"));
        QCOMPARE(fields[1]->placeholderText(), QString("42"));
        QCOMPARE(fields[0]->toolTip(), QString("x times n"));
        QTest::keyClicks(fields[0], "2.5");
        QString error;
        QVERIFY(!w.p.request(&error));
        QCOMPARE(error, QString("Argument 2 (int64): give a value, e.g. 42"));
        QTest::keyClicks(fields[1], "3, 4");
        QVERIFY(!w.p.request(&error));
        QCOMPARE(error, QString("Argument 2 (int64): one value, not 2"));
        fields[1]->setText("\"x\"");
        QVERIFY(!w.p.request(&error));
        QCOMPARE(error,
            QString("scale(float64, int64) -> float64: argument 2: expected int64, got text"));
        fields[1]->setText("3");
        // pmap takes items in the one field; back to remotecall, the fields kept their values.
        w.choose(Pattern::Pmap);
        QVERIFY(w.rowShown(w.args));
        QVERIFY(w.p.parameterFields().isEmpty());
        w.choose(Pattern::RemoteCall);
        fields = w.p.parameterFields();
        QCOMPARE(fields.size(), 2);
        QCOMPARE(fields[1]->text(), QString("3"));
        auto r = w.p.request(&error);
        QVERIFY2(r, qPrintable(error));
        QCOMPARE(r->args.size(), std::size_t(2));
        QCOMPARE(r->args[0].as_double(), 2.5);
        QCOMPARE(r->args[1].as_int(), std::int64_t(3));
        QVERIFY(r->description.contains("scale(2.5, 3)"));
        QVERIFY(w.p.grab().save(QStringLiteral(QT_TESTCASE_BUILDDIR "/submit-typed.png")));
        // A variadic or unknown kernel keeps the free-form field.
        kernel->setCurrentIndex(kernel->findText("add"));
        QVERIFY(w.p.parameterFields().isEmpty());
        QVERIFY(w.rowShown(w.args));
    }

    // From a fresh start: distributed reduction, submit "abc" (an error), type one more
    // character, switch to everywhere, then back to remotecall. The Arguments row used to be
    // gone for good, and remotecall then ran kernel() with no arguments.
    void rows_survive_an_error_and_pattern_switches()
    {
        Panel w;
        w.choose(Pattern::Reduce);
        QTest::keyClicks(w.args, "abc");
        w.submit();
        QVERIFY(w.error->isVisible());
        QTest::keyClicks(w.args, "d");
        QVERIFY(!w.error->isVisible());
        w.choose(Pattern::Everywhere);
        w.choose(Pattern::RemoteCall);
        QVERIFY(w.rowShown(w.args));
        QVERIFY(w.rowShown(w.worker));
        QVERIFY(!w.rowShown(w.batch));
        w.args->clear();
        QTest::keyClicks(w.args, "2, 3");
        QString error;
        auto r = w.p.request(&error);
        QVERIFY2(r, qPrintable(error));
        QCOMPARE(r->pattern, Pattern::RemoteCall);
        QCOMPARE(r->args.size(), std::size_t(2));
        QCOMPARE(r->worker, Pid(2));
    }

    // Every pattern, in every order: each shows exactly its rows, and the Arguments row always.
    void each_pattern_shows_its_rows()
    {
        Panel w;
        const Pattern all[] = { Pattern::RemoteCall, Pattern::Spawn, Pattern::Pmap, Pattern::Reduce,
            Pattern::Everywhere };
        for (int round = 0; round < 3; ++round)
            for (Pattern a : all)
                for (Pattern b : all) {
                    w.choose(a);
                    w.submit(); // fails or not: rows must not change
                    w.choose(b);
                    QVERIFY(w.rowShown(w.args));
                    QCOMPARE(w.rowShown(w.worker), b == Pattern::RemoteCall);
                    QCOMPARE(w.rowShown(w.batch), b == Pattern::Pmap);
                }
    }
};

QTEST_MAIN(TestSubmitPanel)
#include "tst_submit_panel.moc"
