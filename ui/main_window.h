#pragma once
// Weft's main window: the workers table and the submit panel on the left; live charts, the
// reference table and the task timeline on the right; the log below. Reads engine snapshots
// through the EngineBridge and never waits on the engine.

#include "engine_bridge.h"

#include <QMainWindow>

class QTableView;
class QTabWidget;
class QLabel;

namespace weft::ui {

class WorkersModel;
class ReferencesModel;
class SubmissionsModel;
class LoadChart;
class PoolChart;
class ChannelChart;
class ReferencesChart;
class TimelineView;
class LogPane;
class SubmitPanel;
class KernelsView;
class KernelEditor;

class MainWindow final : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(EngineBridge& bridge, QWidget* parent = nullptr);
    ~MainWindow() override;

    // For tests and scripted screenshots.
    [[nodiscard]] WorkersModel* workersModel() const { return m_workers; }
    [[nodiscard]] ReferencesModel* referencesModel() const { return m_references; }
    [[nodiscard]] SubmissionsModel* submissionsModel() const { return m_submissions; }
    [[nodiscard]] LoadChart* loadChart() const { return m_load; }
    [[nodiscard]] PoolChart* poolChart() const { return m_pools; }
    [[nodiscard]] ChannelChart* channelChart() const { return m_channels; }
    [[nodiscard]] ReferencesChart* referencesChart() const { return m_refsChart; }
    [[nodiscard]] TimelineView* timeline() const { return m_timeline; }
    [[nodiscard]] SubmitPanel* submitPanel() const { return m_submit; }
    [[nodiscard]] LogPane* logPane() const { return m_log; }
    [[nodiscard]] QTabWidget* views() const { return m_tabs; }
    [[nodiscard]] KernelsView* kernelsView() const { return m_kernelsView; }
    [[nodiscard]] KernelEditor* kernelEditor() const { return m_editor; } // null until opened
    [[nodiscard]] class SshWorkersDialog* sshDialog() const { return m_sshDialog; } // ditto
    // Kernel libraries loaded from this window, most recent first (kept between runs).
    [[nodiscard]] static QStringList recentLibraries();

public slots:
    void addLocalWorkers(); // opens the dialog
    void addSshWorkers(); // opens the SSH dialog (modeless: hosts connect while it is open)
    void exportChartPng();
    // What the export actions write, without their file dialogs (tests use these).
    bool saveCurrentChart(const QString& path);
    bool saveSeries(const QString& path, QString* error);
    bool saveTrace(const QString& path, QString* error);
    void exportSeriesCsv();
    void exportTrace();
    void chooseKernelLibrary(); // Kernels ▸ Load Kernel Library… (a file dialog)
    // Loads a kernel library on every process and remembers it among the recent ones.
    void loadKernelLibrary(const QString& path);
    void newKernel(); // Kernels ▸ New Kernel…

protected:
    void closeEvent(QCloseEvent* e) override;

private:
    void buildActions();
    void applySnapshot(std::shared_ptr<const TelemetrySnapshot> s);
    void refreshWorkerActions();
    void rebuildRecentMenu();
    [[nodiscard]] QList<Pid> selectedPids() const;

    EngineBridge& m_bridge;
    WorkersModel* m_workers;
    ReferencesModel* m_references;
    SubmissionsModel* m_submissions;
    QTableView* m_workersView;
    QTableView* m_submissionsView;
    QTableView* m_referencesView;
    LoadChart* m_load;
    PoolChart* m_pools;
    ChannelChart* m_channels;
    ReferencesChart* m_refsChart;
    TimelineView* m_timeline;
    LogPane* m_log;
    SubmitPanel* m_submit;
    QTabWidget* m_tabs;
    KernelsView* m_kernelsView;
    KernelEditor* m_editor = nullptr;
    class SshWorkersDialog* m_sshDialog = nullptr;
    class QMenu* m_recentMenu = nullptr;
    QLabel* m_status;
    QAction* m_addAction = nullptr;
    QAction* m_removeAction = nullptr;
    QAction* m_killAction = nullptr;
    QAction* m_interruptAction = nullptr;
    bool m_closing = false;
    std::shared_ptr<const TelemetrySnapshot> m_last;
};

} // namespace weft::ui
