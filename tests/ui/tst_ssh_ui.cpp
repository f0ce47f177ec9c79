// Cluster ▸ Add SSH Workers… as a user would use it, against a real sshd started by the test:
// an unknown host key shown with its fingerprint (refused, then accepted), workers joining and
// listed with their host, a failure shown in the dialog as the engine's error, recent hosts
// remembered. A screenshot of the dialog lands in the build tree.

#include "app_options.h"
#include "engine_bridge.h"
#include "main_window.h"
#include "ssh/sshd_fixture.h"
#include "ssh_workers_dialog.h"
#include "workers_model.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QTableView>
#include <QTimer>
#include <QtTest>

using namespace weft;
using namespace weft::ui;

class TestSshUi : public QObject {
    Q_OBJECT
    test::Sshd sshd_;
    std::unique_ptr<EngineBridge> bridge_;
    std::unique_ptr<MainWindow> window_;
    // What the host-key question said, and how it is answered (in order).
    QStringList questions_;
    QList<bool> answers_;
    QTimer answerer_;

    SshWorkersDialog* openDialog()
    {
        auto* action = window_->findChild<QAction*>(QStringLiteral("actionAddSshWorkers"));
        if (!action)
            return nullptr;
        action->trigger();
        return window_->sshDialog();
    }

    void fill(SshWorkersDialog* d, int port, int count)
    {
        d->findChild<QComboBox*>(QStringLiteral("sshHost"))
            ->setEditText(QStringLiteral("127.0.0.1"));
        d->findChild<QSpinBox*>(QStringLiteral("sshPort"))->setValue(port);
        d->findChild<QLineEdit*>(QStringLiteral("sshUser"))
            ->setText(QString::fromStdString(test::this_user()));
        auto* auth = d->findChild<QComboBox*>(QStringLiteral("sshAuth"));
        auth->setCurrentIndex(auth->findData(int(SshAuth::KeyFile)));
        d->findChild<QLineEdit*>(QStringLiteral("sshKeyFile"))->setText(sshd_.path("user_key"));
        d->findChild<QSpinBox*>(QStringLiteral("sshCount"))->setValue(count);
        d->findChild<QLineEdit*>(QStringLiteral("sshWorkerPath"))
            ->setText(QStringLiteral(WEFT_WORKER_PATH));
        d->findChild<QSpinBox*>(QStringLiteral("sshTimeout"))->setValue(20);
    }

    // The newest attempt's row once it has finished (no longer "connecting").
    static QString lastAttempt(SshWorkersDialog* d)
    {
        auto* list = d->findChild<QListWidget*>(QStringLiteral("sshAttempts"));
        if (!list || list->count() == 0)
            return {};
        const auto text = list->item(list->count() - 1)->text();
        return text.contains(QStringLiteral("connecting")) ? QString() : text;
    }

private slots:
    void initTestCase()
    {
        QCoreApplication::setOrganizationName(QStringLiteral("weft-tests"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_ssh_ui"));
        QSettings().remove(QStringLiteral("ssh"));
        QVERIFY(sshd_.start());
        bridge_ = std::make_unique<EngineBridge>(test::app_options());
        // No known host yet, and no config file: the host key question comes up.
        bridge_->setSshFiles(sshd_.path("known_hosts.ui"), QStringLiteral("none"));
        window_ = std::make_unique<MainWindow>(*bridge_);
        window_->resize(1280, 800);
        window_->show();
        // The question is a modal box shown while the login waits: answered from a timer, as a
        // user's click would come, inside its own event loop.
        connect(&answerer_, &QTimer::timeout, this, [this] {
            auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
            if (!box || box->objectName() != QStringLiteral("hostKeyQuestion")
                || answers_.isEmpty())
                return;
            questions_ << box->text();
            box->done(answers_.takeFirst() ? QMessageBox::Yes : QMessageBox::No);
        });
        answerer_.start(50);
    }

    void unknown_host_refused_then_accepted_and_workers_listed_with_their_host()
    {
        auto* d = openDialog();
        QVERIFY(d && d->isVisible());
        fill(d, sshd_.port, 2);
        const auto fp = sshd_.fingerprint(QStringLiteral("host_key.pub"));

        answers_ = { false };
        d->findChild<QPushButton*>(QStringLiteral("sshConnect"))->click();
        QTRY_VERIFY_WITH_TIMEOUT(!lastAttempt(d).isEmpty(), 60000);
        QVERIFY2(lastAttempt(d).contains(QStringLiteral("was not accepted")),
            qPrintable(lastAttempt(d)));
        QCOMPARE(questions_.size(), 1);
        QVERIFY2(questions_[0].contains(fp), qPrintable(questions_[0]));

        answers_ = { true };
        d->findChild<QPushButton*>(QStringLiteral("sshConnect"))->click();
        // The window stays usable while the host connects.
        QVERIFY(window_->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(!lastAttempt(d).isEmpty(), 60000);
        // (The refused attempt's ids are not reused, as Julia's are not.)
        QVERIFY2(lastAttempt(d).contains(
                     QRegularExpression(QStringLiteral("workers \\d+, \\d+ joined"))),
            qPrintable(lastAttempt(d)));
        QCOMPARE(questions_.size(), 2);
        // The workers table shows where each runs.
        auto* table = window_->findChild<QTableView*>(QStringLiteral("workersView"));
        QVERIFY(table);
        auto* model = table->model();
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                int ssh = 0;
                for (int r = 0; r < model->rowCount(); ++r)
                    ssh += model->index(r, WorkersModel::Host)
                               .data()
                               .toString()
                               .startsWith(QStringLiteral("127.0.0.1 · os pid"));
                return ssh == 2;
            }(),
            30000);
        // A local worker joins above them: rows are grouped by host.
        bridge_->addLocalWorkers(1, { 1, 0 });
        QTRY_VERIFY_WITH_TIMEOUT(
            model->index(1, WorkersModel::Host).data().toString().startsWith("localhost"), 60000);
        QVERIFY(model->index(0, WorkersModel::Host).data().toString().startsWith("master"));
        for (int r = 2; r < model->rowCount(); ++r)
            QVERIFY2(model->index(r, WorkersModel::Host).data().toString().startsWith("127.0.0.1"),
                qPrintable(model->index(r, WorkersModel::Host).data().toString()));
        const QString shot = QStringLiteral(QT_TESTCASE_BUILDDIR "/ssh-dialog.png");
        QVERIFY(d->grab().save(shot));
        QVERIFY(window_->grab().save(QStringLiteral(QT_TESTCASE_BUILDDIR "/ssh-workers.png")));
    }

    void a_failure_shows_the_engine_error_in_the_dialog()
    {
        auto* d = openDialog();
        fill(d, test::free_port(), 1); // nothing listens there
        d->findChild<QPushButton*>(QStringLiteral("sshConnect"))->click();
        QTRY_VERIFY_WITH_TIMEOUT(!lastAttempt(d).isEmpty(), 60000);
        QVERIFY2(
            lastAttempt(d).contains(QStringLiteral("cannot connect")), qPrintable(lastAttempt(d)));
    }

    void recent_hosts_are_remembered()
    {
        SshWorkersDialog fresh(*bridge_);
        auto* host = fresh.findChild<QComboBox*>(QStringLiteral("sshHost"));
        QCOMPARE(host->itemText(0), QStringLiteral("127.0.0.1"));
        QCOMPARE(fresh.spec().user, test::this_user());
    }

    void config_aliases_complete_the_host()
    {
        QFile cfg(sshd_.path("aliases_config"));
        QVERIFY(cfg.open(QIODevice::WriteOnly));
        cfg.write(
            "Host build-box gpu?\n  HostName 10.0.0.5\nHost *.lab\n  User x\nHost lab1 lab2\n");
        cfg.close();
        QCOMPARE(SshWorkersDialog::configAliases(sshd_.path("aliases_config")),
            (QStringList { "build-box", "lab1", "lab2" }));
    }

    void cleanupTestCase()
    {
        answerer_.stop();
        window_.reset();
        bridge_.reset();
    }
};

QTEST_MAIN(TestSshUi)
#include "tst_ssh_ui.moc"
