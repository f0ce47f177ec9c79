// Reference tracking against a model: random programs over the master and 4 workers create
// Futures and RemoteChannels, pass references as arguments, inside lists, inside channel items
// and inside results, fetch, take, drop, finalize, and now and then kill a worker. Beside the
// real cluster the test keeps which values are reachable; after every step each owner's store
// table must hold everything reachable it owns, and at the end every table must be empty.
//
// A failure prints the seed and the shortest step list found that still fails; the programs in
// tests/cluster/data/ are such lists, replayed on every run. WEFT_MODEL_SEED=<n> runs one seed;
// WEFT_MODEL_SEEDS and WEFT_MODEL_STEPS size the run (a soak: WEFT_MODEL_SEEDS=50
// WEFT_MODEL_STEPS=20000); WEFT_MODEL_PROGRAM=<file> replays a printed program;
// WEFT_MODEL_KILLS=0 leaves the workers alive; WEFT_MODEL_TRACE=1 prints every step;
// WEFT_MODEL_SHRINK=<runs> shrinks a failure harder than the CI budget allows.

#include "cluster_fixture.h"

#include <QDir>

#include <deque>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

using namespace weft;
using namespace std::chrono_literals;

namespace {

enum class Op { NewFuture, NewChannel, Wrap, Put, Take, Fetch, EchoArg, Drop, Finalize, Kill };
const char* op_name(Op o)
{
    static const char* names[] = { "new_future", "new_channel", "wrap", "put", "take", "fetch",
        "echo_arg", "drop", "finalize", "kill" };
    return names[static_cast<int>(o)];
}

// A step draws its operands at run time from the state it finds (modulo its sizes), so any
// subsequence of a program is still a program: that is what lets a failure shrink.
struct Step {
    Op op;
    std::uint32_t a, b, c;
};

// A program printed by a failure ("op a b c" per line), for WEFT_MODEL_PROGRAM=<file>.
std::vector<Step> read_program(const char* path)
{
    std::vector<Step> out;
    std::ifstream in(path);
    std::string name;
    Step s {};
    while (in >> name >> s.a >> s.b >> s.c) {
        for (int o = 0; o <= static_cast<int>(Op::Kill); ++o)
            if (name == op_name(static_cast<Op>(o)))
                s.op = static_cast<Op>(o);
        out.push_back(s);
    }
    return out;
}

int env_int(const char* name, int fallback)
{
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}

std::vector<Step> generate(std::uint64_t seed, int n)
{
    std::mt19937_64 rng(seed);
    // Weights: creation and passing dominate; kills are rare.
    const std::vector<std::pair<Op, int>> w { { Op::NewFuture, 14 }, { Op::NewChannel, 6 },
        { Op::Wrap, 14 }, { Op::Put, 14 }, { Op::Take, 10 }, { Op::Fetch, 10 }, { Op::EchoArg, 8 },
        { Op::Drop, 18 }, { Op::Finalize, 4 },
        { Op::Kill, env_int("WEFT_MODEL_KILLS", 1) ? 1 : 0 } };
    int total = 0;
    for (auto& [o, k] : w)
        total += k;
    std::vector<Step> out;
    for (int i = 0; i < n; ++i) {
        int x = static_cast<int>(rng() % static_cast<std::uint64_t>(total));
        Op op = Op::NewFuture;
        for (auto& [o, k] : w) {
            if (x < k) {
                op = o;
                break;
            }
            x -= k;
        }
        out.push_back({ op, static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()),
            static_cast<std::uint32_t>(rng()) });
    }
    return out;
}

// One program run on a fresh cluster, checked step by step.
class Run {
public:
    Run()
    {
        auto o = test::options();
        o.telemetry_interval = 0ms;
        c_ = std::make_unique<Cluster>(o);
        c_->addprocs(4);
    }
    ~Run()
    {
        roots_.clear();
        auto pids = test::os_pids(*c_);
        c_.reset();
        test::all_gone(pids);
    }

    // Empty on success, else what went wrong at which step.
    std::string run(const std::vector<Step>& steps)
    {
        for (std::size_t i = 0; i < steps.size(); ++i) {
            std::string e;
            if (std::getenv("WEFT_MODEL_TRACE"))
                qInfo("step %zu: %s %u %u (roots %zu)", i, op_name(steps[i].op), steps[i].a,
                    steps[i].b, roots_.size());
            try {
                e = apply(steps[i]);
                if (e.empty())
                    e = check_reachable();
            } catch (const std::exception& ex) {
                e = std::string("unexpected exception: ") + ex.what();
            }
            if (!e.empty()) {
                failed_at = i;
                return "step " + std::to_string(i) + " (" + op_name(steps[i].op) + "): " + e;
            }
        }
        roots_.clear();
        spent_keep_.clear(); // fetched handles keep their values' references
        return check_all_freed();
    }
    std::optional<std::size_t> failed_at; // the step that failed, if one did

private:
    // A reference inside a stored value. In a value stored on the master it shares the hold of
    // the master's handle (one per process, as in Julia): once that handle is fetched or
    // finalized, the reference no longer needs its value.
    struct CRef {
        int obj;
        const RefHold* local;
    };
    struct Obj {
        RefId id;
        Pid owner;
        RefKind kind;
        std::vector<CRef> contents; // a Future's value: the references in it
        std::deque<std::vector<CRef>> items; // a channel's items
        bool rand = false; // a Future of rand(4), whose value is an array
    };
    struct Root {
        RemoteRef ref;
        int obj;
        Future fut; // for Futures
    };
    // Holds fetched or finalized on the master (kept, so no address is reused).
    std::set<const RefHold*> spent_;
    std::vector<std::shared_ptr<RefHold>> spent_keep_;
    void spend(const Root& r)
    {
        if (spent_.insert(r.ref.hold.get()).second)
            spent_keep_.push_back(r.ref.hold);
    }
    bool spent(const RefHold* h) const { return h && spent_.count(h); }

    bool alive(const Obj& o) const { return !dead_.count(o.owner); }
    Pid pick_proc(std::uint32_t r) const
    {
        auto ps = c_->procs();
        return ps[r % ps.size()];
    }
    // Roots that can still be sent as references (not fetched, finalized or dead).
    std::vector<int> live_roots(std::optional<RefKind> kind = {}) const
    {
        std::vector<int> out;
        for (std::size_t i = 0; i < roots_.size(); ++i) {
            const auto& r = roots_[i];
            const Obj& o = objs_[r.obj];
            if (!spent(r.ref.hold.get()) && alive(o) && (!kind || o.kind == *kind))
                out.push_back(static_cast<int>(i));
        }
        return out;
    }
    // The references of `roots`, going into a value stored on `where`.
    List refs_of(const std::vector<int>& roots, Pid where, std::vector<CRef>& objs) const
    {
        List l;
        for (int i : roots) {
            l.push_back(roots_[i].ref);
            objs.push_back({ roots_[i].obj, where == 1 ? roots_[i].ref.hold.get() : nullptr });
        }
        return l;
    }
    std::vector<int> pick_some(const std::vector<int>& from, std::uint32_t r) const
    {
        std::vector<int> out;
        if (from.empty())
            return out;
        const std::size_t n = 1 + r % 3;
        for (std::size_t k = 0; k < n; ++k)
            out.push_back(from[(r / 3 + k * 7919) % from.size()]);
        return out;
    }
    int add_obj(Obj o)
    {
        objs_.push_back(std::move(o));
        return static_cast<int>(objs_.size() - 1);
    }
    // The references in a received value must name exactly the objects the model expects.
    std::string expect_refs(const Value& v, const std::vector<CRef>& want)
    {
        const auto& l = v.as_list();
        if (l.size() != want.size())
            return "got " + std::to_string(l.size()) + " references, expected "
                + std::to_string(want.size());
        for (std::size_t i = 0; i < l.size(); ++i) {
            const auto& r = l[i].as_ref();
            if (r.id != objs_[want[i].obj].id)
                return "reference " + std::to_string(i) + " names the wrong value";
            if (!r.hold)
                return "a received reference carries no hold";
            add_root(r, want[i].obj);
        }
        return {};
    }
    void add_root(const RemoteRef& r, int obj)
    {
        Root root { r, obj, {} };
        if (r.kind == RefKind::Future) {
            root.fut = Future::attach(*c_, r);
            // A reference that left a value stored on the master after the master's handle was
            // fetched or finalized arrives so: with its value, or released. Either way it no
            // longer needs the remote value.
            bool done = root.fut.cached() != nullptr;
            if (!done) {
                try {
                    (void)root.fut.isready();
                } catch (const InvalidStateException&) {
                    done = true; // released (finalize)
                } catch (const ProcessExitedException&) {
                    done = true; // its owner was killed: nothing left to hold
                }
            }
            if (std::getenv("WEFT_MODEL_TRACE"))
                qInfo("  received (%u, %llu)%s", r.id.whence,
                    static_cast<unsigned long long>(r.id.n), done ? " (done)" : "");
            roots_.push_back(std::move(root));
            if (done)
                spend(roots_.back());
            return;
        }
        roots_.push_back(std::move(root));
    }

    std::string apply(const Step& s)
    {
        switch (s.op) {
        case Op::NewFuture: {
            const Pid p = pick_proc(s.a);
            Future f = c_->remotecall("rand", p, 4);
            Obj o { f.ref().id, p, RefKind::Future, {}, {}, true };
            roots_.push_back({ f.ref(), add_obj(std::move(o)), f });
            return {};
        }
        case Op::NewChannel: {
            const Pid p = pick_proc(s.a);
            auto ch = RemoteChannel::create(*c_, 1 << 20, p);
            roots_.push_back(
                { ch.ref(), add_obj({ ch.ref().id, p, RefKind::Channel, {}, {} }), {} });
            return {};
        }
        case Op::Wrap: { // a result holding references: echo([refs...]) on a random process
            auto from = pick_some(live_roots(), s.b);
            if (from.empty())
                return {};
            std::vector<CRef> objs;
            const Pid p = pick_proc(s.a);
            List l = refs_of(from, p, objs);
            Future f = c_->remotecall("echo", p, l);
            if (std::getenv("WEFT_MODEL_TRACE")) {
                std::string in;
                for (auto& x : l)
                    in += " (" + std::to_string(x.as_ref().id.n) + ")";
                qInfo("  wrap (%llu) on %u of%s", static_cast<unsigned long long>(f.ref().id.n), p,
                    in.c_str());
            }
            roots_.push_back({ f.ref(), add_obj({ f.ref().id, p, RefKind::Future, objs, {} }), f });
            return {};
        }
        case Op::Put: {
            auto chans = live_roots(RefKind::Channel);
            auto from = pick_some(live_roots(), s.b);
            if (chans.empty() || from.empty())
                return {};
            const int ci = chans[s.a % chans.size()];
            // Only older values go in: a channel that (through its items) holds itself is a
            // distributed cycle, which reference counting never frees (neither does Julia's).
            std::erase_if(from, [&](int i) { return roots_[i].obj >= roots_[ci].obj; });
            if (from.empty())
                return {};
            std::vector<CRef> objs;
            List l = refs_of(from, objs_[roots_[ci].obj].owner, objs);
            RemoteChannel::attach(*c_, roots_[ci].ref).put(l);
            objs_[roots_[ci].obj].items.push_back(objs);
            return {};
        }
        case Op::Take: {
            auto chans = live_roots(RefKind::Channel);
            if (chans.empty())
                return {};
            const int ci = chans[s.a % chans.size()];
            Obj& ch = objs_[roots_[ci].obj];
            if (ch.items.empty())
                return {};
            auto want = ch.items.front();
            ch.items.pop_front();
            const Value v = RemoteChannel::attach(*c_, roots_[ci].ref).take();
            return expect_refs(v, want);
        }
        case Op::Fetch: {
            auto fs = live_roots(RefKind::Future);
            if (fs.empty())
                return {};
            Root& r = roots_[fs[s.a % fs.size()]];
            const Obj o = objs_[r.obj];
            const Value v = r.fut.fetch();
            spend(r); // its value's references are roots of their own now (expect_refs)
            if (o.rand)
                return v.as_array().size() == 4 ? std::string() : "rand(4) came back wrong";
            return expect_refs(v, o.contents);
        }
        case Op::EchoArg: { // a reference as a plain argument: fetched where the call runs
            auto from = live_roots();
            if (from.empty())
                return {};
            const int ri = from[s.b % from.size()];
            const Root r = roots_[ri];
            const Obj o = objs_[r.obj];
            const Pid p = pick_proc(s.a);
            if (std::getenv("WEFT_MODEL_TRACE"))
                qInfo("  echo_arg of (%u, %llu) owned by %u on %u", o.id.whence,
                    static_cast<unsigned long long>(o.id.n), o.owner, p);
            const Value v = c_->remotecall_fetch("echo", p, r.ref);
            // Fetched on the master itself: that is this very handle's fetch (one Future per
            // process, as in Julia), which caches the value here and releases the remote one.
            if (p == 1 && o.kind == RefKind::Future)
                spend(roots_[ri]);
            if (o.kind == RefKind::Channel) { // handles are not fetched: the reference returns
                if (v.as_ref().id != o.id || !v.as_ref().hold)
                    return "a channel reference came back wrong";
                add_root(v.as_ref(), r.obj);
                return {};
            }
            if (o.rand)
                return v.as_array().size() == 4 ? std::string() : "rand(4) came back wrong";
            return expect_refs(v, o.contents);
        }
        case Op::Drop: {
            if (roots_.empty())
                return {};
            roots_.erase(roots_.begin() + static_cast<long>(s.a % roots_.size()));
            return {};
        }
        case Op::Finalize: {
            auto fs = live_roots(RefKind::Future);
            if (fs.empty())
                return {};
            Root& r = roots_[fs[s.a % fs.size()]];
            // Releases the hold every copy of the handle here shares, as Julia's finalize(f).
            if (std::getenv("WEFT_MODEL_TRACE"))
                qInfo("  finalize (%u, %llu)", objs_[r.obj].id.whence,
                    static_cast<unsigned long long>(objs_[r.obj].id.n));
            r.fut.finalize();
            spend(r);
            return {};
        }
        case Op::Kill: {
            auto ws = c_->workers();
            if (ws.size() < 2 || kills_ >= 3)
                return {};
            const Pid victim = ws[s.a % ws.size()];
            int os_pid = 0;
            for (auto& w : c_->worker_info())
                if (w.pid == victim)
                    os_pid = w.os_pid;
            ::kill(os_pid, SIGKILL);
            const auto until = std::chrono::steady_clock::now() + 60s;
            for (auto now = c_->workers(); std::find(now.begin(), now.end(), victim) != now.end();
                 now = c_->workers()) {
                if (std::chrono::steady_clock::now() > until)
                    return "the killed worker never left workers()";
                std::this_thread::yield();
            }
            dead_.insert(victim);
            ++kills_;
            // Anything it owned now fails with ProcessExitedException.
            for (auto& r : roots_)
                if (objs_[r.obj].owner == victim && objs_[r.obj].kind == RefKind::Future
                    && !spent(r.ref.hold.get())) {
                    try {
                        r.fut.fetch();
                        return "fetching a dead worker's Future succeeded";
                    } catch (const ProcessExitedException&) {
                    }
                    break;
                }
            c_->addprocs(1);
            return {};
        }
        }
        return {};
    }

    std::set<int> reachable() const
    {
        std::set<int> seen;
        std::vector<int> todo;
        int from = -1;
        auto visit = [&](int o) {
            if (alive(objs_[o]) && seen.insert(o).second) {
                todo.push_back(o);
                why_[o] = from;
            }
        };
        for (const auto& r : roots_)
            if (!spent(r.ref.hold.get()))
                visit(r.obj);
        auto follow = [&](const CRef& x) {
            if (!spent(x.local))
                visit(x.obj);
        };
        while (!todo.empty()) {
            const int o = todo.back();
            todo.pop_back();
            from = o;
            for (const auto& x : objs_[o].contents)
                follow(x);
            for (const auto& item : objs_[o].items)
                for (const auto& x : item)
                    follow(x);
        }
        return seen;
    }

    std::string check_reachable()
    {
        const auto live = reachable();
        std::map<Pid, std::vector<StoreEntryInfo>> tables;
        for (int o : live) {
            const Obj& ob = objs_[o];
            auto it = tables.find(ob.owner);
            if (it == tables.end())
                it = tables.emplace(ob.owner, c_->store_table(ob.owner)).first;
            const bool stored = std::any_of(
                it->second.begin(), it->second.end(), [&](auto& e) { return e.id == ob.id; });
            if (!stored)
                return "a reachable "
                    + std::string(ob.kind == RefKind::Future ? "Future" : "channel") + " ("
                    + std::to_string(ob.id.whence) + ", " + std::to_string(ob.id.n)
                    + ") owned by process " + std::to_string(ob.owner) + " was freed; reached"
                    + path_to(o);
        }
        return {};
    }

    std::string check_all_freed()
    {
        const auto until = std::chrono::steady_clock::now() + 15s;
        for (Pid p : c_->procs()) {
            for (;;) {
                const auto t = c_->store_table(p);
                if (t.empty())
                    break;
                if (std::chrono::steady_clock::now() > until) {
                    std::ostringstream out;
                    out << "at the end, process " << p << " still stores " << t.size()
                        << " entries, e.g. (" << t[0].id.whence << ", " << t[0].id.n << ") "
                        << t[0].state << " holders:";
                    for (auto& [h, n] : t[0].holders)
                        out << " " << h << "x" << n;
                    return out.str();
                }
                std::this_thread::yield();
            }
        }
        return {};
    }

    // How each reachable object was reached (the container, or -1 for a root): for messages.
    mutable std::map<int, int> why_;
    std::string path_to(int o) const
    {
        std::string s;
        for (int x = o; x >= 0; x = why_.at(x))
            s += " <- (" + std::to_string(objs_[x].id.whence) + ", " + std::to_string(objs_[x].id.n)
                + ")@" + std::to_string(objs_[x].owner);
        std::string rs;
        for (const auto& r : roots_)
            if (r.obj == o)
                rs += std::string(" [root hold ") + (spent(r.ref.hold.get()) ? "spent" : "live")
                    + (r.fut.valid() && r.fut.ref().hold == r.ref.hold ? ", same" : ", other")
                    + "]";
        return s + " <- root" + rs;
    }
    std::unique_ptr<Cluster> c_;
    std::vector<Obj> objs_;
    std::vector<Root> roots_;
    std::set<Pid> dead_;
    int kills_ = 0;
};

// Greedy shrinking: drop chunks of steps while the program still fails.
std::vector<Step> shrink(
    std::vector<Step> steps, std::optional<std::size_t> failed_at, std::string& why)
{
    if (failed_at) // nothing after the failing step matters
        steps.resize(*failed_at + 1);
    // Runs, and a time limit, to stay within the test's watchdog (WEFT_MODEL_SHRINK=<runs>
    // lifts both for a deeper shrink on demand).
    const int deep
        = std::getenv("WEFT_MODEL_SHRINK") ? std::atoi(std::getenv("WEFT_MODEL_SHRINK")) : 0;
    int budget = deep > 0 ? deep : 40;
    const auto until = std::chrono::steady_clock::now() + (deep > 0 ? 36000s : 150s);
    for (std::size_t chunk = steps.size() / 2; chunk >= 1 && budget > 0; chunk /= 2) {
        for (std::size_t at = 0; at + chunk <= steps.size() && budget > 0
             && std::chrono::steady_clock::now() < until;) {
            auto candidate = steps;
            candidate.erase(candidate.begin() + static_cast<long>(at),
                candidate.begin() + static_cast<long>(at + chunk));
            --budget;
            std::string e = Run().run(candidate);
            if (!e.empty()) {
                steps = std::move(candidate);
                why = e;
            } else {
                at += chunk;
            }
        }
    }
    return steps;
}

} // namespace

class TestRefModel : public QObject {
    Q_OBJECT
private slots:
    void randomProgramsAgainstTheModel_data()
    {
        QTest::addColumn<qulonglong>("seed");
        if (const char* one = std::getenv("WEFT_MODEL_SEED"); one && *one) {
            QTest::newRow("given seed") << qulonglong(std::strtoull(one, nullptr, 10));
            return;
        }
        std::random_device rd;
        const std::uint64_t base = rd();
        for (int i = 0; i < env_int("WEFT_MODEL_SEEDS", 4); ++i)
            QTest::addRow("seed %d", i) << qulonglong(base + static_cast<std::uint64_t>(i));
    }
    // The shrunk programs of earlier findings (tests/cluster/data/ref_model_*.txt).
    void recordedPrograms_data()
    {
        QTest::addColumn<QString>("path");
        const QDir dir(QStringLiteral(WEFT_MODEL_DATA_DIR));
        const auto files = dir.entryList({ QStringLiteral("ref_model_*.txt") }, QDir::Files);
        QVERIFY(!files.isEmpty());
        for (const auto& f : files)
            QTest::newRow(qPrintable(f)) << dir.filePath(f);
    }
    void recordedPrograms()
    {
        QFETCH(QString, path);
        const auto program = read_program(qPrintable(path));
        QVERIFY(!program.empty());
        check(program, 0);
    }

    void randomProgramsAgainstTheModel()
    {
        QFETCH(qulonglong, seed);
        const int steps = env_int("WEFT_MODEL_STEPS", 2500);
        qInfo("reference model: seed %llu, %d steps (WEFT_MODEL_SEED=%llu reruns it)",
            static_cast<unsigned long long>(seed), steps, static_cast<unsigned long long>(seed));
        const char* file = std::getenv("WEFT_MODEL_PROGRAM");
        check(file ? read_program(file) : generate(seed, steps), seed);
    }

private:
    void check(const std::vector<Step>& program, qulonglong seed)
    {
        {
            std::optional<std::size_t> failed_at;
            std::string why;
            {
                Run run;
                why = run.run(program);
                failed_at = run.failed_at;
            }
            if (why.empty())
                return;
            qInfo("failed: %s; shrinking", why.c_str());
            const auto small = shrink(program, failed_at, why);
            std::string list;
            for (auto& s : small)
                list += std::string("\n  ") + op_name(s.op) + " " + std::to_string(s.a) + " "
                    + std::to_string(s.b) + " " + std::to_string(s.c);
            QFAIL(qPrintable(QString("seed %1: %2\nshortest failing program (%3 steps):%4")
                                 .arg(seed)
                                 .arg(QString::fromStdString(why))
                                 .arg(small.size())
                                 .arg(QString::fromStdString(list))));
        }
    }
};

QTEST_GUILESS_MAIN(TestRefModel)
#include "tst_ref_model.moc"
