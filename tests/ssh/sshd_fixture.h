#pragma once
// A real OpenSSH sshd of the test's own: on 127.0.0.1 at a free high port, with its own host key,
// config and authorized key in a temporary directory. No system service is touched (as root,
// sshd needs its privilege-separation directory /run/sshd, which is made if missing).
//
// A second "host": with start_in_namespace(), sshd runs in a Linux network namespace of its
// own, joined to this one by a veth pair with addresses of their own (10.213.N.1 here, .2
// there). Workers it starts live in that namespace: its loopback is not ours, so a tunnel or
// the veth address is the only way to them, as with another machine. Needs root.

#include "free_port.h"
#include "weft/ssh.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weft::test {

inline std::string this_user()
{
    const passwd* pw = ::getpwuid(::geteuid());
    return pw ? pw->pw_name : "root";
}

// Runs a program to its end; its stdout, or a failed test naming it.
inline QString run(const QString& program, const QStringList& args, const QString& input = {})
{
    QProcess p;
    p.start(program, args);
    if (!input.isEmpty())
        p.write(input.toUtf8());
    p.closeWriteChannel();
    if (!p.waitForFinished(120000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        qWarning("%s %s failed: %s", qPrintable(program), qPrintable(args.join(' ')),
            p.readAllStandardError().constData());
    return QString::fromUtf8(p.readAllStandardOutput());
}

class Sshd {
public:
    QTemporaryDir dir;
    int port = 0;
    QProcess sshd;
    QString host = QStringLiteral("127.0.0.1"); // where sshd listens
    QString netns; // its network namespace, if any
    QString skip_reason; // why start_in_namespace() could not

    QString path(const QString& name) const { return dir.filePath(name); }
    std::string str(const QString& name) const { return path(name).toStdString(); }

    // A new ed25519 key pair at `name` (and name.pub), unencrypted unless `passphrase`.
    void make_key(const QString& name, const QString& passphrase = {})
    {
        run("ssh-keygen",
            { "-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", path(name) });
    }
    // "SHA256:..." of a public key file.
    QString fingerprint(const QString& pub) const
    {
        return run("ssh-keygen", { "-l", "-E", "sha256", "-f", path(pub) }).section(' ', 1, 1);
    }
    // known_hosts naming this server with the key in `pub`.
    void write_known_hosts(const QString& file, const QString& pub)
    {
        QFile k(path(pub));
        k.open(QIODevice::ReadOnly);
        const QString key = QString::fromUtf8(k.readAll()).section(' ', 0, 1);
        QFile f(path(file));
        f.open(QIODevice::WriteOnly | QIODevice::Truncate);
        f.write(QString("[%1]:%2 %3\n").arg(host).arg(port).arg(key).toUtf8());
    }

    bool start()
    {
        if (!dir.isValid())
            return false;
        ::mkdir("/run/sshd", 0755); // as root, sshd wants it; harmless otherwise
        make_key("host_key");
        make_key("user_key");
        make_key("other_key");
        QFile::copy(path("user_key.pub"), path("authorized_keys"));
        port = free_port();
        QFile cfg(path("sshd_config"));
        cfg.open(QIODevice::WriteOnly);
        cfg.write(QString("Port %1\n"
                          "ListenAddress %5\n"
                          "HostKey %2\n"
                          "AuthorizedKeysFile %3\n"
                          "PidFile %4\n"
                          "StrictModes no\n"
                          "UsePAM no\n"
                          "PermitRootLogin prohibit-password\n"
                          "PasswordAuthentication no\n"
                          "KbdInteractiveAuthentication no\n"
                          "AllowTcpForwarding yes\n"
                          "MaxSessions 64\n"
                          "MaxStartups 64\n"
                          "Subsystem sftp internal-sftp\n"
                          "LogLevel VERBOSE\n")
                      .arg(port)
                      .arg(path("host_key"), path("authorized_keys"), path("sshd.pid"), host)
                      .toUtf8());
        cfg.close();
        write_known_hosts("known_hosts", "host_key.pub");
        sshd.setProcessChannelMode(QProcess::SeparateChannels);
        sshd.setReadChannel(QProcess::StandardError);
        if (netns.isEmpty())
            sshd.start("/usr/sbin/sshd", { "-D", "-e", "-f", path("sshd_config") });
        else // ip execs sshd in the namespace: the process is sshd itself
            sshd.start("ip",
                { "netns", "exec", netns, "/usr/sbin/sshd", "-D", "-e", "-f",
                    path("sshd_config") });
        // Ready once it says it listens (sshd -e logs to stderr).
        QByteArray log;
        while (!log.contains("Server listening on")) {
            if (!sshd.waitForReadyRead(30000) && sshd.state() != QProcess::Running) {
                qWarning("sshd did not start: %s", log.constData());
                return false;
            }
            log += sshd.readAllStandardError();
        }
        return true;
    }

    // The namespace and its veth pair, then sshd in it. False (with skip_reason) when this
    // machine does not allow it.
    bool start_in_namespace()
    {
        if (::geteuid() != 0) {
            skip_reason = QStringLiteral("a second host needs root (ip netns add); run as root");
            return false;
        }
        const int n = static_cast<int>(::getpid() % 200) + 20;
        netns = QStringLiteral("weft-test-%1").arg(::getpid());
        const QString outside = QStringLiteral("wft%1a").arg(::getpid() % 100000);
        const QString inside = QStringLiteral("wft%1b").arg(::getpid() % 100000);
        const QString net = QStringLiteral("10.213.%1.").arg(n);
        const QList<QStringList> steps { { "netns", "add", netns },
            { "link", "add", outside, "type", "veth", "peer", "name", inside },
            { "link", "set", inside, "netns", netns },
            { "addr", "add", net + "1/24", "dev", outside }, { "link", "set", outside, "up" },
            { "-n", netns, "addr", "add", net + "2/24", "dev", inside },
            { "-n", netns, "link", "set", inside, "up" },
            { "-n", netns, "link", "set", "lo", "up" } };
        for (const auto& step : steps) {
            QProcess ip;
            ip.start("ip", step);
            if (!ip.waitForFinished(30000) || ip.exitCode() != 0) {
                skip_reason = QStringLiteral("this machine does not allow a network namespace "
                                             "(ip %1: %2)")
                                  .arg(step.join(' '),
                                      QString::fromUtf8(ip.readAllStandardError()).trimmed());
                return false;
            }
        }
        host = net + "2";
        return start();
    }

    ~Sshd()
    {
        // By its pid file: `ip netns exec` may run sshd as a child of its own, which a signal to
        // `ip` would not reach. Waited for through a pidfd (it is not our child then).
        QFile pidFile(path("sshd.pid"));
        const int pid = pidFile.open(QIODevice::ReadOnly) ? pidFile.readAll().trimmed().toInt() : 0;
        if (pid > 0) {
            const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
            ::kill(pid, SIGTERM);
            if (pfd >= 0) {
                pollfd p { pfd, POLLIN, 0 };
                ::poll(&p, 1, 10000);
                ::close(pfd);
            }
        }
        if (sshd.state() == QProcess::Running) {
            sshd.terminate();
            sshd.waitForFinished(10000);
        }
        if (!netns.isEmpty()) // its end of the veth pair goes with it, and so does ours
            QProcess::execute("ip", { "netns", "del", netns });
    }

    // A spec for this server: key login as this user, known_hosts of the test, no config file.
    SshSpec spec(int count = 1) const
    {
        SshSpec s;
        s.host = host.toStdString();
        s.port = port;
        s.user = this_user();
        s.auth = SshAuth::KeyFile;
        s.key_file = str("user_key");
        s.count = count;
        s.threads = { 1, 0 };
        s.worker_path = WEFT_WORKER_PATH;
        s.known_hosts = str("known_hosts");
        s.ssh_config = "none";
        s.connect_timeout = std::chrono::seconds(20);
        return s;
    }
};

} // namespace weft::test
