#pragma once
// "Add SSH Workers…": a host (completing from ~/.ssh/config aliases and recent hosts), how to log
// in, how many workers and threads, deploy and route. It stays open while hosts connect: each
// attempt is a row showing its progress, then the workers that joined or the engine's error. The
// window stays usable meanwhile; Cancel gives up on an attempt (workers it still brings are
// removed as they join).

#include "weft/ssh.h"

#include <QDialog>
#include <QMap>

class QCheckBox;
class QComboBox;
class QLineEdit;
class QListWidget;
class QListWidgetItem;
class QPushButton;
class QSpinBox;

namespace weft::ui {

class EngineBridge;

class SshWorkersDialog final : public QDialog {
    Q_OBJECT
public:
    explicit SshWorkersDialog(EngineBridge& bridge, QWidget* parent = nullptr);
    // The spec the form describes now.
    [[nodiscard]] SshSpec spec() const;
    // Host aliases of an ssh_config file (patterns left out).
    static QStringList configAliases(const QString& path);

signals:
    void attemptFinished(bool ok); // for tests and the status bar

private:
    void connectHost();
    void cancelSelected();
    void finish(int ticket, bool ok, const QString& text);
    void remember(const SshSpec& s);
    void restore();

    EngineBridge& m_bridge;
    QComboBox* m_host;
    QSpinBox* m_port;
    QLineEdit* m_user;
    QComboBox* m_auth;
    QLineEdit* m_keyFile;
    QSpinBox* m_count;
    QSpinBox* m_default;
    QSpinBox* m_interactive;
    QCheckBox* m_deploy;
    QComboBox* m_route;
    QSpinBox* m_timeout;
    QLineEdit* m_workerPath;
    QListWidget* m_attempts;
    QPushButton* m_connect;
    QPushButton* m_cancel;
    QMap<int, QListWidgetItem*> m_rows; // ticket -> its row
};

} // namespace weft::ui
