// The check of a kernel library's initialisers when its helper cannot run (here: a "worker"
// program that is not weft-worker, so it ends at once): the master checks in a child of its own,
// with the same verdicts. The helper is one per process, so this is a suite of its own.

#include "cluster_fixture.h"

#include <QtTest>

#include <fstream>
#include <string>
#include <unistd.h>

using namespace weft;

namespace {
const std::string kLibs = WEFT_TEST_KERNEL_LIBS;
} // namespace

class TestKernelCheckFallback : public QObject {
    Q_OBJECT

    std::unique_ptr<Cluster> c;
    QTemporaryDir scratch;
    std::string init_parents;

private slots:
    void initTestCase()
    {
        QVERIFY(scratch.isValid());
        init_parents = scratch.filePath("init-parents").toStdString();
        ::setenv("WEFT_TEST_INIT_PARENTS", init_parents.c_str(), 1);
        auto o = test::options();
        o.kernel_libraries.clear();
        o.worker_path = "/bin/true"; // starts, and ends without a word
        c = std::make_unique<Cluster>(o);
    }

    void throwingInitialiserIsRefused()
    {
        const auto path = kLibs + "/libthrowing_init.so";
        const auto rs = c->load_kernels(path);
        QCOMPARE(rs.size(), std::size_t(1));
        QVERIFY(!rs[0].ok);
        QCOMPARE(rs[0].error,
            "the master (process 1): kernel library " + path
                + " cannot be loaded: a static initialiser threw std::runtime_error: no licence "
                  "server at licence.example:27000");
    }

    void crashingInitialiserIsTriedInAChildOfTheMaster()
    {
        const auto rs = c->load_kernels(kLibs + "/libcrashing_init.so");
        QCOMPARE(rs.size(), std::size_t(1));
        QVERIFY(!rs[0].ok);
        QVERIFY2(rs[0].error.find("a static initialiser crashed (Aborted)") != std::string::npos,
            rs[0].error.c_str());
        std::ifstream in(init_parents);
        long parent = 0;
        QVERIFY(in >> parent);
        QCOMPARE(parent, long(::getpid()));
        QVERIFY(!(in >> parent)); // tried once
    }

    void aGoodLibraryLoads()
    {
        const auto rs = c->load_kernels(kLibs + "/v1/libtripler_v1.so");
        QCOMPARE(rs.size(), std::size_t(1));
        QVERIFY2(rs[0].ok, rs[0].error.c_str());
        QCOMPARE(c->remotecall_fetch("triple", 1, 5).as_int(), std::int64_t(15));
    }

    void cleanupTestCase() { c.reset(); }
};

QTEST_GUILESS_MAIN(TestKernelCheckFallback)
#include "tst_kernel_check_fallback.moc"
