// A frame fuzzer against a real weft-worker. Inputs are real frames (calls with every kind of
// value, fetches, channel operations, reference operations, results, pings, handshake frames)
// mutated at random and structure-aware (bit flips, words replaced by pointers with huge counts,
// truncated or grown segments, spliced words, a lying segment table). Most go after the
// handshake, over a connection that claims to be a peer worker; some go before it.
//
// After each input the worker must answer a probe on the same connection, or have closed that
// connection (it says why in its log); it must never crash, and never stop answering. A probe
// unanswered for WEFT_FUZZ_HANG_MS (10 s) is a hang: the input is printed in hex, with the seed.
// Inputs found that way are kept in tests/cluster/data/fuzz/ and replayed first on every run.
//
// WEFT_FUZZ_INPUTS (20,000 in CI) and WEFT_FUZZ_SEED size and repeat a run; a soak:
// WEFT_FUZZ_INPUTS=1000000.

#include "codec.h"
#include "framing.h"
#include "handshake.h"
#include "raw_socket.h"
#include "socket.h"
#include "weft/errors.h"

#include <capnp/serialize.h>

#include <QDir>
#include <QProcess>
#include <QtTest>

#include <fstream>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <unistd.h>

using namespace weft;
using namespace weft::detail;

namespace {

int env_int(const char* name, int fallback)
{
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}

std::string to_bytes(capnp::MessageBuilder& b)
{
    auto words = capnp::messageToFlatArray(b);
    auto bytes = words.asBytes();
    return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

std::string hex(const std::string& s)
{
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out.push_back(d[c >> 4]);
        out.push_back(d[c & 15]);
    }
    return out;
}

using test::write_all;

// The frames mutations start from. Ids are fixed so that inputs refer to each other's values.
std::vector<std::string> corpus(Pid me)
{
    std::vector<std::string> out;
    auto add = [&](auto fill) {
        capnp::MallocMessageBuilder b;
        OutFrame scratch; // arrays go in the message itself here
        fill(b.getRoot<wire::Message>(), scratch);
        out.push_back(to_bytes(b));
    };
    const RefId future { me, 1 }, chan { me, 2 };
    const List everything { std::int64_t(7), 2.5, std::string("text"), Bytes { "\x01\x02" }, true,
        Array::from(std::vector<double> { 1, 2, 3, 4 }, { 2, 2 }),
        Map { { "k", Value(List { Value(), std::int64_t(-1) }) } },
        RemoteRef { RefKind::Future, future, me, nullptr } };
    auto call = [&](wire::CallKind kind, std::uint64_t id, const char* kernel, const List& args,
                    RefId ref = {}) {
        add([&](wire::Message::Builder m, OutFrame& f) {
            auto c = m.initCall();
            c.setKind(kind);
            c.setCallId(id);
            encode_ref_id(ref, c.initRef());
            c.setKernel(kernel);
            c.setPool(wire::Pool::DEFAULT);
            auto a = c.initArgs(static_cast<unsigned>(args.size()));
            for (unsigned i = 0; i < args.size(); ++i)
                encode_value(args[i], a[i], f);
        });
    };
    call(wire::CallKind::ASYNC, 1, "add", { std::int64_t(1), std::int64_t(2) }, future);
    call(wire::CallKind::FETCH, 2, "echo", { List(everything.begin(), everything.end() - 1) });
    call(wire::CallKind::FETCH, 3, "getindex",
        { Array::from(std::vector<double> { 5, 6, 7 }, { 3 }), std::int64_t(2) });
    call(wire::CallKind::WAIT, 4, "echo", { everything.back() }, { me, 3 });
    call(wire::CallKind::DO, 5, "myid", {});
    call(wire::CallKind::FETCH, 6, "square", { std::int64_t(3037000500) });
    call(wire::CallKind::FETCH, 7, "ones", { std::int64_t(3), std::int64_t(2) });
    call(
        wire::CallKind::FETCH, 8, "echo", { Value(ErrorValue { "E", "m", 2, { "a", "b" }, "s" }) });
    add([&](wire::Message::Builder m, OutFrame&) {
        auto r = m.initFetchRef();
        r.setCallId(9);
        encode_ref_id(future, r.initRef());
        r.setMode(wire::FetchMode::VALUE);
    });
    add([&](wire::Message::Builder m, OutFrame&) {
        auto r = m.initFetchRef();
        r.setCallId(10);
        encode_ref_id(future, r.initRef());
        r.setMode(wire::FetchMode::PROBE);
    });
    add([&](wire::Message::Builder m, OutFrame&) {
        auto items = m.initFetchMany().initItems(2);
        for (unsigned i = 0; i < 2; ++i) {
            items[i].setCallId(11 + i);
            encode_ref_id(future, items[i].initRef());
            items[i].setMode(i ? wire::FetchMode::WAIT : wire::FetchMode::VALUE);
        }
    });
    for (auto op :
        { wire::ChannelOpKind::CREATE, wire::ChannelOpKind::PUT, wire::ChannelOpKind::TAKE,
            wire::ChannelOpKind::FETCH, wire::ChannelOpKind::ISREADY, wire::ChannelOpKind::CLOSE })
        add([&](wire::Message::Builder m, OutFrame& f) {
            auto c = m.initChannelOp();
            c.setCallId(20 + static_cast<unsigned>(op));
            encode_ref_id(chan, c.initRef());
            c.setOp(op);
            c.setCapacity(4);
            encode_value(everything[0], c.initValue(), f);
        });
    add([&](wire::Message::Builder m, OutFrame&) {
        auto r = m.initRefOps();
        auto a = r.initAdds(1);
        encode_ref_id(future, a[0].initId());
        a[0].setHolder(me);
        auto d = r.initRemoves(1);
        encode_ref_id(future, d[0].initId());
        d[0].setHolder(me);
    });
    add([&](wire::Message::Builder m, OutFrame& f) {
        auto r = m.initResult();
        r.setCallId(999);
        encode_value(everything[5], r.initValue(), f);
    });
    add([&](wire::Message::Builder m, OutFrame&) { m.setPing(42); });
    add([&](wire::Message::Builder m, OutFrame& f) {
        auto rs = m.initResults(1);
        rs[0].setCallId(998);
        encode_value(everything[2], rs[0].initValue(), f);
    });
    return out;
}

std::string handshake_frame(bool hello)
{
    capnp::MallocMessageBuilder b(32);
    std::array<kj::byte, 16> nonce {};
    std::array<kj::byte, 32> mac {};
    if (hello) {
        auto h = b.getRoot<wire::Message>().initHello();
        h.setPid(500);
        h.setNonce({ nonce.data(), nonce.size() });
        h.setProtocol(kProtocolVersion);
    } else {
        b.getRoot<wire::Message>().initProof().setMac({ mac.data(), mac.size() });
    }
    return to_bytes(b);
}

// One mutation of a framed message (segment table, then segments).
std::string mutate(std::string f, std::mt19937_64& rng, const std::vector<std::string>& pool)
{
    auto u = [&](std::uint64_t n) { return n ? rng() % n : 0; };
    const std::size_t nseg
        = 1 + (f.size() >= 4 ? *reinterpret_cast<const std::uint32_t*>(f.data()) : 0);
    const std::size_t table = ((nseg + 2) & ~std::size_t(1)) * 4;
    const std::size_t body = f.size() > table ? f.size() - table : 0;
    auto set_word = [&](std::size_t byte, std::uint64_t v) {
        if (byte + 8 <= f.size())
            std::memcpy(f.data() + byte, &v, 8);
    };
    auto fix_table = [&] { // one segment holding everything after the table
        if (nseg == 1 && f.size() >= 8) {
            const auto words = static_cast<std::uint32_t>((f.size() - table) / 8);
            std::memcpy(f.data() + 4, &words, 4);
        }
    };
    const int rounds = 1 + static_cast<int>(u(4));
    for (int r = 0; r < rounds && body >= 8; ++r) {
        const std::size_t word = table + 8 * u(body / 8);
        switch (u(10)) {
        case 0:
        case 1: // bit flips
            for (int i = 0, n = 1 + static_cast<int>(u(8)); i < n; ++i)
                f[table + u(body)] ^= static_cast<char>(1u << u(8));
            break;
        case 2: // a random byte
            f[table + u(body)] = static_cast<char>(rng());
            break;
        case 3: // a random word
            set_word(word, rng());
            break;
        case 4: { // a list pointer with a huge count, of each element size
            const std::uint64_t size = u(8), count = u(2) ? (1ull << 29) - 1 : u(1ull << 29);
            set_word(word, (count << 35) | (size << 32) | ((u(64) << 2) & 0xfffffffcull) | 1);
            break;
        }
        case 5: { // a struct pointer with large sections or a far offset
            const std::uint64_t data = u(65536), ptrs = u(65536);
            set_word(word, (ptrs << 48) | (data << 32) | ((u(1u << 29) << 2) & 0xfffffffcull));
            break;
        }
        case 6: // an interesting value
            set_word(word,
                std::array<std::uint64_t, 6> { 0, ~0ull, 1ull << 63, 0xffffffff, (1ull << 32) - 1,
                    0x8000000000000001ull }[u(6)]);
            break;
        case 7: { // truncate
            f.resize(table + 8 * u(body / 8 + 1));
            fix_table();
            return f;
        }
        case 8: { // grow with random words
            for (int i = 0, n = 1 + static_cast<int>(u(16)); i < n; ++i) {
                const std::uint64_t v = rng();
                f.append(reinterpret_cast<const char*>(&v), 8);
            }
            fix_table();
            return f;
        }
        case 9: { // splice a word from another frame
            const auto& other = pool[u(pool.size())];
            if (other.size() >= table + 8) {
                std::uint64_t v;
                std::memcpy(&v, other.data() + table + 8 * u((other.size() - table) / 8), 8);
                set_word(word, v);
            }
            break;
        }
        }
    }
    if (u(50) == 0 && f.size() >= 8) { // a lying segment table (ends the stream)
        const std::uint32_t v = static_cast<std::uint32_t>(rng());
        std::memcpy(f.data() + 4 * (1 + u(2)) - 4, &v, 4);
    }
    return f;
}

} // namespace

class TestFuzzFrames : public QObject {
    Q_OBJECT
    QProcess worker;
    Cookie cookie = Cookie::random();
    std::string address;
    Pid next_pid = 100;
    int fd = -1; // the current peer connection
    std::uint64_t probe_id = 1u << 30;
    int hang_ms = env_int("WEFT_FUZZ_HANG_MS", 10000);
    std::vector<std::string> frames;
    struct Stats {
        long inputs = 0, closed = 0, answered = 0, before_handshake = 0, reconnects = 0;
    } stats;

    void reconnect()
    {
        // On a loaded machine a handshake may take longer than the worker's short timeout here:
        // that is the timeout working, so try again (a worker that refuses every time fails).
        for (int attempt = 0;; ++attempt) {
            if (fd >= 0)
                ::close(fd);
            fd = connect_socket_blocking(address);
            try {
                handshake_blocking(fd, cookie, next_pid++);
                break;
            } catch (const ConnectionError&) {
                if (attempt == 20 || worker.state() != QProcess::Running)
                    throw;
            }
        }
        ++stats.reconnects;
    }

    // Sends a probe and reads until its answer: "" when answered, "closed" when the worker
    // ended the connection, otherwise what went wrong.
    std::string probe()
    {
        capnp::MallocMessageBuilder b(32);
        auto c = b.getRoot<wire::Message>().initCall();
        c.setKind(wire::CallKind::FETCH);
        const std::uint64_t id = ++probe_id;
        c.setCallId(id);
        c.setKernel("myid");
        c.setPool(wire::Pool::DEFAULT);
        if (!write_all(fd, to_bytes(b)))
            return "closed";
        capnp::ReaderOptions ro;
        ro.traversalLimitInWords = std::uint64_t(1) << 30;
        for (;;) {
            pollfd p { fd, POLLIN, 0 };
            const int r = ::poll(&p, 1, hang_ms);
            if (r == 0)
                return "no answer to a probe within " + std::to_string(hang_ms) + " ms";
            try {
                capnp::StreamFdMessageReader msg(fd, ro);
                auto m = msg.getRoot<wire::Message>();
                if (m.isResult() && m.getResult().getCallId() == id)
                    return {};
            } catch (const kj::Exception&) {
                return "closed"; // end of stream (or a reset)
            }
        }
    }

    // Unauthenticated connections the worker has yet to close, with their inputs.
    std::vector<std::pair<int, std::string>> pre_;

    std::string settle_pre()
    {
        std::string e;
        char buf[512];
        for (const auto& [s, input] : pre_) {
            for (;;) {
                pollfd p { s, POLLIN, 0 };
                if (::poll(&p, 1, hang_ms) == 0) {
                    e = "an unauthenticated connection stayed open after " + hex(input);
                    break;
                }
                if (::read(s, buf, sizeof buf) <= 0)
                    break;
            }
            ::close(s);
        }
        pre_.clear();
        if (e.empty() && worker.state() != QProcess::Running)
            e = "the worker died";
        return e;
    }

    // Runs one input; "" if the worker coped with it.
    std::string run_one(const std::string& input, bool before_handshake)
    {
        ++stats.inputs;
        if (before_handshake) {
            ++stats.before_handshake;
            const int s = connect_socket_blocking(address);
            write_all(s, input);
            // The worker must close it, at once or when the handshake's time is up. Up to 32 wait
            // together (fewer than the worker's cap on unauthenticated connections), so their
            // timeouts overlap.
            pre_.push_back({ s, input });
            return pre_.size() >= 32 ? settle_pre() : std::string();
        }
        if (!write_all(fd, input)) {
            reconnect();
            ++stats.closed;
            return {};
        }
        const std::string r = probe();
        if (r.empty()) {
            ++stats.answered;
            return {};
        }
        if (r == "closed") {
            ++stats.closed;
            if (worker.state() != QProcess::Running)
                return "the worker died";
            reconnect();
            return probe().empty() ? "" : "no answer after reconnecting";
        }
        return r;
    }

private slots:
    void initTestCase()
    {
        auto env = QProcessEnvironment::systemEnvironment();
        env.insert("WEFT_HANDSHAKE_TIMEOUT_MS", "250");
        env.insert("WEFT_FRAME_STALL_MS", "50"); // a lying segment table ends its stream soon
        worker.setProcessEnvironment(env);
        worker.setProgram(WEFT_WORKER_PATH);
        worker.setArguments({ "--threads", "2" });
        // Its log (a line per malformed message) goes to a file: an unread pipe would fill.
        worker.setStandardErrorFile(QDir::temp().filePath("weft-fuzz-worker.log"));
        worker.start();
        QVERIFY(worker.waitForStarted());
        worker.write(QByteArray::fromStdString(cookie.hex() + "\n"));
        QVERIFY(worker.waitForReadyRead(30000));
        for (const auto& w : QString::fromUtf8(worker.readLine()).trimmed().split(' '))
            if (w.startsWith("unix:"))
                address = w.toStdString();
        QVERIFY(!address.empty());
        reconnect();
        frames = corpus(next_pid - 1);
        // Every corpus frame is fine as it is.
        for (const auto& f : frames)
            QCOMPARE(QString::fromStdString(run_one(f, false)), QString());
    }
    void cleanupTestCase()
    {
        if (fd >= 0)
            ::close(fd);
        worker.closeWriteChannel(); // the worker ends when its stdin closes
        QVERIFY(worker.waitForFinished(30000));
    }

    // Inputs earlier runs found (hex, one per file).
    void recordedInputs()
    {
        const QDir dir(QStringLiteral(WEFT_FUZZ_DATA_DIR));
        for (const auto& name : dir.entryList({ "*.hex" }, QDir::Files)) {
            std::ifstream in(dir.filePath(name).toStdString());
            std::string text;
            in >> text;
            std::string bytes;
            for (std::size_t i = 0; i + 1 < text.size(); i += 2)
                bytes.push_back(static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16)));
            const bool pre = name.startsWith("pre-");
            const std::string e = run_one(bytes, pre);
            QVERIFY2(e.empty(), qPrintable(name + ": " + QString::fromStdString(e)));
        }
    }

    void randomInputs()
    {
        const char* s = std::getenv("WEFT_FUZZ_SEED");
        const std::uint64_t seed
            = s && *s ? std::strtoull(s, nullptr, 10) : std::random_device {}();
        const int n = env_int("WEFT_FUZZ_INPUTS", 20000);
        qInfo("frame fuzzer: seed %llu, %d inputs (WEFT_FUZZ_SEED=%llu repeats it)",
            static_cast<unsigned long long>(seed), n, static_cast<unsigned long long>(seed));
        std::mt19937_64 rng(seed);
        const std::vector<std::string> handshake { handshake_frame(true), handshake_frame(false) };
        for (int i = 0; i < n; ++i) {
            const bool pre = rng() % 10 == 0;
            const auto& from = pre ? handshake : frames;
            std::string input = mutate(from[rng() % from.size()], rng, from);
            if (pre && rng() % 4 == 0) // or any bytes at all
                input = mutate(frames[rng() % frames.size()], rng, frames);
            const std::string e = run_one(input, pre);
            if (!e.empty())
                QFAIL(qPrintable(QString("seed %1, input %2 (%3): %4 (the worker's log: %6)\n%5")
                                     .arg(seed)
                                     .arg(i)
                                     .arg(pre ? "before the handshake" : "after it")
                                     .arg(QString::fromStdString(e))
                                     .arg(QString::fromStdString(hex(input)))
                                     .arg(QDir::temp().filePath("weft-fuzz-worker.log"))));
        }
        QCOMPARE(QString::fromStdString(settle_pre()), QString());
        qInfo("%ld inputs (%ld before the handshake): %ld answered, %ld closed the connection, "
              "%ld reconnects; 0 crashes, 0 hangs",
            stats.inputs, stats.before_handshake, stats.answered, stats.closed, stats.reconnects);
        QCOMPARE(worker.state(), QProcess::Running);
    }
};

QTEST_GUILESS_MAIN(TestFuzzFrames)
#include "tst_fuzz_frames.moc"
