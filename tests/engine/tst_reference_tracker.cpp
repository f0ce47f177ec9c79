// The holder set on its own (no sockets): holder arithmetic at an owner, adds sent at once and
// removes batched behind them, freeing when the last holder lets go, exited holders, and a
// randomized run checked against a plain count per (value, holder).

#include "reference_tracker.h"

#include <QtTest>

#include <map>
#include <random>

using namespace weft;
using namespace weft::detail;

namespace {

// What the tracker sent to remote owners, and the flushes it asked the I/O thread for.
struct Harness {
    std::atomic<Pid> self { 2 };
    struct Sent {
        Pid owner;
        std::vector<ReferenceTracker::HolderOp> ops;
        bool add;
    };
    std::vector<Sent> sent;
    std::vector<std::function<void()>> posted;
    ReferenceTracker refs { self,
        [this](Pid owner, const std::vector<ReferenceTracker::HolderOp>& ops, bool add) {
            sent.push_back({ owner, ops, add });
        },
        [this](std::function<void()> fn) { posted.push_back(std::move(fn)); } };
    void run_posted()
    {
        auto p = std::move(posted);
        posted.clear();
        for (auto& fn : p)
            fn();
    }
};

RemoteRef future_at(Pid owner, std::uint64_t n)
{
    return { RefKind::Future, { 2, n }, owner };
}

int holds(const ReferenceTracker& t, const RefId& id, Pid holder)
{
    std::uint64_t entries = 0, bytes = 0;
    for (auto& e : t.table(1000, entries, bytes))
        if (e.id == id) {
            auto it = e.holders.find(holder);
            return it == e.holders.end() ? 0 : it->second;
        }
    return -999; // no entry
}

} // namespace

class TestReferenceTracker : public QObject {
    Q_OBJECT
private slots:
    void holder_arithmetic_at_the_owner()
    {
        Harness h;
        const RefId id { 2, 1 };
        auto slot = h.refs.claim_result(id, 2); // a call of ours stores its result here
        QVERIFY(slot);
        QVERIFY(!h.refs.claim_result(id, 3)); // a second call naming the id is refused
        h.refs.change(id, 3, +1);
        h.refs.change(id, 3, +1);
        QCOMPARE(holds(h.refs, id, 3), 2);
        h.refs.change(id, 2, -1);
        QCOMPARE(holds(h.refs, id, 2), 0);
        QVERIFY(h.refs.stored_value(id)); // 3 still holds it
        h.refs.change(id, 3, -1);
        h.refs.change(id, 3, -1);
        QVERIFY(!h.refs.stored_value(id)); // freed with its last holder
        QVERIFY(h.sent.empty()); // all of it local
    }

    // A remove that overtakes its add (they come from different processes) cannot free early.
    void a_count_may_dip_below_zero()
    {
        Harness h;
        const RefId id { 2, 7 };
        (void)h.refs.claim_result(id, 2);
        h.refs.change(id, 4, -1); // 4's remove arrives before the add a third process sent
        QCOMPARE(holds(h.refs, id, 4), -1);
        h.refs.change(id, 2, -1);
        QVERIFY(h.refs.stored_value(id)); // not free: 4's count is not settled
        h.refs.change(id, 4, +1);
        QVERIFY(!h.refs.stored_value(id));
    }

    void adds_go_at_once_removes_are_batched_behind_them()
    {
        Harness h;
        h.refs.add_hold(future_at(3, 1), 2);
        QCOMPARE(h.sent.size(), std::size_t(1));
        QVERIFY(h.sent[0].add);
        QCOMPARE(h.sent[0].owner, Pid(3));
        h.refs.release_hold(future_at(3, 1), 2);
        h.refs.release_hold(future_at(3, 2), 2);
        h.refs.release_hold(future_at(4, 9), 2);
        QCOMPARE(h.sent.size(), std::size_t(1)); // nothing more yet
        QCOMPARE(h.posted.size(), std::size_t(2)); // one flush per owner with removes waiting
        h.refs.add_hold(future_at(3, 5), 5); // an add after them still goes at once
        QCOMPARE(h.sent.size(), std::size_t(2));
        h.run_posted();
        QCOMPARE(h.sent.size(), std::size_t(4));
        const auto& to3 = h.sent[2].owner == 3 ? h.sent[2] : h.sent[3];
        QVERIFY(!to3.add);
        QCOMPARE(to3.ops.size(), std::size_t(2)); // both removes for 3, in one message
        QCOMPARE(to3.ops[0].first.n, std::uint64_t(1));
        QCOMPARE(to3.ops[1].first.n, std::uint64_t(2));
        h.refs.release_hold(future_at(3, 6), 2);
        QCOMPARE(h.posted.size(), std::size_t(1)); // a new batch, a new flush
    }

    void exited_holders_hold_nothing()
    {
        Harness h;
        const RefId a { 2, 1 }, b { 2, 2 };
        (void)h.refs.claim_result(a, 5);
        (void)h.refs.claim_result(b, 5);
        h.refs.change(b, 2, +1);
        h.refs.holder_exited(5);
        QVERIFY(!h.refs.stored_value(a)); // only 5 held it
        QVERIFY(h.refs.stored_value(b)); // we still do
        h.refs.change(b, 5, +1); // a late add for the dead holder: ignored
        h.refs.change(b, 2, -1);
        QVERIFY(!h.refs.stored_value(b));
    }

    void freeing_a_channel_closes_it()
    {
        Harness h;
        const RefId id { 2, 3 };
        h.refs.make_channel(id, 4, 3);
        auto ch = h.refs.channel(id);
        QVERIFY(ch);
        QCOMPARE(h.refs.channel_samples().size(), std::size_t(1));
        h.refs.change(id, 3, -1);
        QVERIFY(!h.refs.channel(id));
        QVERIFY(ch->stats().closed); // its waiters are released
        QVERIFY(h.refs.channel_samples().empty());
    }

    void releases_stop_at_shutdown()
    {
        Harness h;
        h.refs.stop();
        h.refs.release_hold(future_at(3, 1), 2);
        QVERIFY(h.posted.empty());
        QVERIFY(h.sent.empty());
    }

    // Random holder changes against a plain model: an entry exists exactly while some holder's
    // count is not zero (the seed is printed).
    void random_changes_match_a_model()
    {
        const auto seed = std::random_device {}();
        qInfo("seed %u", seed);
        std::mt19937 g(seed);
        Harness h;
        std::map<std::pair<std::uint64_t, Pid>, int> model;
        const auto live = [&](std::uint64_t n) {
            for (auto& [k, c] : model)
                if (k.first == n && c != 0)
                    return true;
            return false;
        };
        for (int step = 0; step < 20000; ++step) {
            const std::uint64_t n = 1 + g() % 20;
            const Pid holder = Pid(2 + g() % 4);
            // Only values still alive get changes (a freed id is never named again).
            if (!live(n) && h.refs.stored_value({ 2, n }))
                QFAIL("an entry outlived its holders");
            int delta = (g() % 2) ? 1 : -1;
            if (!live(n))
                delta = 1; // a new value starts with a hold
            h.refs.change({ 2, n }, holder, delta);
            model[{ n, holder }] += delta;
            QCOMPARE(bool(h.refs.stored_value({ 2, n })), live(n));
            if (!live(n))
                for (Pid p = 2; p < 6; ++p)
                    model.erase({ n, p });
        }
    }
};

QTEST_GUILESS_MAIN(TestReferenceTracker)
#include "tst_reference_tracker.moc"
