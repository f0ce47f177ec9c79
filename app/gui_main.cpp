// weft: the desktop application. Starts a cluster (process 1 is this program), opens the main
// window, and shuts the cluster down when the window closes.
//
//   weft [--workers N] [--threads N,M] [--demo] [--screenshot FILE [--after MS]]

#include "engine_bridge.h"
#include "main_window.h"
#include "submit_panel.h"
#include "value_text.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QGuiApplication>
#include <QScreen>
#include <QTabWidget>
#include <QTimer>

#include <cstdio>

int main(int argc, char** argv)
{
    // --version and --help must work without a display (a package test runs them).
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--version" || std::string_view(argv[i]) == "-v") {
            std::printf("weft %s\n", WEFT_VERSION);
            return 0;
        }
    }
    if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY")
        && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) {
        std::fprintf(stderr,
            "weft: no display. Run it on a desktop, or headless with xvfb-run weft ..., or "
            "QT_QPA_PLATFORM=offscreen weft --screenshot FILE. weft-cli runs the demo in a "
            "terminal.\n");
        return 2;
    }
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("weft"));
    QApplication::setApplicationDisplayName(QStringLiteral("Weft"));
    QApplication::setApplicationVersion(QStringLiteral(WEFT_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("io.github.weft.Weft"));

    QCommandLineParser cli;
    cli.setApplicationDescription(
        QStringLiteral("Launch a compute cluster, run kernels on it, and watch it work."));
    cli.addHelpOption();
    cli.addOption({ QStringLiteral("version"), QStringLiteral("Print the version.") });
    QCommandLineOption workers(QStringLiteral("workers"), QStringLiteral("Start N local workers."),
        QStringLiteral("N"), QStringLiteral("0"));
    QCommandLineOption threads(QStringLiteral("threads"),
        QStringLiteral("Threads per worker: default,interactive (like Julia's --threads)."),
        QStringLiteral("N,M"), QStringLiteral("1,1"));
    QCommandLineOption demo(QStringLiteral("demo"),
        QStringLiteral("Submit a pmap of unequal work items once the workers are up."));
    QCommandLineOption shot(QStringLiteral("screenshot"),
        QStringLiteral("Save a screenshot of the window to FILE, then quit."),
        QStringLiteral("FILE"));
    QCommandLineOption after(QStringLiteral("after"),
        QStringLiteral("Milliseconds to wait before the screenshot."), QStringLiteral("MS"),
        QStringLiteral("4000"));
    QCommandLineOption view(QStringLiteral("view"),
        QStringLiteral("Open on this view: load, pools, timeline, channels or references."),
        QStringLiteral("NAME"), QStringLiteral("load"));
    cli.addOptions({ workers, threads, demo, shot, after, view });
    cli.process(app);

    weft::Threads t;
    const auto parts = cli.value(threads).split(',');
    bool ok1 = false, ok2 = true;
    t.default_threads = parts.value(0).toInt(&ok1);
    if (parts.size() > 1)
        t.interactive = parts.value(1).toInt(&ok2);
    if (!ok1 || !ok2 || t.default_threads < 1 || t.interactive < 0) {
        std::fprintf(stderr, "weft: --threads wants N or N,M with N >= 1, M >= 0\n");
        return 2;
    }
    try {
        weft::check_threads(t, "--threads");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "weft: %s\n", e.what());
        return 2;
    }

    weft::ClusterOptions options;
    // The classroom kernels (the reference documents' examples) are a kernel library like any
    // other: loaded by default, on the master now and on each worker as it joins.
    if (auto classroom = weft::bundled_kernel_library("classroom"); !classroom.empty())
        options.kernel_libraries.push_back(classroom);
    else
        std::fprintf(stderr, "weft: the classroom kernel library is not installed beside weft\n");
    auto bridge = std::make_unique<weft::ui::EngineBridge>(options);
    weft::ui::MainWindow window(*bridge);
    QApplication::setWindowIcon(window.windowIcon());
    const QStringList views { QStringLiteral("load"), QStringLiteral("pools"),
        QStringLiteral("timeline"), QStringLiteral("channels"), QStringLiteral("references") };
    const int viewIndex = views.indexOf(cli.value(view).toLower());
    if (viewIndex < 0) {
        std::fprintf(stderr, "weft: --view wants one of %s\n", qPrintable(views.join(", ")));
        return 2;
    }
    window.views()->setCurrentIndex(viewIndex);
    window.show();

    const int n = cli.value(workers).toInt();
    if (n > 0)
        bridge->addLocalWorkers(n, t);
    if (cli.isSet(demo)) {
        QObject::connect(bridge.get(), &weft::ui::EngineBridge::workersAdded, &window, [&] {
            weft::ui::SubmitRequest r;
            r.pattern = weft::ui::Pattern::Pmap;
            r.kernel = QStringLiteral("work_ms");
            for (int i = 0; i < 240; ++i)
                r.items.emplace_back(std::int64_t(20 + (i * 37) % 180));
            r.description = QStringLiteral("pmap work_ms over 240 unequal items (demo)");
            window.submitPanel()->submitRequested(r);
        });
    }
    if (cli.isSet(shot)) {
        const QString file = cli.value(shot);
        QTimer::singleShot(cli.value(after).toInt(), &window, [&window, file] {
            if (!window.grab().save(file))
                std::fprintf(stderr, "weft: cannot write %s\n", qPrintable(file));
            else
                std::printf("weft: saved a screenshot to %s\n", qPrintable(file));
            window.close();
        });
    }
    const int rc = app.exec();
    bridge.reset(); // ends the cluster (already shut down when the window closed)
    return rc;
}
