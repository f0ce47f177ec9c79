// The call table on its own: each answer completes its request once, a peer's exit fails what
// waits on it and nothing else, ranges and batches of answers.

#include "call_table.h"

#include <QtTest>

using namespace weft;
using namespace weft::detail;

class TestCallTable : public QObject {
    Q_OBJECT
private slots:
    void an_answer_completes_its_request_once()
    {
        CallTable t;
        const auto id = t.next_ids();
        auto done = std::make_shared<Completion>();
        t.add(id, 3, done);
        QCOMPARE(t.size(), std::size_t(1));
        QVERIFY(t.complete(id, Value(42)));
        QVERIFY(done->ready());
        QCOMPARE(done->wait().as_int(), std::int64_t(42));
        QVERIFY(!t.complete(id, Value(7))); // answered already
        QVERIFY(!t.complete(id + 100, Value(7))); // never asked
        QCOMPARE(done->wait().as_int(), std::int64_t(42));
        QCOMPARE(t.size(), std::size_t(0));
    }

    void ids_are_fresh()
    {
        CallTable t;
        const auto a = t.next_ids(10);
        const auto b = t.next_ids();
        QCOMPARE(b, a + 10);
    }

    void a_peers_exit_fails_only_its_requests()
    {
        CallTable t;
        auto to3 = std::make_shared<Completion>(), to4 = std::make_shared<Completion>();
        t.add(t.next_ids(), 3, to3);
        t.add(t.next_ids(), 4, to4);
        ErrorValue e { "ProcessExitedException", "killed by signal 9 (SIGKILL)", 3, {}, {},
            ErrorKind::ProcessExited };
        t.fail_to(3, e);
        QVERIFY(to3->ready());
        QCOMPARE(to3->wait().as_error().kind, ErrorKind::ProcessExited);
        QVERIFY(!to4->ready());
        QCOMPARE(t.size(), std::size_t(1));
        t.fail_all(e);
        QVERIFY(to4->ready());
        QCOMPARE(t.size(), std::size_t(0));
    }

    void ranges_and_batches()
    {
        CallTable t;
        std::vector<std::shared_ptr<Completion>> done;
        for (int i = 0; i < 5; ++i)
            done.push_back(std::make_shared<Completion>());
        const auto first = t.next_ids(done.size());
        t.add_range(first, 2, done);
        const std::vector<std::uint64_t> ids { first + 4, first + 1, first + 99 };
        auto got = t.take(ids);
        QCOMPARE(got.size(), std::size_t(3));
        QVERIFY(got[0] == done[4]);
        QVERIFY(got[1] == done[1]);
        QVERIFY(!got[2]);
        QCOMPARE(t.size(), std::size_t(3));
        QVERIFY(t.remove(first)); // could not be sent
        QVERIFY(!t.remove(first));
        QCOMPARE(t.size(), std::size_t(2));
    }
};

QTEST_GUILESS_MAIN(TestCallTable)
#include "tst_call_table.moc"
