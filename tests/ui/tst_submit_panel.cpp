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
