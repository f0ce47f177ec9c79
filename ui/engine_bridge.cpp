#include "engine_bridge.h"

#include "value_text.h"

#include <QDateTime>
#include <QMetaObject>
#include <QTimer>

#include <algorithm>
#include <cstdio>

namespace weft::ui {

namespace {
constexpr qint64 kMinDeliveryGapMs = 100; // at most 10 snapshots a second

bool sameMembership(const TelemetrySnapshot* a, const TelemetrySnapshot& b)
{
    if (!a)
        return false;
    return std::equal(a->processes.begin(), a->processes.end(), b.processes.begin(),
        b.processes.end(), [](const auto& x, const auto& y) {
            return x.pid == y.pid && x.state == y.state && x.exit_reason == y.exit_reason
                && x.os_pid == y.os_pid;
        });
}
} // namespace

QString patternName(Pattern p)
{
    switch (p) {
    case Pattern::RemoteCall:
        return QStringLiteral("remotecall");
    case Pattern::Spawn:
        return QStringLiteral("spawn");
    case Pattern::Pmap:
        return QStringLiteral("pmap");
    case Pattern::Reduce:
        return QStringLiteral("distributed reduce");
    case Pattern::Everywhere:
        return QStringLiteral("everywhere");
    }
    return {};
}

EngineBridge::EngineBridge(ClusterOptions options, QObject* parent)
    : QObject(parent)
    , m_cluster(std::make_unique<Cluster>(std::move(options)))
    , m_guard(std::make_shared<Guard>())
{
    m_guard->bridge = this;
    m_jobs.setMaxThreadCount(16); // jobs mostly wait on the cluster
    auto* c = m_cluster.get();
    c->on_telemetry([g = m_guard](std::shared_ptr<const TelemetrySnapshot> s) {
        std::lock_guard lk(g->m);
        if (!g->bridge)
            return;
        auto* b = g->bridge;
        std::lock_guard sl(b->m_snapMutex);
        b->m_pending = std::move(s);
        if (b->m_deliveryQueued)
            return;
        b->m_deliveryQueued = true;
        QMetaObject::invokeMethod(
            b, [b] { b->deliverSnapshot(); }, Qt::QueuedConnection);
    });
    c->on_worker_exited([this](Pid pid, const std::string& reason) {
        const auto r = QString::fromStdString(reason);
        post([this, pid, r] { emit workerExited(pid, r); });
    });
    c->on_output([this](Pid pid, const std::string& line) {
        const auto l = QString::fromStdString(line);
        post([this, pid, l] { emit workerOutput(pid, l); });
    });
    c->on_log([this](const std::string& msg) {
        const auto m = QString::fromStdString(msg);
        post([this, m] { emit engineMessage(m); });
    });
    for (auto& k : c->kernels())
        if (!k.name.starts_with("weft.")) {
            m_kernels << QString::fromStdString(k.name);
            m_catalog.kernels.push_back({ k, { Pid(1) } });
        }
}

const KernelDescription* KernelCatalog::find(const QString& name) const
{
    const auto n = name.toStdString();
    for (auto& e : kernels)
        if (e.kernel.name == n)
            return &e.kernel;
    return nullptr;
}

void EngineBridge::loadKernelLibrary(const QString& path)
{
    if (m_shutDown)
        return;
    runJob([this, path] {
        try {
            const auto results = m_cluster->load_kernels(path.toStdString());
            int ok = 0;
            QStringList failures;
            for (auto& r : results) {
                ok += r.ok;
                if (!r.ok)
                    failures << QString::fromStdString(r.error);
            }
            post([this, path, ok, failures] {
                m_loadErrors = failures;
                emit kernelLibraryLoaded(path, ok, failures);
                refreshKernels();
            });
        } catch (const std::exception& e) {
            const QStringList failures { QString::fromUtf8(e.what()) };
            post([this, path, failures] { emit kernelLibraryLoaded(path, 0, failures); });
        }
    });
}

EngineBridge::~EngineBridge()
{
    {
        std::lock_guard lk(m_guard->m);
        m_guard->bridge = nullptr;
    }
    if (m_shutdownThread.joinable())
        m_shutdownThread.join();
    if (m_cluster) {
        removeWorkersAndFinishJobs();
        m_cluster.reset();
    }
}

void EngineBridge::removeWorkersAndFinishJobs()
{
    // Pending calls fail once their workers are gone, so the jobs waiting on them end; only
    // then may the cluster go.
    auto pids = m_cluster->workers();
    std::erase(pids, Pid(1));
    try {
        m_cluster->rmprocs(pids, std::chrono::seconds(2));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "weft: while removing workers: %s\n", e.what());
    }
    m_jobs.waitForDone();
}

void EngineBridge::post(std::function<void()> fn)
{
    auto g = m_guard;
    std::lock_guard lk(g->m);
    if (g->bridge)
        QMetaObject::invokeMethod(g->bridge, std::move(fn), Qt::QueuedConnection);
}

void EngineBridge::runJob(std::function<void()> job)
{
    m_jobs.start(std::move(job));
}

void EngineBridge::deliverSnapshot()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    if (now - m_lastDeliveryMs < kMinDeliveryGapMs) {
        QTimer::singleShot(
            kMinDeliveryGapMs - (now - m_lastDeliveryMs), this, [this] { deliverSnapshot(); });
        return;
    }
    std::shared_ptr<const TelemetrySnapshot> s, previous;
    {
        std::lock_guard sl(m_snapMutex);
        s = std::move(m_pending);
        m_pending = nullptr;
        m_deliveryQueued = false;
        if (s)
            previous = std::exchange(m_latest, s);
    }
    if (!s)
        return;
    m_lastDeliveryMs = now;
    if (!sameMembership(previous.get(), *s))
        emit membershipChanged();
    emit snapshotReady(s);
}

QList<Pid> EngineBridge::workers() const
{
    // As Cluster::workers() (Julia's workers()): the connected workers, or the master alone.
    QList<Pid> out;
    if (auto s = latest())
        for (const auto& p : s->processes)
            if (p.pid != 1 && p.state == WorkerState::Running)
                out << p.pid;
    std::sort(out.begin(), out.end());
    if (out.isEmpty())
        out << 1;
    return out;
}

std::shared_ptr<const TelemetrySnapshot> EngineBridge::latest() const
{
    std::lock_guard sl(m_snapMutex);
    return m_latest;
}

QStringList EngineBridge::kernelNames() const
{
    return m_kernels;
}

void EngineBridge::addLocalWorkers(int count, Threads threads)
{
    if (m_shutDown)
        return;
    runJob([this, count, threads] {
        try {
            const auto pids = m_cluster->addprocs(count, threads);
            QList<Pid> list(pids.begin(), pids.end());
            post([this, list] {
                emit workersAdded(list);
                refreshKernels();
            });
        } catch (const std::exception& e) {
            const auto msg = QString::fromUtf8(e.what());
            post([this, msg] { emit addWorkersFailed(msg); });
        }
    });
}

int EngineBridge::addSshWorkers(SshSpec spec)
{
    const int ticket = m_nextTicket++;
    if (m_shutDown)
        return ticket;
    if (spec.known_hosts.empty())
        spec.known_hosts = m_knownHosts.toStdString();
    if (spec.ssh_config.empty())
        spec.ssh_config = m_sshConfig.toStdString();
    // The login waits on the job thread while the question is asked on the GUI thread.
    spec.accept_unknown_host = [this](const HostKeyQuestion& q) {
        bool ok = false;
        QMetaObject::invokeMethod(
            this, [&] { ok = m_hostKeyAsker && m_hostKeyAsker(q); }, Qt::BlockingQueuedConnection);
        return ok;
    };
    spec.passphrase = [this](const std::string& key) {
        QString p;
        QMetaObject::invokeMethod(
            this,
            [&] {
                if (m_passphraseAsker)
                    p = m_passphraseAsker(QString::fromStdString(key));
            },
            Qt::BlockingQueuedConnection);
        return p.toStdString();
    };
    runJob([this, spec, ticket] {
        try {
            const auto pids = m_cluster->addprocs(spec);
            bool cancelled;
            {
                std::lock_guard g(m_cancelMutex);
                cancelled = m_cancelled.removeAll(ticket) > 0;
            }
            if (cancelled) {
                m_cluster->rmprocs(pids);
                post([this, ticket] { emit sshWorkersFailed(ticket, tr("cancelled")); });
                return;
            }
            QList<Pid> list(pids.begin(), pids.end());
            post([this, list, ticket] {
                emit sshWorkersAdded(ticket, list);
                emit workersAdded(list);
                refreshKernels();
            });
        } catch (const std::exception& e) {
            const auto msg = QString::fromUtf8(e.what());
            post([this, msg, ticket] { emit sshWorkersFailed(ticket, msg); });
        }
    });
    return ticket;
}

void EngineBridge::cancelSshWorkers(int ticket)
{
    std::lock_guard g(m_cancelMutex);
    m_cancelled << ticket;
}

void EngineBridge::setHostKeyAsker(std::function<bool(const HostKeyQuestion&)> ask)
{
    m_hostKeyAsker = std::move(ask);
}

void EngineBridge::setPassphraseAsker(std::function<QString(const QString&)> ask)
{
    m_passphraseAsker = std::move(ask);
}

void EngineBridge::setSshFiles(const QString& knownHosts, const QString& sshConfig)
{
    m_knownHosts = knownHosts;
    m_sshConfig = sshConfig;
}

// The kernels the submit panel offers are the ones a worker has loaded; the catalog says which
// process has which.
void EngineBridge::refreshKernels()
{
    runJob([this] {
        try {
            KernelCatalog cat;
            auto add = [&cat](Pid p, const KernelDescription& k) {
                if (k.name.starts_with("weft."))
                    return;
                auto it = std::find_if(cat.kernels.begin(), cat.kernels.end(),
                    [&](auto& e) { return e.kernel.name == k.name; });
                if (it == cat.kernels.end())
                    cat.kernels.push_back({ k, { p } });
                else
                    it->processes << p;
            };
            auto ws = m_cluster->workers();
            ws.erase(std::remove(ws.begin(), ws.end(), Pid(1)), ws.end());
            auto all = ws;
            all.insert(all.begin(), Pid(1));
            const auto tables = m_cluster->kernels_on(all);
            for (std::size_t i = 0; i < all.size(); ++i)
                for (auto& k : tables[i])
                    add(all[i], k);
            std::sort(cat.kernels.begin(), cat.kernels.end(),
                [](auto& a, auto& b) { return a.kernel.name < b.kernel.name; });
            // What the submit panel offers: the kernels of the workers (or the master alone).
            const Pid first = ws.empty() ? Pid(1) : ws.front();
            QStringList list;
            for (auto& e : cat.kernels)
                if (e.processes.contains(first))
                    list << QString::fromStdString(e.kernel.name);
            post([this, list, cat = std::move(cat)]() mutable {
                cat.errors = m_loadErrors;
                m_catalog = std::move(cat);
                emit kernelCatalogChanged();
                if (list != m_kernels) {
                    m_kernels = list;
                    emit kernelsChanged(list);
                }
            });
        } catch (const std::exception& e) {
            const auto msg = QString::fromUtf8(e.what());
            post([this, msg] { emit engineMessage("could not list kernels: " + msg); });
        }
    });
}

void EngineBridge::runAction(std::function<void()> action)
{
    runJob([this, action = std::move(action)] {
        try {
            action();
        } catch (const std::exception& e) {
            const auto msg = QString::fromUtf8(e.what());
            post([this, msg] { emit engineMessage(msg); });
        }
    });
}

void EngineBridge::removeWorkers(const QList<Pid>& pids)
{
    runAction([this, v = std::vector<Pid>(pids.begin(), pids.end())] { m_cluster->rmprocs(v); });
}

void EngineBridge::killWorker(Pid pid)
{
    runAction([this, pid] { m_cluster->kill(pid); });
}

void EngineBridge::interruptWorkers(const QList<Pid>& pids)
{
    runAction([this, v = std::vector<Pid>(pids.begin(), pids.end())] { m_cluster->interrupt(v); });
}

void EngineBridge::setTelemetryInterval(int ms)
{
    runAction([this, ms] { m_cluster->set_telemetry_interval(std::chrono::milliseconds(ms)); });
}

int EngineBridge::submit(const SubmitRequest& r)
{
    const int id = m_nextSubmission++;
    runJob([this, r, id] {
        auto& c = *m_cluster;
        const std::string kernel = r.kernel.toStdString();
        bool ok = true;
        QString text;
        try {
            switch (r.pattern) {
            case Pattern::RemoteCall:
            case Pattern::Spawn: {
                const Pid w = r.pattern == Pattern::Spawn ? c.next_worker() : r.worker;
                post([this, id] { emit submissionProgress(id, 0, 1); });
                auto f = c.remotecall_args(kernel, w, r.args);
                text = QStringLiteral("worker %1: %2").arg(w).arg(formatValue(f.fetch()));
                break;
            }
            case Pattern::Pmap: {
                PmapOptions o;
                o.batch_size = static_cast<std::size_t>(std::max(1, r.batchSize));
                o.on_progress = [this, id](std::size_t done, std::size_t total) {
                    post([this, id, done, total] {
                        emit submissionProgress(id, qint64(done), qint64(total));
                    });
                };
                post([this, id, n = r.items.size()] { emit submissionProgress(id, 0, qint64(n)); });
                text = formatValue(Value(pmap(c, kernel, r.items, o)));
                break;
            }
            case Pattern::Reduce:
                post([this, id] { emit submissionProgress(id, 0, 1); });
                text = formatValue(
                    distributed_reduce(c, r.reducer.toStdString(), kernel, r.lo, r.hi));
                break;
            case Pattern::Everywhere: {
                post([this, id] { emit submissionProgress(id, 0, 1); });
                QStringList parts;
                for (auto& [pid, v] : everywhere(c, kernel, r.args))
                    parts << QStringLiteral("%1: %2").arg(pid).arg(formatValue(v));
                text = parts.join(QStringLiteral("; "));
                break;
            }
            }
        } catch (const std::exception& e) {
            ok = false;
            text = QString::fromUtf8(e.what());
        }
        post([this, id, ok, text] { emit submissionFinished(id, ok, text); });
    });
    return id;
}

void EngineBridge::shutdown()
{
    if (m_shutDown.exchange(true))
        return;
    m_shutdownThread = std::thread([this, g = m_guard] {
        removeWorkersAndFinishJobs();
        std::lock_guard lk(g->m);
        if (g->bridge)
            QMetaObject::invokeMethod(
                g->bridge,
                [this] {
                    m_cluster.reset();
                    emit shutDownFinished();
                },
                Qt::QueuedConnection);
    });
}

} // namespace weft::ui
