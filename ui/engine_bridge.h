#pragma once
// The one place where engine threads meet the Qt event loop. Owns the Cluster; every blocking
// engine call runs on the bridge's own thread pool, and everything the engine reports reaches
// the GUI thread as a queued call. Telemetry snapshots are coalesced: the latest wins, at most
// 10 a second. Lives on the GUI thread; nothing here throws into Qt.

#include "weft/weft.h"

#include <QObject>
#include <QString>
#include <QStringList>
#include <QThreadPool>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

namespace weft::ui {

enum class Pattern { RemoteCall, Spawn, Pmap, Reduce, Everywhere };
QString patternName(Pattern p);

// One piece of work the submit panel asks for; the engine's own API runs it.
struct SubmitRequest {
    Pattern pattern = Pattern::RemoteCall;
    QString kernel;
    List args; // RemoteCall, Spawn, Everywhere
    List items; // Pmap
    int batchSize = 1; // Pmap
    Pid worker = 0; // RemoteCall
    QString reducer = QStringLiteral("+"); // Reduce
    qint64 lo = 0, hi = 0; // Reduce: mapper(i) for i in [lo, hi)
    QString description; // what the submissions list shows
};

// Every kernel some process has loaded, with the processes that have it: what the Kernels view
// and the submit panel show.
struct KernelCatalogEntry {
    KernelDescription kernel;
    QList<Pid> processes;
};
struct KernelCatalog {
    std::vector<KernelCatalogEntry> kernels; // sorted by name; the engine's weft.* left out
    QStringList errors; // why a library did not load, one line per process and library
    [[nodiscard]] const KernelDescription* find(const QString& name) const;
};

class EngineBridge final : public QObject {
    Q_OBJECT
public:
    explicit EngineBridge(ClusterOptions options, QObject* parent = nullptr);
    ~EngineBridge() override; // shuts the cluster down if shutdown() was not called

    // Non-blocking: the work happens on the bridge's threads, results come back as signals.
    void addLocalWorkers(int count, Threads threads);
    // Starts workers over SSH; the answer comes as sshWorkersAdded or sshWorkersFailed with the
    // returned ticket (and workersAdded, as for local workers).
    int addSshWorkers(SshSpec spec);
    // Gives up on an attempt: workers it still brings are removed as they join.
    void cancelSshWorkers(int ticket);
    // Asked on the GUI thread while a login waits: an unknown host key (true accepts it), and a
    // key file's passphrase ("" gives up on that key).
    void setHostKeyAsker(std::function<bool(const HostKeyQuestion&)> ask);
    void setPassphraseAsker(std::function<QString(const QString& keyFile)> ask);
    // known_hosts and ssh_config for specs that name none ("": the user's own).
    void setSshFiles(const QString& knownHosts, const QString& sshConfig);
    void removeWorkers(const QList<Pid>& pids);
    void killWorker(Pid pid); // SIGKILL: to show what a dying worker does
    void interruptWorkers(const QList<Pid>& pids); // the calls running there fail, workers stay
    int submit(const SubmitRequest& request); // returns the submission's id
    void setTelemetryInterval(int ms);
    // Loads a kernel library on every process (and later workers); emits kernelLibraryLoaded.
    void loadKernelLibrary(const QString& path);
    // Removes every worker and ends the cluster; emits shutDownFinished() when done.
    void shutdown();

    [[nodiscard]] QStringList kernelNames() const; // kernels loaded on the workers
    [[nodiscard]] const KernelCatalog& kernelCatalog() const { return m_catalog; }
    // The engine's latest snapshot delivered to the GUI thread: samples and membership (the
    // engine publishes one at every join and exit, and once a second with sampling off).
    // Reading it never waits on the engine.
    [[nodiscard]] std::shared_ptr<const TelemetrySnapshot> latest() const;
    [[nodiscard]] QList<Pid> workers() const; // as Cluster::workers(), from latest()
    [[nodiscard]] bool hasCluster() const { return m_cluster != nullptr; }
    [[nodiscard]] bool isShutDown() const { return m_shutDown; }

signals:
    void snapshotReady(std::shared_ptr<const weft::TelemetrySnapshot> snapshot);
    void workersAdded(const QList<weft::Pid>& pids);
    void addWorkersFailed(const QString& error);
    void sshWorkersAdded(int ticket, const QList<weft::Pid>& pids);
    void sshWorkersFailed(int ticket, const QString& error);
    void workerExited(weft::Pid pid, const QString& reason);
    // Membership in latest() changed (a worker starting, joining, exiting, gone): with sampling
    // off too. Emitted just before snapshotReady.
    void membershipChanged();
    void workerOutput(weft::Pid pid, const QString& line);
    void engineMessage(const QString& message);
    void submissionProgress(int id, qint64 done, qint64 total);
    void submissionFinished(int id, bool ok, const QString& result);
    void kernelsChanged(const QStringList& kernels);
    void kernelCatalogChanged();
    // `failures`: one line per process that could not load it (empty when all did).
    void kernelLibraryLoaded(const QString& path, int loadedOn, const QStringList& failures);
    void shutDownFinished();

private:
    void deliverSnapshot();
    void post(std::function<void()> fn); // runs fn on the GUI thread (if the bridge still lives)
    void runJob(std::function<void()> job);
    // A user's action on a job thread; an error it throws reaches the log (engineMessage).
    void runAction(std::function<void()> action);
    void refreshKernels();
    void removeWorkersAndFinishJobs(); // any thread but the GUI's when the cluster is busy

    std::unique_ptr<Cluster> m_cluster;
    QThreadPool m_jobs;
    std::atomic<int> m_nextSubmission { 1 };
    std::atomic<bool> m_shutDown { false };
    // The guard outlives the bridge in callbacks: posts after destruction are dropped.
    struct Guard {
        std::mutex m;
        EngineBridge* bridge = nullptr;
    };
    std::shared_ptr<Guard> m_guard;
    mutable std::mutex m_snapMutex;
    std::shared_ptr<const TelemetrySnapshot> m_pending;
    std::shared_ptr<const TelemetrySnapshot> m_latest;
    bool m_deliveryQueued = false;
    qint64 m_lastDeliveryMs = 0;
    QStringList m_kernels;
    KernelCatalog m_catalog;
    std::atomic<int> m_nextTicket { 1 };
    std::mutex m_cancelMutex;
    QList<int> m_cancelled;
    std::function<bool(const HostKeyQuestion&)> m_hostKeyAsker;
    std::function<QString(const QString&)> m_passphraseAsker;
    QString m_knownHosts, m_sshConfig;
    QStringList m_loadErrors; // of every library loaded so far, by path (latest kept)
    std::thread m_shutdownThread;
};

} // namespace weft::ui
