// Kernel libraries: a user's library loaded on every process and on workers that join later,
// called every way a kernel can be; each way a library can fail to load, reported per process
// while the cluster keeps working; a reload while calls run; and argument checking.

#include "cluster_fixture.h"
#include "kernel_library.h"
#include "library_checker.h"

#include <QtTest>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>

using namespace weft;

namespace {

const std::string kLibs = WEFT_TEST_KERNEL_LIBS;
const std::string kV1 = kLibs + "/v1/libtripler_v1.so";
const std::string kV2 = kLibs + "/v2/libtripler_v2.so";

bool contains(const std::string& s, const std::string& part)
{
    return s.find(part) != std::string::npos;
}

// This process's children running `weft-worker --check-libraries`: the library checker's helper.
std::vector<pid_t> checker_helpers()
{
    std::vector<pid_t> out;
    for (auto& e : std::filesystem::directory_iterator("/proc")) {
        const auto name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        std::ifstream stat(e.path() / "stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos)
            continue;
        char state = 0;
        long ppid = 0;
        std::istringstream(line.substr(close + 2)) >> state >> ppid;
        std::ifstream cmd(e.path() / "cmdline");
        std::string args((std::istreambuf_iterator<char>(cmd)), {});
        if (ppid == ::getpid() && args.find("--check-libraries") != std::string::npos)
            out.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return out;
}

bool is_zombie_or_gone(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return true;
    const auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

std::vector<long> lines_of(const std::string& file)
{
    std::vector<long> out;
    std::ifstream in(file);
    for (long v; in >> v;)
        out.push_back(v);
    return out;
}

std::string all_errors(const std::vector<KernelLoadResult>& rs)
{
    std::string s;
    for (auto& r : rs)
        s += std::to_string(r.pid) + ": " + (r.ok ? "ok" : r.error) + "\n";
    return s;
}

// The program's own kernel, which libclash.so defines too.
std::int64_t clash_answer()
{
    return 7;
}

} // namespace

WEFT_KERNEL(clash_answer, "The program's answer");

class TestKernelLibraries : public QObject {
    Q_OBJECT

    std::unique_ptr<Cluster> c;
    std::vector<Pid> pids;
    QTemporaryDir scratch;
    std::string init_parents; // where libcrashing_init.so writes who loaded it

    // Every process of `rs` failed, each with an error naming it and containing `part`.
    static void expect_failed_everywhere(
        const std::vector<KernelLoadResult>& rs, std::size_t n, const std::string& part)
    {
        QCOMPARE(rs.size(), n);
        for (auto& r : rs) {
            QVERIFY2(!r.ok, all_errors(rs).c_str());
            QVERIFY2(contains(r.error, part), r.error.c_str());
            const std::string who = r.pid == 1 ? "the master (process 1)"
                                               : "worker " + std::to_string(r.pid) + " on ";
            QVERIFY2(contains(r.error, who), r.error.c_str());
        }
    }

    // The cluster still answers on every process, with the library it had: tripler v1, whose
    // triple(5) is 15 (v2's is 1015).
    void expect_cluster_works(std::int64_t triple_of_5 = 15)
    {
        for (Pid p : c->procs()) {
            QCOMPARE(c->remotecall_fetch("myid", p).as_int(), std::int64_t(p));
            QCOMPARE(c->remotecall_fetch("triple", p, 5).as_int(), triple_of_5);
        }
    }

    static bool all_ok(const std::vector<KernelLoadResult>& rs)
    {
        for (auto& r : rs)
            if (!r.ok) {
                qWarning("%s", all_errors(rs).c_str());
                return false;
            }
        return !rs.empty();
    }

private slots:
    void initTestCase()
    {
        auto o = test::options();
        o.kernel_libraries.clear(); // this suite loads its own
        QVERIFY(scratch.isValid());
        init_parents = scratch.filePath("init-parents").toStdString();
        ::setenv("WEFT_TEST_INIT_PARENTS", init_parents.c_str(), 1); // before any process starts
        c = std::make_unique<Cluster>(o);
        pids = c->addprocs(3);
    }

    void loadsOnEveryProcessAndIsCalledEveryWay()
    {
        // Before: a user's kernel is unknown everywhere.
        QVERIFY_THROWS_EXCEPTION(KernelNotFound, c->remotecall_fetch("triple", pids[0], 5));

        const auto rs = c->load_kernels(kV1);
        QCOMPARE(rs.size(), std::size_t(4));
        QCOMPARE(rs[0].pid, Pid(1));
        for (auto& r : rs) {
            QVERIFY2(r.ok, all_errors(rs).c_str());
            QCOMPARE(r.library, std::string("tripler"));
            QCOMPARE(r.version, std::string("1.0"));
            QCOMPARE(r.kernels.size(), std::size_t(7));
        }
        const auto& triple = *std::find_if(
            rs[1].kernels.begin(), rs[1].kernels.end(), [](auto& k) { return k.name == "triple"; });
        QCOMPARE(triple.signature, std::string("(int64) -> int64"));
        QCOMPARE(triple.params, std::vector<std::string> { "int64" });
        QCOMPARE(triple.result, std::string("int64"));
        QCOMPARE(triple.description, std::string("Three times x"));
        QCOMPARE(triple.library, std::string("tripler"));

        // remotecall on the master and each worker, pmap, and a nested call from a kernel.
        for (Pid p : c->procs())
            QCOMPARE(c->remotecall_fetch("triple", p, 5).as_int(), std::int64_t(15));
        List items;
        for (int i = 1; i <= 20; ++i)
            items.emplace_back(i);
        const auto mapped = pmap(*c, "triple", items);
        QCOMPARE(mapped.size(), std::size_t(20));
        for (int i = 0; i < 20; ++i)
            QCOMPARE(mapped[i].as_int(), std::int64_t(3 * (i + 1)));
        QCOMPARE(c->remotecall_fetch("triple_on", pids[0], std::int64_t(pids[2]), 7).as_int(),
            std::int64_t(21));

        // A worker that joins afterwards has it before addprocs returns.
        const auto late = c->addprocs(1).at(0);
        QCOMPARE(c->remotecall_fetch("triple", late, 2).as_int(), std::int64_t(6));
        pids.push_back(late);

        // Every process lists it, with its version and kernels.
        const auto listing = c->kernel_libraries();
        QCOMPARE(listing.size(), std::size_t(5));
        for (auto& p : listing) {
            QVERIFY2(p.error.empty(), p.error.c_str());
            QCOMPARE(p.libraries.size(), std::size_t(1));
            QCOMPARE(p.libraries[0].name, std::string("tripler"));
            QCOMPARE(p.libraries[0].version, std::string("1.0"));
            QCOMPARE(p.libraries[0].path, kV1);
            QCOMPARE(p.libraries[0].kernels.size(), std::size_t(7));
        }
    }

    void argumentsAreCheckedBeforeTheKernelRuns()
    {
        try {
            c->remotecall_fetch("triple", pids[0], "five");
            QFAIL("expected RemoteException");
        } catch (const RemoteException& e) {
            QCOMPARE(e.remote_message(), std::string("argument 1: expected int64, got text"));
            QVERIFY2(contains(e.what(), "kernel 'triple'"), e.what());
        }
        try {
            c->remotecall_fetch("triple", pids[1], 1, 2);
            QFAIL("expected RemoteException");
        } catch (const RemoteException& e) {
            QCOMPARE(e.remote_message(), std::string("takes 1 argument, got 2"));
        }
    }

    void missingFile()
    {
        const auto rs = c->load_kernels(kLibs + "/no_such_library.so");
        expect_failed_everywhere(rs, c->nprocs(),
            "cannot open kernel library " + kLibs
                + "/no_such_library.so: No such file or directory");
        expect_cluster_works();
        // A library that never loaded is not given to later workers.
        QCOMPARE(c->kernel_library_paths(), std::vector<std::string> { kV1 });
    }

    void notAKernelLibrary()
    {
        const auto path = kLibs + "/libnot_a_kernel_library.so";
        expect_failed_everywhere(rs_of(path), c->nprocs(),
            path + " is not a Weft kernel library: it has no weft_kernel_library_entry");
        expect_cluster_works();
    }

    void otherSdkVersion()
    {
        const auto path = kLibs + "/libother_sdk.so";
        expect_failed_everywhere(rs_of(path), c->nprocs(),
            "ABI mismatch: kernel library " + path
                + " cannot be loaded: it was built against Weft SDK 0.0.1, this process runs "
                  "Weft "
                + std::string(runtime_version()));
        expect_cluster_works();
    }

    void loaderErrorIsPassedOn()
    {
        const auto path = kLibs + "/libunresolved.so";
        expect_failed_everywhere(
            rs_of(path), c->nprocs(), "undefined symbol: weft_test_function_defined_nowhere");
        for (auto& r : rs_of(path))
            QVERIFY2(contains(r.error, path), r.error.c_str()); // the file, not /proc/self/fd
        expect_cluster_works();
    }

    void duplicateKernelNamesBothLibraries()
    {
        const auto path = kLibs + "/libduplicate.so";
        expect_failed_everywhere(rs_of(path), c->nprocs(),
            "kernel 'triple' of kernel library 'duplicate' (" + path
                + ") is already defined by kernel library 'tripler' (" + kV1 + ")");
        expect_cluster_works();
    }

    void throwingStaticInitialiser()
    {
        const auto path = kLibs + "/libthrowing_init.so";
        const int before = detail::LoadedLibrary::open_count();
        expect_failed_everywhere(rs_of(path), c->nprocs(),
            "kernel library " + path
                + " cannot be loaded: a static initialiser threw std::runtime_error: no licence "
                  "server at licence.example:27000");
        QCOMPARE(detail::LoadedLibrary::open_count(), before);
        expect_cluster_works();
    }

    // The check runs in a child of the library checker's helper (a small weft-worker the master
    // started), not in the master or any worker: only that child tries the library, and a
    // crash there is reported as such everywhere.
    void aCrashingInitialiserIsTriedOnlyInTheCheckersChild()
    {
        const auto path = kLibs + "/libcrashing_init.so";
        std::filesystem::remove(init_parents);
        const auto helpers = checker_helpers();
        QCOMPARE(helpers.size(), std::size_t(1));
        expect_failed_everywhere(rs_of(path), c->nprocs(),
            "kernel library " + path + " cannot be loaded: a static initialiser crashed (Aborted)");
        QCOMPARE(lines_of(init_parents), std::vector<long> { helpers[0] });
        expect_cluster_works();
    }

    // A helper that has gone (killed here) is started again for the next check.
    void aHelperThatDiedIsReplaced()
    {
        const auto helpers = checker_helpers();
        QCOMPARE(helpers.size(), std::size_t(1));
        QCOMPARE(::kill(helpers[0], SIGKILL), 0);
        // Once the helper is a zombie, its forked-ahead child has been sent SIGKILL too.
        while (!is_zombie_or_gone(helpers[0]))
            std::this_thread::yield();
        std::filesystem::remove(init_parents);
        expect_failed_everywhere(rs_of(kLibs + "/libcrashing_init.so"), c->nprocs(),
            "a static initialiser crashed (Aborted)");
        const auto now = checker_helpers();
        QCOMPARE(now.size(), std::size_t(1));
        QVERIFY(now[0] != helpers[0]);
        QCOMPARE(lines_of(init_parents), std::vector<long> { now[0] });
        expect_cluster_works();
    }

    // The helper forks a check's child ahead only once the master's load is over. Checks that
    // follow one another with no load between get a child forked on request, and give the same
    // verdicts; a refusal between successes does not shift the verdicts that follow.
    void checksWithNoLoadBetweenGetTheirOwnVerdicts()
    {
        const auto crashing = kLibs + "/libcrashing_init.so";
        const auto throwing = kLibs + "/libthrowing_init.so";
        for (int round = 0; round < 3; ++round) {
            QCOMPARE(detail::check_library(kV1), std::string());
            const auto crashed = detail::check_library(crashing);
            QVERIFY2(contains(crashed, "a static initialiser crashed (Aborted)"), crashed.c_str());
            QCOMPARE(detail::check_library(kV2), std::string());
            const auto threw = detail::check_library(throwing);
            QVERIFY2(contains(threw, "a static initialiser threw"), threw.c_str());
            QCOMPARE(detail::check_library(kV1), std::string());
            if (round == 1)
                detail::library_checker_idle(); // the next check's child is forked ahead again
        }
        QCOMPARE(checker_helpers().size(), std::size_t(1)); // all served by the one helper
        expect_cluster_works();
    }

    // Workers answer a load with a digest of their kernel table, and the master fills the table
    // in from its own load of the library. Here the master refused it (the program defines its
    // kernel), so each worker's table is asked for.
    void aWorkersTableUnlikeTheMastersIsAskedFor()
    {
        const auto path = kLibs + "/libclash.so";
        const auto rs = rs_of(path);
        QCOMPARE(rs.size(), c->nprocs());
        QVERIFY(!rs[0].ok);
        QVERIFY2(
            contains(rs[0].error, "is already defined by the program itself"), rs[0].error.c_str());
        for (std::size_t i = 1; i < rs.size(); ++i) {
            QVERIFY2(rs[i].ok, all_errors(rs).c_str());
            QCOMPARE(rs[i].library, std::string("clash"));
            QCOMPARE(rs[i].kernels.size(), std::size_t(1));
            QCOMPARE(rs[i].kernels[0].name, std::string("clash_answer"));
            QCOMPARE(rs[i].kernels[0].description, std::string("The library's answer"));
            QCOMPARE(rs[i].kernels[0].library, std::string("clash"));
            QCOMPARE(c->remotecall_fetch("clash_answer", rs[i].pid).as_int(), std::int64_t(42));
        }
        QCOMPARE(c->remotecall_fetch("clash_answer", 1).as_int(), std::int64_t(7));
        expect_cluster_works();
    }

    // The check binds functions as they are called: an initialiser that calls one defined
    // nowhere ends the check's child, and the library is refused, naming why.
    void anInitialiserCallingAnUndefinedFunction()
    {
        const auto path = kLibs + "/libunbound_init.so";
        expect_failed_everywhere(rs_of(path), c->nprocs(),
            "kernel library " + path
                + " cannot be loaded: a static initialiser ended the process (exit status 127: "
                  "the dynamic loader's, for a function it could not find)");
        expect_cluster_works();
    }

    void onlyTheMasterLoads()
    {
        // A kernel on one worker asks another worker to load a library.
        try {
            c->remotecall_fetch("ask_to_load", pids[0], std::int64_t(pids[1]), kV2);
            QFAIL("expected RemoteException");
        } catch (const RemoteException& e) {
            QVERIFY2(contains(e.what(),
                         "only the master (process 1) may load kernel libraries; process "
                             + std::to_string(pids[0]) + " asked"),
                e.what());
        }
        QCOMPARE(c->remotecall_fetch("tripler_version", pids[1]).as_int(), std::int64_t(1));
    }

    // The edit, rebuild, rerun loop: calls running during a reload finish on the old code, new
    // calls get the new code, and the old library goes once its last call has ended.
    void reloadWhileCallsRun()
    {
        const int open_before = detail::LoadedLibrary::open_count();
        auto started = RemoteChannel::create(*c, 16, 1);
        auto go = RemoteChannel::create(*c, 16, 1);
        std::vector<Future> running;
        for (Pid p : c->procs())
            running.push_back(c->remotecall("gated_version", p, started, go));
        for (std::size_t i = 0; i < running.size(); ++i)
            QCOMPARE(started.take().as_int(), std::int64_t(1)); // all are running v1 now

        const auto rs = c->load_kernels(kV2);
        for (auto& r : rs) {
            QVERIFY2(r.ok, all_errors(rs).c_str());
            QCOMPARE(r.version, std::string("2.0"));
        }
        // New calls: the new code, everywhere.
        for (Pid p : c->procs()) {
            QCOMPARE(c->remotecall_fetch("triple", p, 5).as_int(), std::int64_t(1015));
            QCOMPARE(c->remotecall_fetch("tripler_version", p).as_int(), std::int64_t(2));
        }
        // The master still maps v1 for its running call.
        QCOMPARE(detail::LoadedLibrary::open_count(), open_before + 1);
        for (std::size_t i = 0; i < running.size(); ++i)
            go.put(1);
        for (auto& f : running)
            QCOMPARE(f.fetch().as_int(), std::int64_t(1)); // the old calls, the old code
        // With its last call ended, v1 is unloaded on the master (once the ended task has let
        // go of its kernel, which can be just after its result arrived)...
        while (detail::LoadedLibrary::open_count() > open_before)
            std::this_thread::yield();
        QCOMPARE(detail::LoadedLibrary::open_count(), open_before);
        // ... and every process lists v2 alone, which later workers get too.
        for (auto& p : c->kernel_libraries()) {
            std::vector<std::string> tripler;
            for (auto& l : p.libraries)
                if (l.name == "tripler")
                    tripler.push_back(l.version);
            QCOMPARE(tripler, std::vector<std::string> { "2.0" });
        }
        const auto paths = c->kernel_library_paths(); // v2 replaced v1
        QCOMPARE(std::count(paths.begin(), paths.end(), kV2), 1);
        QCOMPARE(std::count(paths.begin(), paths.end(), kV1), 0);
        const auto late = c->addprocs(1).at(0);
        QCOMPARE(c->remotecall_fetch("tripler_version", late).as_int(), std::int64_t(2));
    }

    // Code of a replaced library can outlive every call into it: a task a kernel spawned, and an
    // array whose buffer the library's own deleter frees. Each keeps the old library loaded, on
    // every process, until it has run or been freed (unloaded under them, they would crash).
    void codeThatOutlivesItsCallKeepsTheOldLibrary()
    {
        QVERIFY(all_ok(c->load_kernels(kV1)));
        const int open_before = detail::LoadedLibrary::open_count();
        auto go = RemoteChannel::create(*c, 16, 1);
        auto out = RemoteChannel::create(*c, 16, 1);
        std::vector<Future> arrays;
        for (Pid p : c->procs()) {
            QCOMPARE(c->remotecall_fetch("spawn_versioned", p, go, out).as_int(), std::int64_t(0));
            arrays.push_back(c->remotecall("owned_array", p, 3)); // kept where it ran
            arrays.back().wait();
        }
        QVERIFY(all_ok(c->load_kernels(kV2)));
        for (Pid p : c->procs())
            QCOMPARE(c->remotecall_fetch("tripler_version", p).as_int(), std::int64_t(2));
        // On the master, v1 stays loaded for its spawned task and its array.
        QCOMPARE(detail::LoadedLibrary::open_count(), open_before + 1);

        // The spawned tasks run v1's code after the reload.
        for (std::size_t i = 0; i < c->procs().size(); ++i)
            go.put(1);
        for (std::size_t i = 0; i < c->procs().size(); ++i)
            QCOMPARE(out.take().as_int(), std::int64_t(1));
        QCOMPARE(detail::LoadedLibrary::open_count(), open_before + 1); // the array still holds
        // The arrays hold v1's values, and freeing them runs v1's deleter.
        for (auto& f : arrays) {
            const auto a = f.fetch().as_array();
            QCOMPARE(std::vector<double>(a.view<double>().begin(), a.view<double>().end()),
                std::vector<double>({ 1.0, 1.0, 1.0 }));
        }
        arrays.clear();
        while (detail::LoadedLibrary::open_count() > open_before)
            std::this_thread::yield();
        QCOMPARE(detail::LoadedLibrary::open_count(), open_before);
        expect_cluster_works(1015); // v2
    }

    // A library the loader cannot unload keeps its name (/proc/self/fd/N) after its last use: N
    // must not name the next library loaded, or the loader hands back the old code for it.
    void aLibraryThatCannotUnloadDoesNotShadowTheNext()
    {
        for (int v = 1; v <= 3; ++v) {
            const auto path = kLibs + "/sticky" + std::to_string(v) + "/libsticky_v"
                + std::to_string(v) + ".so";
            const auto rs = c->load_kernels(path);
            for (auto& r : rs)
                QVERIFY2(r.ok, all_errors(rs).c_str());
            for (Pid p : c->procs())
                QCOMPARE(c->remotecall_fetch("sticky_version", p).as_int(), std::int64_t(v));
        }
    }

    void cleanupTestCase() { QVERIFY(test::stop_cluster(c)); }

private:
    std::vector<KernelLoadResult> rs_of(const std::string& path) { return c->load_kernels(path); }
};

QTEST_GUILESS_MAIN(TestKernelLibraries)
#include "tst_kernel_libraries.moc"
