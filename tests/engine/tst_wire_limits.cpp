// Frame limits on a real socket: an oversized or corrupt frame is rejected with a clear error and
// the connection's other traffic goes on.

#include "connection.h"
#include "framing.h"

#include <capnp/serialize.h>

#include <QtTest>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sys/socket.h>
#include <thread>

using namespace weft::detail;

namespace {

std::unique_ptr<OutFrame> ping(std::uint64_t n, std::size_t padding_bytes = 0)
{
    auto f = std::make_unique<OutFrame>();
    if (padding_bytes) {
        auto r = f->root().initResult();
        r.setCallId(n);
        r.initValue().initBytes(static_cast<unsigned>(padding_bytes));
    } else {
        f->root().setPing(n);
    }
    f->finish();
    return f;
}

struct Received {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::uint64_t> pings;
    std::vector<std::string> errors;
    bool closed = false;

    bool wait_for(std::size_t npings, std::size_t nerrors)
    {
        std::unique_lock lk(m);
        return cv.wait_for(lk, std::chrono::seconds(10),
            [&] { return pings.size() >= npings && errors.size() >= nerrors; });
    }
};

} // namespace

class TestWireLimits : public QObject {
    Q_OBJECT
private:
    std::unique_ptr<EventLoop> loop;
    std::shared_ptr<Connection> a, b;
    int raw_a = -1; // the sender's socket, for bytes no Connection would send
    Received got;

private slots:
    void init()
    {
        loop = std::make_unique<EventLoop>();
        int sv[2];
        QCOMPARE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        WireLimits small;
        small.max_frame_bytes = 64 * 1024;
        small.frame_stall_ms = 100;
        raw_a = sv[0];
        a = std::make_shared<Connection>(*loop, sv[0], "sender");
        b = std::make_shared<Connection>(*loop, sv[1], "receiver", small);
        got.pings.clear();
        got.errors.clear();
        loop->run_sync([&] {
            a->start(
                false, [](InFrame&&) {}, [](const std::string&) {}, nullptr);
            b->start(
                false,
                [&](InFrame&& f) {
                    try {
                        capnp::SegmentArrayMessageReader r(
                            { f.segments.data(), f.segments.size() });
                        auto m = r.getRoot<weft::wire::Message>();
                        std::lock_guard g(got.m);
                        if (m.isPing())
                            got.pings.push_back(m.getPing());
                        else
                            got.pings.push_back(m.getResult().getCallId());
                    } catch (const kj::Exception& e) {
                        std::lock_guard g(got.m);
                        got.errors.push_back(
                            std::string("malformed: ") + e.getDescription().cStr());
                    }
                    got.cv.notify_all();
                },
                [&](const std::string&) {
                    std::lock_guard g(got.m);
                    got.closed = true;
                    got.cv.notify_all();
                },
                [&](const std::string& e) {
                    std::lock_guard g(got.m);
                    got.errors.push_back(e);
                    got.cv.notify_all();
                });
        });
        a->open_gate();
        b->open_gate();
    }
    void cleanup()
    {
        a->close("test over");
        b->close("test over");
        loop->stop();
        a.reset();
        b.reset();
        loop.reset();
    }

    // A frame over the limit cannot be answered (its call id is in the bytes skipped): rather
    // than leave its caller waiting, the connection ends with the reason. (It used to skip the
    // frame and carry on, which is how a call could hang forever.)
    void oversizedFrameClosesTheConnectionWithItsReason()
    {
        QVERIFY(a->send(ping(1)));
        QVERIFY(a->send(ping(2, 1024 * 1024))); // 1 MiB, over the 64 KiB limit
        QVERIFY(got.wait_for(1, 1));
        std::unique_lock g(got.m);
        QVERIFY(got.cv.wait_for(g, std::chrono::seconds(60), [&] { return got.closed; }));
        QCOMPARE(got.pings, (std::vector<std::uint64_t> { 1 }));
        QVERIFY2(got.errors[0].find("exceeds the limit of 65536 bytes") != std::string::npos,
            got.errors[0].c_str());
    }

    // Before the handshake a peer gets no more than a handshake's worth of buffer.
    void beforeTheHandshakeFramesAreSmall()
    {
        WireLimits full;
        FrameDecoder d(full.before_handshake());
        QVERIFY(d.write_space().size() <= 8192);
        auto space = d.write_space();
        const std::uint32_t header[2] = { 0, (400u << 20) / 8 }; // one segment of 400 MiB
        std::memcpy(space.data(), header, sizeof header);
        d.commit(sizeof header);
        InFrame f;
        std::string error;
        QCOMPARE(d.next(f, error), FrameDecoder::Status::Rejected);
        QVERIFY2(error.find("exceeds the limit of 4096 bytes") != std::string::npos, error.c_str());
        QVERIFY(d.write_space().size() <= 8192); // nothing was reserved for it
    }

    // Found by the frame fuzzer: a segment table that promises more bytes than ever come left
    // everything behind it on the connection waiting forever. A frame that stops half-way now
    // ends the connection with the reason once no byte came for frame_stall_ms.
    void stalledFrameClosesTheConnection()
    {
        QVERIFY(a->send(ping(1)));
        QVERIFY(got.wait_for(1, 0));
        const std::uint32_t header[2] = { 0, 1000 }; // 8,000 bytes promised
        const char some[16] = {};
        std::string bytes(reinterpret_cast<const char*>(header), sizeof header);
        bytes.append(some, sizeof some);
        QCOMPARE(::send(raw_a, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size()));
        std::unique_lock g(got.m);
        QVERIFY(got.cv.wait_for(g, std::chrono::seconds(60), [&] { return got.closed; }));
        QCOMPARE(got.pings, (std::vector<std::uint64_t> { 1 }));
    }

    // Found by ASan once closing on a rejected frame made closes common: the loop thread
    // closing a connection freed the queued frames while a sender on another thread was inside
    // sendmsg with their bytes. The writer now drops them itself when it returns.
    void closeWhileAnotherThreadWrites()
    {
        std::atomic<bool> stop { false };
        std::thread writer([&] {
            for (std::uint64_t i = 0; !stop.load() && a->send(ping(i, 256 * 1024)); ++i) { }
        });
        // The receiver's limit is 64 KiB: the first of these frames makes it close its side,
        // the sender's next write fails and it closes while the writer may still be writing.
        std::unique_lock g(got.m);
        QVERIFY(got.cv.wait_for(g, std::chrono::seconds(60), [&] { return got.closed; }));
        g.unlock();
        a->close("the test closes it under the writer"); // done on the loop thread
        QTRY_VERIFY_WITH_TIMEOUT(a->closed(), 60000);
        stop = true;
        writer.join();
    }

    void corruptMessageAffectsOnlyItself()
    {
        // Valid framing, garbage content: a root pointer that points far outside the segment.
        auto bad = std::make_unique<OutFrame>();
        bad->root().setPing(0);
        bad->finish();
        auto* words = static_cast<std::uint64_t*>(bad->iov()[1].iov_base);
        words[0] = 0x7ffffff000000000ull; // struct pointer with an absurd offset
        QVERIFY(a->send(ping(10)));
        QVERIFY(a->send(std::move(bad)));
        QVERIFY(a->send(ping(11)));
        QVERIFY(got.wait_for(2, 1));
        std::lock_guard g(got.m);
        QCOMPARE(got.pings, (std::vector<std::uint64_t> { 10, 11 }));
        QVERIFY(got.errors[0].rfind("malformed", 0) == 0);
    }

    void decoderRejectsImpossibleHeader()
    {
        FrameDecoder d;
        auto space = d.write_space();
        const std::uint32_t header[2] = { 0xfffffff0u, 1 };
        std::memcpy(space.data(), header, sizeof header);
        d.commit(sizeof header);
        InFrame f;
        std::string error;
        QCOMPARE(d.next(f, error), FrameDecoder::Status::Corrupt);
        QVERIFY2(error.find("corrupt") != std::string::npos, error.c_str());
    }

    void manyFramesPipelined()
    {
        for (std::uint64_t i = 0; i < 20000; ++i)
            QVERIFY(a->send(ping(i)));
        QVERIFY(got.wait_for(20000, 0));
        std::lock_guard g(got.m);
        for (std::uint64_t i = 0; i < 20000; ++i)
            QCOMPARE(got.pings[i], i);
    }
};

QTEST_GUILESS_MAIN(TestWireLimits)
#include "tst_wire_limits.moc"
