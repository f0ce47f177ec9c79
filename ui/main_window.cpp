#include "main_window.h"

#include "add_workers_dialog.h"
#include "exporters.h"
#include "kernel_editor.h"
#include "kernels_view.h"
#include "log_pane.h"
#include "pool_chart.h"
#include "references_model.h"
#include "ssh_workers_dialog.h"
#include "submissions_model.h"
#include "submit_panel.h"
#include "time_series_chart.h"
#include "timeline_view.h"
#include "workers_model.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QInputDialog>
#include <QPushButton>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPainter>
#include <QRegularExpression>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QStyledItemDelegate>
#include <QTabWidget>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>

// The icon and other resources live in this static library: register them once.
static void initWeftResources()
{
    Q_INIT_RESOURCE(weft);
}

namespace weft::ui {

namespace {

// Draws a submission's progress as a bar behind its "done / total" text.
class ProgressDelegate final : public QStyledItemDelegate {
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(
        QPainter* p, const QStyleOptionViewItem& option, const QModelIndex& index) const override
    {
        const double f = index.data(SubmissionsModel::ProgressRole).toDouble();
        const bool ok = index.data(SubmissionsModel::OkRole).toBool();
        QRectF bar = QRectF(option.rect).adjusted(2, 3, -2, -3);
        QColor track = option.palette.color(QPalette::Text);
        track.setAlpha(25);
        p->fillRect(bar, track);
        bar.setWidth(bar.width() * std::clamp(f, 0.0, 1.0));
        QColor fill = ok ? QColor(0x59a14f) : QColor(0xe15759);
        fill.setAlpha(150);
        p->fillRect(bar, fill);
        p->setPen(option.palette.color(QPalette::Text));
        p->drawText(option.rect, Qt::AlignCenter, index.data().toString());
    }
};

QTableView* makeTable(QAbstractItemModel* model, const QString& name)
{
    auto* v = new QTableView;
    v->setObjectName(name);
    v->setModel(model);
    v->setSelectionBehavior(QAbstractItemView::SelectRows);
    v->setAlternatingRowColors(true);
    v->verticalHeader()->hide();
    v->verticalHeader()->setDefaultSectionSize(v->fontMetrics().height() + 6);
    v->horizontalHeader()->setStretchLastSection(true);
    v->setWordWrap(false);
    return v;
}

} // namespace

MainWindow::MainWindow(EngineBridge& bridge, QWidget* parent)
    : QMainWindow(parent)
    , m_bridge(bridge)
    , m_workers(new WorkersModel(this))
    , m_references(new ReferencesModel(this))
    , m_submissions(new SubmissionsModel(this))
    , m_load(new LoadChart)
    , m_pools(new PoolChart)
    , m_channels(new ChannelChart)
    , m_refsChart(new ReferencesChart)
    , m_timeline(new TimelineView)
    , m_log(new LogPane)
    , m_submit(new SubmitPanel)
    , m_tabs(new QTabWidget)
    , m_kernelsView(new KernelsView)
    , m_status(new QLabel)
{
    initWeftResources();
    setWindowTitle(tr("Weft"));
    setWindowIcon(QIcon(QStringLiteral(":/icons/weft.svg")));
    m_workersView = makeTable(m_workers, QStringLiteral("workersView"));
    m_workersView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_workersView->horizontalHeader()->setStretchLastSection(true);
    m_submissionsView = makeTable(m_submissions, QStringLiteral("submissionsView"));
    m_submissionsView->setItemDelegateForColumn(
        SubmissionsModel::Progress, new ProgressDelegate(m_submissionsView));
    m_submissionsView->setColumnWidth(SubmissionsModel::Number, 36);
    m_submissionsView->setColumnWidth(SubmissionsModel::What, 240);
    m_submissionsView->setColumnWidth(SubmissionsModel::Progress, 120);
    m_referencesView = makeTable(m_references, QStringLiteral("referencesView"));
    m_log->setObjectName(QStringLiteral("log"));
    m_timeline->setObjectName(QStringLiteral("timeline"));
    m_tabs->setObjectName(QStringLiteral("views"));

    // Left: who is in the cluster, and what to run on it.
    auto* left = new QSplitter(Qt::Vertical);
    left->addWidget(m_workersView);
    auto* submitBox = new QWidget;
    auto* submitLayout = new QVBoxLayout(submitBox);
    submitLayout->setContentsMargins(6, 6, 6, 0);
    submitLayout->addWidget(m_submit);
    submitLayout->addWidget(m_submissionsView, 1);
    left->addWidget(submitBox);
    left->setStretchFactor(0, 2);
    left->setStretchFactor(1, 3);

    // Right: what it is doing.
    auto* refsPage = new QSplitter(Qt::Vertical);
    refsPage->addWidget(m_refsChart);
    refsPage->addWidget(m_referencesView);
    m_tabs->addTab(m_load, tr("Load"));
    m_tabs->addTab(m_pools, tr("Thread pools"));
    m_tabs->addTab(m_timeline, tr("Timeline"));
    m_tabs->addTab(m_channels, tr("Channels"));
    m_tabs->addTab(refsPage, tr("References"));
    m_tabs->addTab(m_kernelsView, tr("Kernels"));
    auto* right = new QSplitter(Qt::Vertical);
    right->addWidget(m_tabs);
    right->addWidget(m_log);
    right->setStretchFactor(0, 4);
    right->setStretchFactor(1, 1);

    auto* main = new QSplitter(Qt::Horizontal);
    main->addWidget(left);
    main->addWidget(right);
    main->setStretchFactor(0, 2);
    main->setStretchFactor(1, 3);
    main->setSizes({ 620, 780 });
    left->setSizes({ 260, 600 });
    setCentralWidget(main);
    statusBar()->addPermanentWidget(m_status, 1);
    buildActions();
    resize(1400, 860);

    m_submit->setKernels(m_bridge.kernelNames());
    m_submit->setCatalog(m_bridge.kernelCatalog());
    m_kernelsView->setCatalog(m_bridge.kernelCatalog(), { Pid(1) });
    connect(&m_bridge, &EngineBridge::kernelsChanged, m_submit, &SubmitPanel::setKernels);
    connect(&m_bridge, &EngineBridge::kernelCatalogChanged, this, [this] {
        m_submit->setCatalog(m_bridge.kernelCatalog());
        auto procs = m_bridge.workers();
        if (!procs.contains(Pid(1)))
            procs.prepend(Pid(1));
        m_kernelsView->setCatalog(m_bridge.kernelCatalog(), procs);
    });
    connect(&m_bridge, &EngineBridge::kernelLibraryLoaded, this,
        [this](const QString& path, int loadedOn, const QStringList& failures) {
            const auto file = QFileInfo(path).fileName();
            if (loadedOn > 0)
                m_log->append(LogPane::Kind::Event,
                    tr("Kernel library %1 loaded on %n process(es).", nullptr, loadedOn).arg(file));
            for (const auto& f : failures)
                m_log->append(LogPane::Kind::Error, tr("Kernel library %1: %2").arg(file, f));
            if (m_editor && m_editor->isVisible())
                m_editor->status()->setText(failures.isEmpty()
                        ? tr("Loaded %1 on %n process(es).", nullptr, loadedOn).arg(file)
                        : tr("Built, but not loaded everywhere:\n%1").arg(failures.join('\n')));
            statusBar()->showMessage(tr("Kernel library %1: loaded on %2, failed on %3")
                                         .arg(file)
                                         .arg(loadedOn)
                                         .arg(failures.size()),
                6000);
        });
    connect(&m_bridge, &EngineBridge::snapshotReady, this, &MainWindow::applySnapshot);
    // The engine publishes a snapshot at every join and exit, samples or not.
    connect(&m_bridge, &EngineBridge::membershipChanged, this,
        [this] { m_submit->setWorkers(m_bridge.workers()); });
    connect(&m_bridge, &EngineBridge::workersAdded, this, [this](const QList<Pid>& pids) {
        // "2, 3" for a few, "2–65" for a run of ids.
        QString ids;
        if (pids.size() > 3 && pids.back() - pids.front() + 1 == Pid(pids.size())) {
            ids = QStringLiteral("%1–%2").arg(pids.front()).arg(pids.back());
        } else {
            QStringList s;
            for (Pid p : pids)
                s << QString::number(p);
            ids = s.join(QStringLiteral(", "));
        }
        m_log->append(LogPane::Kind::Event, tr("Workers %1 joined.").arg(ids));
        m_submit->setWorkers(m_bridge.workers());
        statusBar()->showMessage(tr("%n worker(s) added", nullptr, int(pids.size())), 4000);
    });
    connect(&m_bridge, &EngineBridge::addWorkersFailed, this, [this](const QString& e) {
        m_log->append(LogPane::Kind::Error, tr("Adding workers failed: %1").arg(e));
        QMessageBox::warning(this, tr("Adding workers failed"), e);
    });
    connect(&m_bridge, &EngineBridge::workerExited, this, [this](Pid pid, const QString& reason) {
        m_log->append(LogPane::Kind::Event, tr("Worker %1 exited: %2").arg(pid).arg(reason));
        m_submit->setWorkers(m_bridge.workers());
    });
    connect(&m_bridge, &EngineBridge::workerOutput, this, [this](Pid pid, const QString& line) {
        m_log->append(LogPane::Kind::Output, tr("From worker %1: %2").arg(pid).arg(line));
    });
    connect(&m_bridge, &EngineBridge::engineMessage, this,
        [this](const QString& m) { m_log->append(LogPane::Kind::Error, m); });
    connect(m_submit, &SubmitPanel::submitRequested, this, [this](const SubmitRequest& r) {
        const int id = m_bridge.submit(r);
        m_submissions->added(id, r.description);
        m_submissionsView->scrollToBottom();
    });
    connect(
        &m_bridge, &EngineBridge::submissionProgress, m_submissions, &SubmissionsModel::progressed);
    connect(&m_bridge, &EngineBridge::submissionFinished, this,
        [this](int id, bool ok, const QString& result) {
            m_submissions->finished(id, ok, result);
            if (!ok)
                m_log->append(
                    LogPane::Kind::Error, tr("Submission %1 failed: %2").arg(id).arg(result));
        });
    connect(m_workersView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
        &MainWindow::refreshWorkerActions);
    connect(&m_bridge, &EngineBridge::shutDownFinished, this, [this] {
        m_closing = true;
        close();
    });
    m_submit->setWorkers(m_bridge.workers());
    m_status->setText(tr("No workers yet: Cluster ▸ Add local workers…"));
    refreshWorkerActions();
}

MainWindow::~MainWindow() = default;

QStringList MainWindow::recentLibraries()
{
    return QSettings().value(QStringLiteral("kernels/recent")).toStringList();
}

void MainWindow::rebuildRecentMenu()
{
    if (!m_recentMenu)
        return;
    m_recentMenu->clear();
    const auto recent = recentLibraries();
    for (const auto& path : recent)
        m_recentMenu->addAction(path, this, [this, path] { loadKernelLibrary(path); });
    m_recentMenu->setEnabled(!recent.isEmpty());
}

void MainWindow::chooseKernelLibrary()
{
    const auto recent = recentLibraries();
    const QString path = QFileDialog::getOpenFileName(this, tr("Load Kernel Library"),
        recent.isEmpty() ? QString() : QFileInfo(recent.front()).absolutePath(),
        tr("Kernel libraries (*.so);;All files (*)"));
    if (!path.isEmpty())
        loadKernelLibrary(path);
}

void MainWindow::loadKernelLibrary(const QString& path)
{
    auto recent = recentLibraries();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > 8)
        recent.removeLast();
    QSettings().setValue(QStringLiteral("kernels/recent"), recent);
    rebuildRecentMenu();
    m_log->append(LogPane::Kind::Event, tr("Loading kernel library %1…").arg(path));
    m_bridge.loadKernelLibrary(path);
}

void MainWindow::newKernel()
{
    if (!m_editor) {
        m_editor = new KernelEditor(this);
        // Built libraries load like any other, but are not offered as recent files (each build
        // is a new file).
        connect(m_editor, &KernelEditor::loadRequested, this, [this](const QString& path) {
            m_log->append(LogPane::Kind::Event, tr("Loading kernel library %1…").arg(path));
            m_bridge.loadKernelLibrary(path);
        });
    }
    m_editor->show();
    m_editor->raise();
    m_editor->activateWindow();
}

void MainWindow::buildActions()
{
    auto* file = menuBar()->addMenu(tr("&File"));
    auto* png = file->addAction(tr("Export Chart as &PNG…"), this, &MainWindow::exportChartPng);
    png->setObjectName(QStringLiteral("actionExportPng"));
    auto* csv = file->addAction(tr("Export Series as &CSV…"), this, &MainWindow::exportSeriesCsv);
    csv->setObjectName(QStringLiteral("actionExportCsv"));
    auto* trace = file->addAction(tr("Export Timeline as &Trace…"), this, &MainWindow::exportTrace);
    trace->setObjectName(QStringLiteral("actionExportTrace"));
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    auto* cluster = menuBar()->addMenu(tr("&Cluster"));
    m_addAction = cluster->addAction(QIcon::fromTheme(QStringLiteral("list-add")),
        tr("&Add Local Workers…"), this, &MainWindow::addLocalWorkers);
    m_addAction->setObjectName(QStringLiteral("actionAddLocalWorkers"));
    m_addAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_N));
    auto* ssh = cluster->addAction(QIcon::fromTheme(QStringLiteral("network-server")),
        tr("Add &SSH Workers…"), this, &MainWindow::addSshWorkers);
    ssh->setObjectName(QStringLiteral("actionAddSshWorkers"));
    ssh->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_N));
    ssh->setToolTip(tr("Start workers on another machine over SSH"));
    m_removeAction = cluster->addAction(QIcon::fromTheme(QStringLiteral("list-remove")),
        tr("&Remove Selected Workers"), this, [this] { m_bridge.removeWorkers(selectedPids()); });
    m_removeAction->setObjectName(QStringLiteral("actionRemoveWorkers"));
    m_interruptAction = cluster->addAction(QIcon::fromTheme(QStringLiteral("media-playback-stop")),
        tr("&Interrupt Selected Workers"), this,
        [this] { m_bridge.interruptWorkers(selectedPids()); });
    m_interruptAction->setObjectName(QStringLiteral("actionInterruptWorkers"));
    m_interruptAction->setToolTip(tr("Interrupt the calls running on the worker (like Julia's "
                                     "interrupt): they fail with InterruptException; the worker "
                                     "stays."));
    m_killAction = cluster->addAction(QIcon::fromTheme(QStringLiteral("process-stop")),
        tr("&Kill Selected Worker (SIGKILL)"), this, [this] {
            for (Pid p : selectedPids())
                m_bridge.killWorker(p);
        });
    m_killAction->setObjectName(QStringLiteral("actionKillWorker"));
    m_killAction->setToolTip(tr("Kill the worker process at once: its pending calls fail with "
                                "ProcessExitedException, the rest of the cluster keeps working."));

    auto* kernels = menuBar()->addMenu(tr("&Kernels"));
    auto* load = kernels->addAction(QIcon::fromTheme(QStringLiteral("document-open")),
        tr("&Load Kernel Library…"), this, &MainWindow::chooseKernelLibrary);
    load->setObjectName(QStringLiteral("actionLoadKernelLibrary"));
    load->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_O));
    load->setToolTip(tr("Load a kernel library (a .so built with weft_add_kernel_library) on "
                        "every process, and on every worker added later"));
    m_recentMenu = kernels->addMenu(tr("&Recent Libraries"));
    rebuildRecentMenu();
    auto* fresh = kernels->addAction(tr("&New Kernel…"), this, &MainWindow::newKernel);
    fresh->setObjectName(QStringLiteral("actionNewKernel"));
    kernels->addSeparator();
    kernels->addAction(
        tr("Show &Kernels"), this, [this] { m_tabs->setCurrentWidget(m_kernelsView); });

    auto* view = menuBar()->addMenu(tr("&View"));
    auto* live
        = view->addAction(tr("Timeline: &Live"), m_timeline, [this] { m_timeline->setLive(true); });
    live->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    auto* rate = view->addMenu(tr("&Sampling Rate"));
    auto* rates = new QActionGroup(rate);
    for (int ms : { 100, 250, 1000, 0 }) {
        auto* a = rate->addAction(ms == 0 ? tr("Off") : tr("Every %1 ms").arg(ms), this,
            [this, ms] { m_bridge.setTelemetryInterval(ms); });
        a->setCheckable(true);
        a->setChecked(ms == 100);
        rates->addAction(a);
    }

    auto* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Weft"), this, [this] {
        QMessageBox::about(this, tr("About Weft"),
            tr("<h3>Weft %1</h3><p>Launch a compute cluster, run kernels on it, and watch every "
               "worker, thread pool, channel and reference live.</p>")
                .arg(QStringLiteral(WEFT_VERSION)));
    });

    auto* tools = addToolBar(tr("Cluster"));
    tools->setObjectName(QStringLiteral("clusterToolbar"));
    tools->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    tools->addAction(m_addAction);
    tools->addAction(ssh);
    tools->addAction(m_removeAction);
    tools->addAction(m_interruptAction);
    tools->addAction(m_killAction);
}

QList<Pid> MainWindow::selectedPids() const
{
    QList<Pid> out;
    for (auto& idx : m_workersView->selectionModel()->selectedRows()) {
        const Pid p = m_workers->pidAt(idx.row());
        if (p > 1 && m_workers->stateAt(idx.row()) != WorkersModel::RowState::Dead)
            out << p;
    }
    return out;
}

void MainWindow::refreshWorkerActions()
{
    const bool any = !selectedPids().isEmpty();
    m_removeAction->setEnabled(any);
    m_interruptAction->setEnabled(any);
    m_killAction->setEnabled(any);
}

void MainWindow::addLocalWorkers()
{
    AddWorkersDialog dlg(this);
    if (dlg.exec() != QDialog::Accepted)
        return;
    m_log->append(LogPane::Kind::Event,
        tr("Starting %1 local worker(s) with %2+%3 threads…")
            .arg(dlg.count())
            .arg(dlg.threads().default_threads)
            .arg(dlg.threads().interactive));
    m_bridge.addLocalWorkers(dlg.count(), dlg.threads());
}

void MainWindow::addSshWorkers()
{
    if (!m_sshDialog) {
        m_sshDialog = new SshWorkersDialog(m_bridge, this);
        // Nothing is accepted silently: an unknown host's key is shown with its fingerprint.
        m_bridge.setHostKeyAsker([this](const HostKeyQuestion& q) {
            QMessageBox box(QMessageBox::Question, tr("Unknown host key"),
                tr("<p>The host <b>%1</b> (port %2) is not known yet.</p>"
                   "<p>Its %3 key has the fingerprint<br><tt>%4</tt></p>"
                   "<p>Check it with the host's administrator. Accept it and record it in %5?</p>")
                    .arg(QString::fromStdString(q.host).toHtmlEscaped())
                    .arg(q.port)
                    .arg(QString::fromStdString(q.key_type), QString::fromStdString(q.fingerprint),
                        QString::fromStdString(q.known_hosts).toHtmlEscaped()),
                QMessageBox::Yes | QMessageBox::No, m_sshDialog);
            box.setObjectName(QStringLiteral("hostKeyQuestion"));
            box.setDefaultButton(QMessageBox::No);
            box.button(QMessageBox::Yes)->setText(tr("Accept and Connect"));
            return box.exec() == QMessageBox::Yes;
        });
        m_bridge.setPassphraseAsker([this](const QString& key) {
            return QInputDialog::getText(m_sshDialog, tr("Key passphrase"),
                tr("Passphrase for %1:").arg(key), QLineEdit::Password);
        });
        connect(&m_bridge, &EngineBridge::sshWorkersFailed, this, [this](int, const QString& e) {
            m_log->append(LogPane::Kind::Error, tr("Adding SSH workers failed: %1").arg(e));
        });
    }
    m_sshDialog->show();
    m_sshDialog->raise();
    m_sshDialog->activateWindow();
}

void MainWindow::applySnapshot(std::shared_ptr<const TelemetrySnapshot> s)
{
    m_last = s;
    m_workers->apply(*s);
    m_references->apply(*s);
    // Charts not on screen are cheap to skip; the current one is updated every time.
    m_load->apply(s);
    m_pools->apply(*s);
    m_channels->apply(s);
    m_refsChart->apply(s);
    m_timeline->apply(s);
    int live = 0, busy = 0;
    for (auto& p : s->processes) {
        if (p.pid == 1 || p.state == WorkerState::Exited)
            continue;
        ++live;
        busy += p.latest.pools[0].busy > 0;
    }
    m_status->setText(tr("%1 worker(s), %2 busy · %3 tasks recorded · sampling every %4 ms")
                          .arg(live)
                          .arg(busy)
                          .arg(s->spans_recorded)
                          .arg(int(s->interval * 1000)));
    refreshWorkerActions();
}

bool MainWindow::saveCurrentChart(const QString& path)
{
    QWidget* what = m_tabs->currentWidget();
    if (auto* split = qobject_cast<QSplitter*>(what))
        what = split->widget(0); // the references page: its chart, not the table
    return what->grab().save(path, "PNG");
}

bool MainWindow::saveSeries(const QString& path, QString* error)
{
    if (!m_last) {
        *error = tr("nothing recorded yet");
        return false;
    }
    QString channels = path;
    channels.replace(QRegularExpression(QStringLiteral("\\.csv$")), QString());
    channels += QStringLiteral("-channels.csv");
    return writeFile(path, processSeriesCsv(*m_last), error)
        && writeFile(channels, channelSeriesCsv(*m_last), error);
}

bool MainWindow::saveTrace(const QString& path, QString* error)
{
    if (!m_last) {
        *error = tr("nothing recorded yet");
        return false;
    }
    return writeFile(path, perfettoTrace(*m_last), error);
}

void MainWindow::exportChartPng()
{
    const QString name = m_tabs->tabText(m_tabs->currentIndex()).toLower().replace(' ', '-');
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Chart"),
        QStringLiteral("weft-%1.png").arg(name), tr("PNG images (*.png)"));
    if (path.isEmpty())
        return;
    if (!saveCurrentChart(path))
        QMessageBox::warning(this, tr("Export failed"), tr("Cannot write %1.").arg(path));
}

void MainWindow::exportSeriesCsv()
{
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export Series"), QStringLiteral("weft-series.csv"), tr("CSV files (*.csv)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!saveSeries(path, &error))
        QMessageBox::warning(this, tr("Export failed"), error);
    else
        statusBar()->showMessage(tr("Wrote %1 and its -channels.csv").arg(path), 5000);
}

void MainWindow::exportTrace()
{
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export Timeline"), QStringLiteral("weft-trace.json"), tr("Trace files (*.json)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!saveTrace(path, &error))
        QMessageBox::warning(this, tr("Export failed"), error);
    else
        statusBar()->showMessage(tr("Wrote %1 (open it in ui.perfetto.dev)").arg(path), 5000);
}

void MainWindow::closeEvent(QCloseEvent* e)
{
    if (m_closing || (m_bridge.isShutDown() && !m_bridge.hasCluster())) {
        e->accept();
        return;
    }
    // Shut the cluster down without blocking the GUI thread; close when it is done.
    e->ignore();
    if (!m_bridge.isShutDown()) {
        m_status->setText(tr("Shutting the cluster down…"));
        setEnabled(false);
        m_bridge.shutdown();
    }
}

} // namespace weft::ui
