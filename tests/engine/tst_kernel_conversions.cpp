// A kernel's typed arguments and result, as WEFT_KERNEL wraps a C++ function: conversions, the
// signature it shows, which parameters keep references, and the errors a wrong call gets.

#include "builtin_kernels.h"
#include "kernel_registry.h"
#include "library_kernels.h"
#include "process_runtime.h"
#include "weft/remote_channel.h"

#include <QtTest>

using namespace weft;
using namespace weft::detail;

namespace {

std::int64_t add2(std::int64_t a, std::int64_t b)
{
    return a + b;
}
double mean(std::vector<double> xs)
{
    double s = 0;
    for (double x : xs)
        s += x;
    return xs.empty() ? 0 : s / double(xs.size());
}
std::string greet(Context& ctx, std::string who)
{
    return "hello " + who + " from " + std::to_string(ctx.myid());
}
void nothing(bool) { }
std::int64_t take_one(RemoteChannel c, std::int64_t n)
{
    (void)c;
    return n;
}

WEFT_KERNEL(add2, "Adds two integers");
WEFT_KERNEL_AS("mean_of", mean);

QString error_of(const KernelFn& fn, Context& ctx, const List& args)
{
    try {
        (void)fn(ctx, args);
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TestKernelConversions : public QObject {
    Q_OBJECT
    std::shared_ptr<ProcessRuntime> rt_;

private slots:
    void initTestCase()
    {
        RuntimeOptions o;
        o.pid = 1;
        o.threads = { 1, 0 };
        o.cookie = Cookie::random();
        rt_ = std::make_shared<ProcessRuntime>(o, std::make_shared<KernelRegistry>());
    }
    void cleanupTestCase() { rt_.reset(); }

    void values_convert_both_ways()
    {
        Context ctx(*rt_);

        QCOMPARE(make_kernel(&add2)(ctx, { Value(2), Value(3) }).as_int(), std::int64_t(5));
        // A vector parameter takes a 1-d array or a list of numbers.
        QCOMPARE(
            make_kernel(&mean)(ctx, { Array::from(std::vector<double> { 1, 2, 3 }) }).as_double(),
            2.0);
        QCOMPARE(make_kernel(&mean)(ctx, List { Value(List { Value(1), Value(2.0) }) }).as_double(),
            1.5);
        // The Context comes first and is not an argument.
        QCOMPARE(
            make_kernel(&greet)(ctx, { Value("you") }).as_text(), std::string("hello you from 1"));
        QVERIFY(make_kernel(&nothing)(ctx, { Value(true) }).is_nil());
    }

    void signatures_say_the_types()
    {
        QCOMPARE(signature_of(&add2), std::string("(int64, int64) -> int64"));
        QCOMPARE(signature_of(&mean), std::string("(vector<float64>) -> float64"));
        QCOMPARE(signature_of(&greet), std::string("(text) -> text"));
        QCOMPARE(signature_of(&nothing), std::string("(bool) -> nothing"));
        QCOMPARE(signature_of(&take_one), std::string("(RemoteChannel, int64) -> int64"));
    }

    void handle_parameters_keep_their_references()
    {
        QCOMPARE(keeps_ref_of(&take_one), (std::vector<bool> { true, false }));
        QCOMPARE(keeps_ref_of(&greet), (std::vector<bool> { false }));
    }

    void wrong_calls_say_what_is_wrong()
    {
        Context ctx(*rt_);
        QCOMPARE(
            error_of(make_kernel(&add2), ctx, { Value(1) }), QString("takes 2 arguments, got 1"));
        QCOMPARE(error_of(make_kernel(&greet), ctx, {}), QString("takes 1 argument, got 0"));
        const auto e = error_of(make_kernel(&add2), ctx, { Value(1), Value("two") });
        QVERIFY2(e.startsWith("argument 2: ") && e.contains("text"), qPrintable(e));
    }

    void the_registry_lists_what_it_has()
    {
        KernelRegistry r;
        r.add("add2", signature_of(&add2), make_kernel(&add2));
        r.add("mean", signature_of(&mean), make_kernel(&mean));
        const auto list = r.list();
        QCOMPARE(list.size(), std::size_t(2));
        QCOMPARE(list[0].name, std::string("add2"));
        QCOMPARE(list[1].signature, std::string("(vector<float64>) -> float64"));
        // A reload replaces the entry; the label (the timeline's name) stays.
        const auto label = r.find("add2")->label;
        r.add("add2", signature_of(&add2), make_kernel(&add2));
        QCOMPARE(r.find("add2")->label, label);
        QCOMPARE(r.label_name(label), std::string("add2"));
        QVERIFY(!r.find("missing"));
    }

    // A worker answers a load with a digest of the entries it installed; the master digests its
    // description of the same library. They must agree, or every load asks each worker for its
    // whole table. A change in any field changes the digest.
    void installedEntriesAndTheirDescriptionsDigestAlike()
    {
        KernelRegistry here, there;
        const auto listing = load_library(here, WEFT_CLASSROOM_PATH, false);
        const auto installed = install_library(there, WEFT_CLASSROOM_PATH, false);
        QCOMPARE(installed.kernels.size(), listing.kernels.size());
        QVERIFY(installed.kernels.size() > 10);
        QCOMPARE(listing_digest(installed.kernels), listing_digest(listing.kernels));
        for (std::size_t i = 0; i < listing.kernels.size(); i += 7) {
            auto changed = listing.kernels;
            changed[i].description += ".";
            QVERIFY(listing_digest(changed) != listing_digest(listing.kernels));
            changed = listing.kernels;
            changed[i].library = "other";
            QVERIFY(listing_digest(changed) != listing_digest(listing.kernels));
        }
    }

    // WEFT_KERNEL(fn, "...") carries a one-line description; without one it is empty.
    void kernels_carry_their_description()
    {
        KernelRegistry r;
        register_builtin_kernels(r); // the engine's own
        r.add_defined(g_kernel_defs); // this file's
        load_library(r, WEFT_CLASSROOM_PATH, false); // the classroom's, as a kernel library
        const auto list = r.list();
        const auto find = [&](const std::string& name) {
            auto it
                = std::find_if(list.begin(), list.end(), [&](auto& k) { return k.name == name; });
            KernelDescription missing;
            missing.name = "missing: " + name;
            return it == list.end() ? missing : *it;
        };
        QCOMPARE(find("add2").description, std::string("Adds two integers"));
        QCOMPARE(find("add2").signature, std::string("(int64, int64) -> int64"));
        QCOMPARE(find("mean_of").description, std::string());
        // The engine's and the classroom's own kernels say what they do.
        QCOMPARE(find("count_heads").description, std::string("Counts heads in n coin flips"));
        QVERIFY(!find("myid").description.empty());
        // Each kernel carries its parameter and result types, and its library.
        QCOMPARE(find("add2").params, (std::vector<std::string> { "int64", "int64" }));
        QCOMPARE(find("add2").result, std::string("int64"));
        QVERIFY(!find("add2").variadic);
        QCOMPARE(find("add2").library, std::string());
        QCOMPARE(find("count_heads").library, std::string("classroom"));
        QCOMPARE(find("count_heads").params, std::vector<std::string> { "int64" });
        QCOMPARE(find("do_work").params,
            (std::vector<std::string> { "RemoteChannel", "RemoteChannel", "int64" }));
        QVERIFY(find("square").variadic);
        QCOMPARE(find("square").result, std::string("any"));
    }

    // A call is checked against the kernel's parameters before it runs; the message names the
    // argument, the expected type and the given one.
    void arguments_are_checked_against_the_parameters()
    {
        KernelRegistry r;
        r.add_defined(g_kernel_defs);
        const auto k = r.find("add2");
        QVERIFY(k);
        QCOMPARE(check_arguments(*k, List { 1, 2 }), std::string());
        QCOMPARE(check_arguments(*k, List { 1, "two" }),
            std::string("argument 2: expected int64, got text"));
        QCOMPARE(check_arguments(*k, List { 1 }), std::string("takes 2 arguments, got 1"));
        QCOMPARE(check_arguments(*k, List { 1.5, 2 }),
            std::string("argument 1: expected int64, got float64"));
    }
};

QTEST_GUILESS_MAIN(TestKernelConversions)
#include "tst_kernel_conversions.moc"
