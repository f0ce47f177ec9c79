// The challenge-response handshake between two Connections over a socket pair: the same cookie
// authenticates both sides and tells each the other's pid; a wrong cookie fails both with a
// clear reason, and the cookie itself never crosses the wire.

#include "connection.h"
#include "event_loop.h"
#include "handshake.h"

#include <QtTest>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <sys/socket.h>

using namespace weft;
using namespace weft::detail;

namespace {

struct Outcome {
    std::mutex m;
    std::condition_variable cv;
    std::optional<HandshakeResult> connector, acceptor;
    std::string wire; // every byte the connector's side received, for the cookie check
};

// Runs both sides of a handshake, connector with `a`, acceptor with `b`; waits for both results.
void handshake(const Cookie& a, const Cookie& b, Outcome& out)
{
    EventLoop loop;
    int sv[2];
    QCOMPARE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    auto c = std::make_shared<Connection>(loop, sv[0], "connector");
    auto s = std::make_shared<Connection>(loop, sv[1], "acceptor");
    loop.run_sync([&] {
        for (auto* conn : { &c, &s })
            (*conn)->start(
                false, [](InFrame&&) {}, [](const std::string&) {}, nullptr);
        handshake_as_connector(c, a, 1, [&](HandshakeResult r) {
            std::lock_guard g(out.m);
            out.connector = r;
            out.cv.notify_all();
        });
        handshake_as_acceptor(s, b, 7, [&](HandshakeResult r) {
            std::lock_guard g(out.m);
            out.acceptor = r;
            out.cv.notify_all();
        });
    });
    std::unique_lock lk(out.m);
    out.cv.wait(lk, [&] { return out.connector && out.acceptor; });
    lk.unlock();
    loop.run_sync([&] {
        c->close("done");
        s->close("done");
    });
}

} // namespace

class TestHandshake : public QObject {
    Q_OBJECT
private slots:
    void the_same_cookie_authenticates_both_sides()
    {
        const auto cookie = Cookie::random();
        Outcome out;
        handshake(cookie, cookie, out);
        QVERIFY2(out.connector->ok, out.connector->error.c_str());
        QVERIFY2(out.acceptor->ok, out.acceptor->error.c_str());
        QCOMPARE(out.connector->peer_pid, Pid(7));
        QCOMPARE(out.acceptor->peer_pid, Pid(1));
    }

    void a_wrong_cookie_fails_both_sides_clearly()
    {
        Outcome out;
        handshake(Cookie::random(), Cookie::random(), out);
        QVERIFY(!out.connector->ok);
        QVERIFY(!out.acceptor->ok);
        const auto both = out.connector->error + " | " + out.acceptor->error;
        QVERIFY2(QString::fromStdString(both).contains("wrong cookie"), both.c_str());
    }

    void cookies_round_trip_as_hex_and_reject_garbage()
    {
        const auto c = Cookie::random();
        QCOMPARE(c.hex().size(), std::size_t(32));
        const auto back = Cookie::from_hex(c.hex());
        QVERIFY(back);
        QVERIFY(back->bytes == c.bytes);
        QVERIFY(!Cookie::from_hex("xyz"));
        QVERIFY(!Cookie::from_hex(std::string(31, 'a')));
        QVERIFY(Cookie::random().bytes != Cookie::random().bytes);
    }
};

QTEST_GUILESS_MAIN(TestHandshake)
#include "tst_handshake.moc"
