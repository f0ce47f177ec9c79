#include "ssh_workers_dialog.h"

#include "engine_bridge.h"

#include <QCheckBox>
#include <QComboBox>
#include <QCompleter>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QRegularExpression>
#include <QSettings>
#include <QSpinBox>
#include <QTextStream>

namespace weft::ui {

namespace {
constexpr int kRecentHosts = 8;
}

QStringList SshWorkersDialog::configAliases(const QString& path)
{
    QStringList out;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly | QIODevice::Text))
        return out;
    QTextStream in(&f);
    static const QRegularExpression host(
        QStringLiteral("^\\s*Host\\s+(.+)$"), QRegularExpression::CaseInsensitiveOption);
    while (!in.atEnd()) {
        const auto m = host.match(in.readLine());
        if (!m.hasMatch())
            continue;
        for (const auto& name :
            m.captured(1).split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts))
            if (!name.contains('*') && !name.contains('?') && !name.startsWith('!')
                && !out.contains(name))
                out << name;
    }
    return out;
}

SshWorkersDialog::SshWorkersDialog(EngineBridge& bridge, QWidget* parent)
    : QDialog(parent)
    , m_bridge(bridge)
    , m_host(new QComboBox)
    , m_port(new QSpinBox)
    , m_user(new QLineEdit)
    , m_auth(new QComboBox)
    , m_keyFile(new QLineEdit)
    , m_count(new QSpinBox)
    , m_default(new QSpinBox)
    , m_interactive(new QSpinBox)
    , m_deploy(new QCheckBox(tr("Upload this machine's worker and kernel libraries first")))
    , m_route(new QComboBox)
    , m_timeout(new QSpinBox)
    , m_workerPath(new QLineEdit)
    , m_attempts(new QListWidget)
    , m_connect(new QPushButton(tr("&Connect")))
    , m_cancel(new QPushButton(tr("Ca&ncel Selected")))
{
    setWindowTitle(tr("Add SSH workers"));
    setObjectName(QStringLiteral("sshWorkersDialog"));
    m_host->setObjectName(QStringLiteral("sshHost"));
    m_host->setEditable(true);
    m_host->setInsertPolicy(QComboBox::NoInsert);
    const auto aliases = configAliases(QDir::homePath() + QStringLiteral("/.ssh/config"));
    auto* completer = new QCompleter(aliases, m_host);
    completer->setCaseSensitivity(Qt::CaseInsensitive);
    m_host->setCompleter(completer);
    m_host->lineEdit()->setPlaceholderText(tr("host name, address or ~/.ssh/config alias"));
    m_port->setObjectName(QStringLiteral("sshPort"));
    m_port->setRange(0, 65535);
    m_port->setSpecialValueText(tr("from config (22)"));
    m_user->setObjectName(QStringLiteral("sshUser"));
    m_user->setPlaceholderText(tr("from config, else %1").arg(qEnvironmentVariable("USER")));
    m_auth->setObjectName(QStringLiteral("sshAuth"));
    m_auth->addItem(tr("Automatic (agent, then keys)"), int(SshAuth::Auto));
    m_auth->addItem(tr("ssh-agent"), int(SshAuth::Agent));
    m_auth->addItem(tr("Key file"), int(SshAuth::KeyFile));
    m_keyFile->setObjectName(QStringLiteral("sshKeyFile"));
    m_keyFile->setPlaceholderText(tr("~/.ssh/id_ed25519"));
    auto* browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const auto f = QFileDialog::getOpenFileName(
            this, tr("Private key"), QDir::homePath() + QStringLiteral("/.ssh"));
        if (!f.isEmpty()) {
            m_keyFile->setText(f);
            m_auth->setCurrentIndex(m_auth->findData(int(SshAuth::KeyFile)));
        }
    });
    auto* keyRow = new QHBoxLayout;
    keyRow->addWidget(m_keyFile, 1);
    keyRow->addWidget(browse);
    m_count->setObjectName(QStringLiteral("sshCount"));
    m_count->setRange(1, 256);
    m_count->setValue(2);
    m_default->setObjectName(QStringLiteral("sshDefaultThreads"));
    m_default->setRange(1, 256);
    m_interactive->setObjectName(QStringLiteral("sshInteractiveThreads"));
    m_interactive->setRange(0, 64);
    m_deploy->setObjectName(QStringLiteral("sshDeploy"));
    m_route->setObjectName(QStringLiteral("sshRoute"));
    m_route->addItem(tr("Tunnel through SSH (no port opened on the host)"), int(SshRoute::Tunnel));
    m_route->addItem(tr("Direct (workers listen on the host's address)"), int(SshRoute::Direct));
    m_timeout->setObjectName(QStringLiteral("sshTimeout"));
    m_timeout->setRange(1, 600);
    m_timeout->setValue(10);
    m_timeout->setSuffix(tr(" s"));
    m_workerPath->setObjectName(QStringLiteral("sshWorkerPath"));
    m_workerPath->setText(QStringLiteral("weft-worker"));
    m_attempts->setObjectName(QStringLiteral("sshAttempts"));
    m_attempts->setWordWrap(true);
    m_attempts->setMinimumHeight(90);
    m_connect->setObjectName(QStringLiteral("sshConnect"));
    m_connect->setDefault(true);
    m_cancel->setObjectName(QStringLiteral("sshCancel"));
    m_cancel->setEnabled(false);

    auto* form = new QFormLayout(this);
    auto* intro = new QLabel(tr("Workers on another machine, started over SSH. Host keys are "
                                "checked against ~/.ssh/known_hosts; an unknown one is shown "
                                "for you to accept."));
    intro->setWordWrap(true);
    form->addRow(intro);
    form->addRow(tr("&Host:"), m_host);
    form->addRow(tr("&Port:"), m_port);
    form->addRow(tr("&User:"), m_user);
    form->addRow(tr("&Login with:"), m_auth);
    auto* keyLabel = new QLabel(tr("&Key file:"));
    keyLabel->setBuddy(m_keyFile);
    form->addRow(keyLabel, keyRow);
    form->addRow(tr("&Workers:"), m_count);
    form->addRow(tr("&Default threads each:"), m_default);
    form->addRow(tr("&Interactive threads each:"), m_interactive);
    form->addRow(tr("Worker &program on the host:"), m_workerPath);
    form->addRow(QString(), m_deploy);
    form->addRow(tr("&Reach workers:"), m_route);
    form->addRow(tr("Give up &after:"), m_timeout);
    form->addRow(tr("Attempts:"), m_attempts);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    buttons->addButton(m_connect, QDialogButtonBox::ActionRole);
    buttons->addButton(m_cancel, QDialogButtonBox::ActionRole);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_connect, &QPushButton::clicked, this, &SshWorkersDialog::connectHost);
    connect(m_cancel, &QPushButton::clicked, this, &SshWorkersDialog::cancelSelected);
    connect(m_attempts, &QListWidget::currentItemChanged, this, [this](QListWidgetItem* it) {
        m_cancel->setEnabled(it && m_rows.key(it, 0) != 0 && it->data(Qt::UserRole + 1).toBool());
    });
    form->addRow(buttons);
    connect(&m_bridge, &EngineBridge::sshWorkersAdded, this,
        [this](int ticket, const QList<Pid>& pids) {
            QStringList ids;
            for (Pid p : pids)
                ids << QString::number(p);
            finish(ticket, true, tr("workers %1 joined").arg(ids.join(QStringLiteral(", "))));
        });
    connect(&m_bridge, &EngineBridge::sshWorkersFailed, this,
        [this](int ticket, const QString& error) { finish(ticket, false, error); });
    restore();
}

SshSpec SshWorkersDialog::spec() const
{
    SshSpec s;
    s.host = m_host->currentText().trimmed().toStdString();
    s.port = m_port->value();
    s.user = m_user->text().trimmed().toStdString();
    s.auth = static_cast<SshAuth>(m_auth->currentData().toInt());
    QString key = m_keyFile->text().trimmed();
    if (key.startsWith(QStringLiteral("~/")))
        key = QDir::homePath() + key.mid(1);
    s.key_file = key.toStdString();
    s.count = m_count->value();
    s.threads = { m_default->value(), m_interactive->value() };
    s.worker_path = m_workerPath->text().trimmed().toStdString();
    s.deploy = m_deploy->isChecked();
    s.route = static_cast<SshRoute>(m_route->currentData().toInt());
    s.connect_timeout = std::chrono::seconds(m_timeout->value());
    return s;
}

void SshWorkersDialog::connectHost()
{
    const auto s = spec();
    if (s.host.empty()) {
        m_host->setFocus();
        return;
    }
    auto* row = new QListWidgetItem(tr("%1: connecting (%n worker(s))…", nullptr, s.count)
                                        .arg(QString::fromStdString(ssh_destination(s))),
        m_attempts);
    row->setData(Qt::UserRole + 1, true); // still running
    const int ticket = m_bridge.addSshWorkers(s);
    m_rows.insert(ticket, row);
    m_attempts->setCurrentItem(row);
    remember(s);
}

void SshWorkersDialog::cancelSelected()
{
    auto* it = m_attempts->currentItem();
    const int ticket = m_rows.key(it, 0);
    if (!ticket || !it->data(Qt::UserRole + 1).toBool())
        return;
    m_bridge.cancelSshWorkers(ticket);
    it->setData(Qt::UserRole + 1, false);
    it->setText(it->text() + tr(" — cancelled"));
    m_cancel->setEnabled(false);
}

void SshWorkersDialog::finish(int ticket, bool ok, const QString& text)
{
    auto* row = m_rows.value(ticket);
    if (!row)
        return;
    const bool cancelled = !row->data(Qt::UserRole + 1).toBool();
    row->setData(Qt::UserRole + 1, false);
    const QString head = row->text().section(QStringLiteral(": connecting"), 0, 0);
    row->setText(cancelled ? head + tr(": cancelled") : head + QStringLiteral(": ") + text);
    row->setForeground(ok ? palette().text().color() : QColor(0xc0, 0x20, 0x20));
    row->setIcon(
        QIcon::fromTheme(ok ? QStringLiteral("emblem-ok") : QStringLiteral("dialog-error")));
    if (m_attempts->currentItem() == row)
        m_cancel->setEnabled(false);
    emit attemptFinished(ok);
}

void SshWorkersDialog::remember(const SshSpec& s)
{
    QSettings st;
    auto hosts = st.value(QStringLiteral("ssh/recentHosts")).toStringList();
    const auto host = QString::fromStdString(s.host);
    hosts.removeAll(host);
    hosts.prepend(host);
    while (hosts.size() > kRecentHosts)
        hosts.removeLast();
    st.setValue(QStringLiteral("ssh/recentHosts"), hosts);
    st.setValue(QStringLiteral("ssh/port"), s.port);
    st.setValue(QStringLiteral("ssh/user"), QString::fromStdString(s.user));
    st.setValue(QStringLiteral("ssh/auth"), int(s.auth));
    st.setValue(QStringLiteral("ssh/keyFile"), QString::fromStdString(s.key_file));
    st.setValue(QStringLiteral("ssh/workerPath"), QString::fromStdString(s.worker_path));
    st.setValue(QStringLiteral("ssh/deploy"), s.deploy);
    st.setValue(QStringLiteral("ssh/route"), int(s.route));
}

void SshWorkersDialog::restore()
{
    QSettings st;
    const auto hosts = st.value(QStringLiteral("ssh/recentHosts")).toStringList();
    m_host->addItems(hosts);
    if (!hosts.isEmpty())
        m_host->setCurrentIndex(0);
    m_port->setValue(st.value(QStringLiteral("ssh/port"), 0).toInt());
    m_user->setText(st.value(QStringLiteral("ssh/user")).toString());
    m_auth->setCurrentIndex(
        std::max(0, m_auth->findData(st.value(QStringLiteral("ssh/auth"), 0).toInt())));
    m_keyFile->setText(st.value(QStringLiteral("ssh/keyFile")).toString());
    m_workerPath->setText(
        st.value(QStringLiteral("ssh/workerPath"), QStringLiteral("weft-worker")).toString());
    m_deploy->setChecked(st.value(QStringLiteral("ssh/deploy"), false).toBool());
    m_route->setCurrentIndex(
        std::max(0, m_route->findData(st.value(QStringLiteral("ssh/route"), 0).toInt())));
}

} // namespace weft::ui
