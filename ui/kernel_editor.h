#pragma once
// Kernels ▸ New Kernel…: write a kernel in C++, then Build and Load. The build runs the system's
// C++ compiler in the background against the installed SDK (or this build's, when run from the
// build tree); its errors are listed with their line numbers, and choosing one moves the cursor
// there. A successful build asks for the library to be loaded on every process.

#include <QDialog>
#include <QProcess>
#include <QStringList>

class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;

namespace weft::ui {

// Where the SDK's headers and libweft are, for building kernel libraries at run time.
struct SdkPaths {
    QStringList includeDirs;
    QString libDir;
};
[[nodiscard]] SdkPaths sdkPaths();

// One compiler diagnostic about the edited source.
struct Diagnostic {
    int line = 0;
    int column = 0;
    QString severity; // "error", "warning"
    QString message;
};
// The diagnostics about `sourceName` in a compiler's output (gcc and clang's file:line:col form).
[[nodiscard]] QList<Diagnostic> parseDiagnostics(const QString& output, const QString& sourceName);

class KernelEditor final : public QDialog {
    Q_OBJECT
public:
    explicit KernelEditor(QWidget* parent = nullptr);
    ~KernelEditor() override;

    [[nodiscard]] QPlainTextEdit* editor() const { return m_editor; }
    [[nodiscard]] QLineEdit* nameEdit() const { return m_name; }
    [[nodiscard]] QListWidget* diagnostics() const { return m_diagnostics; }
    [[nodiscard]] QLabel* status() const { return m_status; }
    [[nodiscard]] QPushButton* buildButton() const { return m_build; }
    // The C++ compiler it runs ("" when none is installed); settable for tests.
    void setCompiler(const QString& path) { m_compiler = path; }
    // Where builds go (a per-user cache directory by default).
    void setOutputDirectory(const QString& dir) { m_outDir = dir; }
    static QString starterSource();

public slots:
    void buildAndLoad();

signals:
    // A build succeeded: load this library everywhere.
    void loadRequested(const QString& libraryPath);
    void buildFinished(bool ok);

private:
    void finishBuild(int exitCode, QProcess::ExitStatus status);
    void jumpTo(int row);

    QLineEdit* m_name;
    QPlainTextEdit* m_editor;
    QListWidget* m_diagnostics;
    QLabel* m_status;
    QProgressBar* m_progress;
    QPushButton* m_build;
    QProcess* m_proc = nullptr;
    QString m_compiler;
    QString m_outDir;
    QString m_sourcePath, m_libraryPath;
    QList<Diagnostic> m_found;
    int m_generation = 0;
};

} // namespace weft::ui
