#include "kernel_editor.h"

#include <QCoreApplication>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTextBlock>
#include <QVBoxLayout>

namespace weft::ui {

SdkPaths sdkPaths()
{
    // Installed: <prefix>/bin/weft beside <prefix>/include/weft and <prefix>/<libdir>/libweft.so.
    const QDir bin(QCoreApplication::applicationDirPath());
    const QString prefix = QDir::cleanPath(bin.absoluteFilePath(QStringLiteral("..")));
    if (QFileInfo::exists(prefix + QStringLiteral("/include/weft/weft.h"))) {
        for (const auto* libdir : { WEFT_INSTALL_LIBDIR, "lib" })
            if (QFileInfo::exists(prefix + QLatin1Char('/') + QLatin1String(libdir)
                    + QStringLiteral("/libweft.so")))
                return { { prefix + QStringLiteral("/include") },
                    prefix + QLatin1Char('/') + QLatin1String(libdir) };
    }
    // Run from the build tree: this build's headers and library.
    return { QString::fromUtf8(WEFT_BUILD_INCLUDE_DIRS).split(QLatin1Char('|')),
        QStringLiteral(WEFT_BUILD_LIBDIR) };
}

QList<Diagnostic> parseDiagnostics(const QString& output, const QString& sourceName)
{
    static const QRegularExpression re(
        QStringLiteral(R"(^(.*?):(\d+):(\d+): (fatal error|error|warning): (.*)$)"));
    QList<Diagnostic> out;
    for (const auto& line : output.split(QLatin1Char('\n'))) {
        const auto m = re.match(line);
        if (!m.hasMatch() || QFileInfo(m.captured(1)).fileName() != sourceName)
            continue;
        out.push_back({ m.captured(2).toInt(), m.captured(3).toInt(),
            m.captured(4) == QStringLiteral("warning") ? QStringLiteral("warning")
                                                       : QStringLiteral("error"),
            m.captured(5) });
    }
    return out;
}

QString KernelEditor::starterSource()
{
    return QStringLiteral(
        R"(// A kernel library: each WEFT_KERNEL below becomes a kernel every process can run.
// Parameters and results may be int64_t, double, bool, std::string, std::vector<double>,
// weft::Array, weft::List, weft::Value, weft::RemoteChannel or weft::Future; a kernel may take
// weft::Context& first to reach its process (myid(), nested calls).
#include <weft/weft.h>

#include <cstdint>

namespace {

// Flips n coins and counts the heads.
std::int64_t my_count_heads(std::int64_t n)
{
    std::uint64_t state = 0x9E3779B97F4A7C15ull ^ static_cast<std::uint64_t>(n);
    std::int64_t heads = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        heads += static_cast<std::int64_t>(state & 1);
    }
    return heads;
}

} // namespace

WEFT_KERNEL(my_count_heads, "Counts heads in n coin flips");
)");
}

KernelEditor::KernelEditor(QWidget* parent)
    : QDialog(parent)
    , m_name(new QLineEdit(QStringLiteral("mykernels")))
    , m_editor(new QPlainTextEdit)
    , m_diagnostics(new QListWidget)
    , m_status(new QLabel)
    , m_progress(new QProgressBar)
    , m_build(new QPushButton(tr("&Build and Load")))
{
    setWindowTitle(tr("New Kernel"));
    setObjectName(QStringLiteral("kernelEditor"));
    m_name->setObjectName(QStringLiteral("libraryName"));
    m_name->setValidator(new QRegularExpressionValidator(
        QRegularExpression(QStringLiteral("[A-Za-z_][A-Za-z0-9_]{0,63}")), m_name));
    m_editor->setObjectName(QStringLiteral("source"));
    m_editor->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_editor->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_editor->setPlainText(starterSource());
    m_diagnostics->setObjectName(QStringLiteral("diagnostics"));
    m_diagnostics->setMaximumHeight(140);
    m_status->setObjectName(QStringLiteral("buildStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_progress->setRange(0, 0); // busy while the compiler runs
    m_progress->hide();
    m_build->setObjectName(QStringLiteral("buildAndLoad"));
    m_build->setDefault(true);
    m_compiler = QStandardPaths::findExecutable(QStringLiteral("c++"));
    if (m_compiler.isEmpty())
        m_compiler = QStandardPaths::findExecutable(QStringLiteral("g++"));
    m_outDir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation)
        + QStringLiteral("/kernels");

    auto* form = new QFormLayout;
    form->addRow(tr("Library &name:"), m_name);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    buttons->addButton(m_build, QDialogButtonBox::ActionRole);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_editor, 1);
    layout->addWidget(m_diagnostics);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addWidget(buttons);
    resize(760, 620);

    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_build, &QPushButton::clicked, this, &KernelEditor::buildAndLoad);
    connect(m_diagnostics, &QListWidget::currentRowChanged, this, &KernelEditor::jumpTo);
}

KernelEditor::~KernelEditor()
{
    if (m_proc) {
        m_proc->disconnect(this);
        m_proc->kill();
        m_proc->waitForFinished(2000);
    }
}

void KernelEditor::buildAndLoad()
{
    if (m_proc)
        return; // one build at a time
    m_diagnostics->clear();
    m_found.clear();
    if (m_compiler.isEmpty()) {
        m_status->setText(tr("No C++ compiler is installed. Install the Debian package g++ "
                             "(apt install g++) to build kernels here."));
        emit buildFinished(false);
        return;
    }
    const QString name = m_name->text().trimmed();
    if (name.isEmpty()) {
        m_status->setText(tr("Give the library a name (letters, digits and _)."));
        emit buildFinished(false);
        return;
    }
    // Each build gets its own file name: a library's identity in the cluster is its name, and
    // the loader maps each build anew.
    ++m_generation;
    const QString dir = m_outDir + QLatin1Char('/') + name;
    QDir().mkpath(dir);
    // Earlier builds go, except the latest: it may be the one loaded, which workers that join
    // later load by its path. (Processes that have a build loaded hold it open; removing its
    // file does not disturb them.)
    for (const auto& old : QDir(dir).entryInfoList({ QStringLiteral("lib%1.*.so").arg(name) }))
        if (old.absoluteFilePath() != m_libraryPath)
            QFile::remove(old.absoluteFilePath());
    m_sourcePath = dir + QLatin1Char('/') + name + QStringLiteral(".cpp");
    const QString entryPath = dir + QStringLiteral("/weft_entry.cpp");
    m_libraryPath
        = dir + QStringLiteral("/lib%1.%2.so").arg(name).arg(QDateTime::currentMSecsSinceEpoch());
    QFile src(m_sourcePath), entry(entryPath);
    if (!src.open(QIODevice::WriteOnly | QIODevice::Truncate)
        || src.write(m_editor->toPlainText().toUtf8()) < 0
        || !entry.open(QIODevice::WriteOnly | QIODevice::Truncate)
        || entry.write(QStringLiteral("#include <weft/kernel_library.h>\n"
                                      "WEFT_KERNEL_LIBRARY(\"%1\", \"build %2\");\n")
                           .arg(name)
                           .arg(m_generation)
                           .toUtf8())
            < 0) {
        m_status->setText(tr("Cannot write %1: %2").arg(m_sourcePath, src.errorString()));
        emit buildFinished(false);
        return;
    }
    src.close();
    entry.close();
    const auto sdk = sdkPaths();
    // The flags of weft_add_kernel_library (cmake/WeftKernelLibrary.cmake).
    QStringList args { QStringLiteral("-std=c++20"), QStringLiteral("-O2"), QStringLiteral("-g"),
        QStringLiteral("-fPIC"), QStringLiteral("-shared"), QStringLiteral("-fno-gnu-unique"),
        QStringLiteral("-fvisibility=hidden"), QStringLiteral("-fvisibility-inlines-hidden"),
        QStringLiteral("-Wall"), QStringLiteral("-Wl,-z,defs") };
    for (const auto& inc : sdk.includeDirs)
        args << QStringLiteral("-I") + inc;
    args << m_sourcePath << entryPath << QStringLiteral("-o") << m_libraryPath
         << QStringLiteral("-L") + sdk.libDir << QStringLiteral("-Wl,-rpath,") + sdk.libDir
         << QStringLiteral("-lweft");
    m_proc = new QProcess(this);
    m_proc->setProcessChannelMode(QProcess::MergedChannels);
    connect(m_proc, &QProcess::finished, this, &KernelEditor::finishBuild);
    m_build->setEnabled(false);
    m_progress->show();
    m_status->setText(tr("Building %1 with %2…").arg(name, QFileInfo(m_compiler).fileName()));
    m_proc->start(m_compiler, args);
}

void KernelEditor::finishBuild(int exitCode, QProcess::ExitStatus status)
{
    const QString output = QString::fromLocal8Bit(m_proc->readAll());
    m_proc->deleteLater();
    m_proc = nullptr;
    m_build->setEnabled(true);
    m_progress->hide();
    m_found = parseDiagnostics(output, QFileInfo(m_sourcePath).fileName());
    for (const auto& d : m_found)
        m_diagnostics->addItem(tr("line %1: %2: %3").arg(d.line).arg(d.severity, d.message));
    const bool ok = status == QProcess::NormalExit && exitCode == 0;
    if (!ok) {
        const int errors = static_cast<int>(std::count_if(
            m_found.begin(), m_found.end(), [](auto& d) { return d.severity == "error"; }));
        m_status->setText(errors > 0
                ? tr("The build failed with %n error(s); choose one to go to its line.", "", errors)
                : tr("The build failed:\n%1").arg(output.trimmed().left(2000)));
        if (!m_found.isEmpty())
            m_diagnostics->setCurrentRow(0);
        emit buildFinished(false);
        return;
    }
    m_status->setText(tr("Built %1; loading it on every process…").arg(m_libraryPath));
    emit buildFinished(true);
    emit loadRequested(m_libraryPath);
}

void KernelEditor::jumpTo(int row)
{
    if (row < 0 || row >= m_found.size())
        return;
    const auto& d = m_found[row];
    const QTextBlock block = m_editor->document()->findBlockByLineNumber(d.line - 1);
    if (!block.isValid())
        return;
    QTextCursor c(block);
    c.movePosition(QTextCursor::Right, QTextCursor::MoveAnchor,
        std::min(std::max(d.column - 1, 0), block.length() - 1));
    m_editor->setTextCursor(c);
    m_editor->setFocus();
}

} // namespace weft::ui
