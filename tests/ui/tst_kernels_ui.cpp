// Kernel libraries in the desktop app: one loaded through the Kernels menu's action shows in
// the Kernels view and is submitted from the panel (mistyped arguments refused first); and a
// kernel written in the editor fails to build with its error at the right line, then builds,
// loads everywhere and runs.

#include "app_options.h"
#include "engine_bridge.h"
#include "kernel_editor.h"
#include "kernels_view.h"
#include "main_window.h"
#include "submissions_model.h"
#include "submit_panel.h"
#include "workers_model.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTextBlock>
#include <QtTest>

using namespace weft;
using namespace weft::ui;

namespace {

// The row of `kernel` in the Kernels view, or -1.
int rowOf(const KernelsView& v, const QString& kernel)
{
    for (int r = 0; r < v.table()->rowCount(); ++r)
        if (v.table()->item(r, 0)->text() == kernel)
            return r;
    return -1;
}

// Chooses kernel and pattern in the panel, types the arguments and presses Submit.
void submit(SubmitPanel& p, const QString& kernel, int patternIndex, const QString& args)
{
    auto* k = p.findChild<QComboBox*>(QStringLiteral("kernel"));
    k->setCurrentIndex(k->findText(kernel));
    p.findChild<QComboBox*>(QStringLiteral("pattern"))->setCurrentIndex(patternIndex);
    // Worker 2 by name: the panel keeps the first worker it heard of, which under load can be 3.
    auto* w = p.findChild<QComboBox*>(QStringLiteral("worker"));
    QTRY_VERIFY_WITH_TIMEOUT(w->findText(QStringLiteral("worker 2")) >= 0, 30000);
    w->setCurrentIndex(w->findText(QStringLiteral("worker 2")));
    // A typed kernel has a field per parameter (these have one); others the free-form field.
    const auto fields = p.parameterFields();
    auto* a = fields.isEmpty() ? p.findChild<QLineEdit*>(QStringLiteral("arguments")) : fields[0];
    a->setText(args);
    QTest::mouseClick(p.findChild<QPushButton*>(QStringLiteral("submit")), Qt::LeftButton);
}

QString lastResult(const SubmissionsModel& m)
{
    const int last = m.rowCount() - 1;
    return last < 0 ? QString() : m.data(m.index(last, SubmissionsModel::Result)).toString();
}

} // namespace

class TestKernelsUi : public QObject {
    Q_OBJECT
    std::unique_ptr<EngineBridge> bridge_;
    std::unique_ptr<MainWindow> window_;
    QTemporaryDir settings_;

private slots:
    void initTestCase()
    {
        // Recent libraries go to a scratch settings file, not the user's.
        QSettings::setDefaultFormat(QSettings::IniFormat);
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settings_.path());
        QCoreApplication::setApplicationName(QStringLiteral("weft-test"));
        bridge_ = std::make_unique<EngineBridge>(test::app_options());
        window_ = std::make_unique<MainWindow>(*bridge_);
        window_->show();
        bridge_->addLocalWorkers(2, { 1, 0 });
        QTRY_VERIFY_WITH_TIMEOUT(bridge_->workers().size() == 2, 30000);
    }

    void loadThroughTheMenuAndSubmit()
    {
        auto* load = window_->findChild<QAction*>(QStringLiteral("actionLoadKernelLibrary"));
        QVERIFY(load);
        QCOMPARE(load->text(), QStringLiteral("&Load Kernel Library…"));
        QSignalSpy loaded(bridge_.get(), &EngineBridge::kernelLibraryLoaded);
        window_->loadKernelLibrary(QStringLiteral(WEFT_TRIPLER_PATH)); // what the dialog calls
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 30000);
        QCOMPARE(loaded.at(0).at(1).toInt(), 3); // the master and both workers
        QVERIFY(loaded.at(0).at(2).toStringList().isEmpty());
        QCOMPARE(MainWindow::recentLibraries().value(0), QStringLiteral(WEFT_TRIPLER_PATH));

        // The Kernels view: the library's kernels, on every process.
        auto* view = window_->kernelsView();
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(*view, QStringLiteral("triple")) >= 0, 30000);
        const int row = rowOf(*view, QStringLiteral("triple"));
        QCOMPARE(view->table()->item(row, 1)->text(), QStringLiteral("tripler"));
        QCOMPARE(view->table()->item(row, 2)->text(), QStringLiteral("(int64) -> int64"));
        QCOMPARE(view->table()->item(row, 3)->text(), QStringLiteral("all 3"));
        QCOMPARE(view->table()->item(row, 4)->text(), QStringLiteral("Three times x"));
        window_->views()->setCurrentWidget(view);
        QVERIFY(window_->grab().save(QStringLiteral(QT_TESTCASE_BUILDDIR "/kernels-view.png")));

        // The submit panel offers it, with its signature, and refuses a mistyped argument.
        auto* panel = window_->submitPanel();
        QTRY_VERIFY_WITH_TIMEOUT(
            panel->findChild<QComboBox*>(QStringLiteral("kernel"))->findText("triple") >= 0, 30000);
        auto* model = window_->submissionsModel();
        const int before = model->rowCount();
        submit(*panel, QStringLiteral("triple"), 0, QStringLiteral("\"five\""));
        auto* error = panel->findChild<QLabel*>(QStringLiteral("inputError"));
        QVERIFY(error->isVisible());
        QCOMPARE(error->text(),
            QStringLiteral("triple(int64) -> int64: argument 1: expected int64, got text"));
        QCOMPARE(model->rowCount(), before); // nothing submitted
        QVERIFY(panel->findChild<QLabel*>(QStringLiteral("signature"))
                    ->text()
                    .contains(QStringLiteral("Three times x")));
        // One field for its one parameter, its type beside it and an example inside.
        QCOMPARE(panel->parameterFields().size(), 1);
        QCOMPARE(panel->parameterFields()[0]->placeholderText(), QStringLiteral("42"));
        QVERIFY(!panel->findChild<QLineEdit*>(QStringLiteral("arguments"))->isVisibleTo(panel));

        submit(*panel, QStringLiteral("triple"), 0, QStringLiteral("5"));
        QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), before + 1, 30000);
        QTRY_COMPARE_WITH_TIMEOUT(lastResult(*model), QStringLiteral("worker 2: 15"), 30000);
    }

    void buildInTheEditorThenLoadAndRun()
    {
        window_->newKernel();
        auto* ed = window_->kernelEditor();
        QVERIFY(ed && ed->isVisible());
        QTemporaryDir out;
        ed->setOutputDirectory(out.path());
        ed->nameEdit()->setText(QStringLiteral("editor_test"));
        // Line 5 calls a function that does not exist.
        ed->editor()->setPlainText(QStringLiteral("#include <weft/weft.h>\n"
                                                  "namespace {\n"
                                                  "std::int64_t plus_two(std::int64_t x)\n"
                                                  "{\n"
                                                  "    return add_two_please(x);\n"
                                                  "}\n"
                                                  "} // namespace\n"
                                                  "WEFT_KERNEL(plus_two, \"x + 2\");\n"));
        QSignalSpy built(ed, &KernelEditor::buildFinished);
        QTest::mouseClick(ed->buildButton(), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(built.count(), 1, 120000);
        QCOMPARE(built.at(0).at(0).toBool(), false);
        QVERIFY(ed->diagnostics()->count() >= 1);
        const QString first = ed->diagnostics()->item(0)->text();
        QVERIFY2(first.startsWith(QStringLiteral("line 5: error:")), qPrintable(first));
        QVERIFY2(first.contains(QStringLiteral("add_two_please")), qPrintable(first));
        // Choosing it put the cursor on line 5.
        ed->diagnostics()->setCurrentRow(-1);
        ed->diagnostics()->setCurrentRow(0);
        QCOMPARE(ed->editor()->textCursor().blockNumber(), 4);

        // Fixed: it builds, loads everywhere, and runs from the panel.
        QSignalSpy loaded(bridge_.get(), &EngineBridge::kernelLibraryLoaded);
        auto text = ed->editor()->toPlainText();
        text.replace(QStringLiteral("add_two_please(x)"), QStringLiteral("x + 2"));
        ed->editor()->setPlainText(text);
        QTest::mouseClick(ed->buildButton(), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(built.count(), 2, 120000);
        QVERIFY2(built.at(1).at(0).toBool(), qPrintable(ed->status()->text()));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 30000);
        QVERIFY2(loaded.at(0).at(2).toStringList().isEmpty(),
            qPrintable(loaded.at(0).at(2).toStringList().join('\n')));
        QCOMPARE(loaded.at(0).at(1).toInt(), 3);
        auto* panel = window_->submitPanel();
        QTRY_VERIFY_WITH_TIMEOUT(
            panel->findChild<QComboBox*>(QStringLiteral("kernel"))->findText("plus_two") >= 0,
            30000);
        auto* model = window_->submissionsModel();
        const int before = model->rowCount();
        submit(*panel, QStringLiteral("plus_two"), 0, QStringLiteral("40"));
        QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), before + 1, 30000);
        QTRY_COMPARE_WITH_TIMEOUT(lastResult(*model), QStringLiteral("worker 2: 42"), 30000);
        QVERIFY(ed->grab().save(QStringLiteral(QT_TESTCASE_BUILDDIR "/kernel-editor.png")));
        // Builds do not pile up: a build removes every earlier one but the latest (which later
        // workers may still load by its path).
        const QDir cache(out.path() + QStringLiteral("/editor_test"));
        const auto filter = QStringList { QStringLiteral("libeditor_test.*.so") };
        const auto afterTwo = cache.entryList(filter);
        QCOMPARE(afterTwo.size(), 1); // the first build failed, so it wrote none
        for (int b = 3; b <= 4; ++b) {
            QTest::mouseClick(ed->buildButton(), Qt::LeftButton);
            QTRY_COMPARE_WITH_TIMEOUT(built.count(), b, 120000);
            QVERIFY2(built.at(b - 1).at(0).toBool(), qPrintable(ed->status()->text()));
        }
        const auto afterFour = cache.entryList(filter);
        QCOMPARE(afterFour.size(), 2); // builds 3 and 4
        QVERIFY(!afterFour.contains(afterTwo.front()));
    }

    void noCompilerNamesThePackage()
    {
        auto* ed = window_->kernelEditor();
        QVERIFY(ed);
        ed->setCompiler(QString());
        QSignalSpy built(ed, &KernelEditor::buildFinished);
        QTest::mouseClick(ed->buildButton(), Qt::LeftButton);
        QCOMPARE(built.count(), 1);
        QVERIFY2(ed->status()->text().contains(QStringLiteral("apt install g++")),
            qPrintable(ed->status()->text()));
    }

    void diagnosticsAreParsedForTheSourceOnly()
    {
        const auto ds = parseDiagnostics(
            QStringLiteral("/tmp/k/mine.cpp: In function 'f':\n"
                           "/tmp/k/mine.cpp:12:7: error: 'y' was not declared in this scope\n"
                           "/usr/include/weft/kernel.h:40:3: note: in expansion\n"
                           "/tmp/k/mine.cpp:3:1: warning: unused variable 'z'\n"
                           "/tmp/k/other.cpp:1:1: error: elsewhere\n"),
            QStringLiteral("mine.cpp"));
        QCOMPARE(ds.size(), 2);
        QCOMPARE(ds[0].line, 12);
        QCOMPARE(ds[0].column, 7);
        QCOMPARE(ds[0].severity, QStringLiteral("error"));
        QCOMPARE(ds[0].message, QStringLiteral("'y' was not declared in this scope"));
        QCOMPARE(ds[1].severity, QStringLiteral("warning"));
        QCOMPARE(processRanges({ 5, 1, 2, 3, 7, 8 }), QStringLiteral("1–3, 5, 7, 8"));
    }

    void cleanupTestCase()
    {
        window_.reset();
        bridge_.reset();
    }
};

QTEST_MAIN(TestKernelsUi)
#include "tst_kernels_ui.moc"
