// Random payloads along every path a value takes, checked bit for bit: call arguments and
// results, master- and worker-owned channels, worker to worker, a Future argument fetched from a
// third process, and values that wait in a channel while the sender's buffers are reused. Array
// sizes cluster around the zero-copy threshold (64 KiB), the receive buffer (256 KiB) and the
// per-frame segment cap, up to 64 MiB; some messages hold hundreds of large arrays.
// WEFT_PAYLOAD_SEED=<n> reruns one seed; WEFT_PAYLOAD_ROUNDS sizes the run.

#include "cluster_fixture.h"

#include <random>

using namespace weft;
using namespace std::chrono_literals;

namespace {

class Gen {
public:
    explicit Gen(std::uint64_t seed)
        : rng_(seed)
    {
    }
    std::uint64_t below(std::uint64_t n) { return n ? rng_() % n : 0; }

    // Byte sizes near the thresholds that matter, now and then a big one.
    std::size_t array_bytes()
    {
        static const std::size_t edges[] = { 0, 8, 64 * 1024 - 8, 64 * 1024, 64 * 1024 + 8,
            256 * 1024 - 64, 256 * 1024, 256 * 1024 + 8, 1 << 20 };
        if (below(40) == 0)
            return (std::size_t(1) << 20) * (1 + below(8)); // 1-8 MiB
        const std::size_t e = edges[below(std::size(edges))];
        const std::size_t jitter = below(3) * 8;
        return below(2) ? e + jitter : (e > jitter ? e - jitter : e);
    }
    Array array(std::size_t bytes)
    {
        static const DType types[]
            = { DType::Float64, DType::Float32, DType::Int64, DType::Int32, DType::UInt8 };
        const DType t = types[below(std::size(types))];
        const std::size_t n = bytes / dtype_size(t);
        auto a = Array::zeros(t, { n });
        auto* p = reinterpret_cast<std::uint8_t*>(a.mutable_data());
        for (std::size_t i = 0; i < a.bytes(); i += 8) {
            const std::uint64_t x = rng_();
            std::memcpy(p + i, &x, std::min<std::size_t>(8, a.bytes() - i));
        }
        return a;
    }
    Value value(int depth)
    {
        switch (depth > 3 ? below(6) : below(9)) {
        case 0:
            return {};
        case 1:
            return static_cast<std::int64_t>(rng_());
        case 2:
            return static_cast<double>(rng_()) / 3.0;
        case 3:
            return std::string(below(300), static_cast<char>('a' + below(26)));
        case 4:
            return Bytes { std::string(below(5000), static_cast<char>(below(256))) };
        case 5:
            return array(array_bytes());
        case 6:
        case 7: {
            List l;
            for (std::size_t i = 0, n = below(12); i < n; ++i)
                l.push_back(value(depth + 1));
            return l;
        }
        default: {
            Map m;
            for (std::size_t i = 0, n = below(6); i < n; ++i)
                m.emplace_back("k" + std::to_string(i), value(depth + 1));
            return m;
        }
        }
    }
    // A message of `n` arrays of 64 KiB or more (past the per-frame segment cap when n > 128).
    Value many_large(std::size_t n)
    {
        List l;
        for (std::size_t i = 0; i < n; ++i)
            l.push_back(array(64 * 1024 + 8 * below(4)));
        return l;
    }

private:
    std::mt19937_64 rng_;
};

std::uint64_t seed_from_env()
{
    if (const char* s = std::getenv("WEFT_PAYLOAD_SEED"); s && *s)
        return std::strtoull(s, nullptr, 10);
    return std::random_device {}();
}

} // namespace

class TestPayloads : public QObject {
    Q_OBJECT
private:
    std::unique_ptr<Cluster> c;
    std::uint64_t seed = seed_from_env();

    void check(const char* path, const Value& want, const Value& got)
    {
        if (!(got == want))
            QFAIL(qPrintable(QString("seed %1: a %2 value came back different along '%3'")
                                 .arg(seed)
                                 .arg(want.kind_name())
                                 .arg(path)));
    }

private slots:
    void initTestCase()
    {
        qInfo("payloads: seed %llu (WEFT_PAYLOAD_SEED=%llu reruns it)",
            static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
        c = test::start_cluster(3);
    }
    void cleanupTestCase() { QVERIFY(test::stop_cluster(c)); }

    void everyPath()
    {
        Gen g(seed);
        const char* env = std::getenv("WEFT_PAYLOAD_ROUNDS");
        const int rounds = env ? std::atoi(env) : 30;
        for (int round = 0; round < rounds; ++round) {
            const Value v = round == 0 ? Value(g.array(64 << 20)) // one 64 MiB array
                : round == 1           ? g.many_large(300)
                                       : g.value(0);
            // Call argument and result.
            check("echo on worker 2", v, c->remotecall_fetch("echo", 2, v));
            // Worker to worker: worker 2 calls worker 3.
            check(
                "worker 2 -> worker 3", v, c->remotecall_fetch("relay", 2, 3, "echo", List { v }));
            // A Future argument fetched from a third process.
            Future stored = c->remotecall("echo", 3, v);
            check("Future on 3 fetched by 2", v, c->remotecall_fetch("echo", 2, stored));
            check("Future on 3 fetched by the master", v, stored.fetch());
            // A worker-owned channel, values waiting while other traffic reuses the buffers.
            auto ch = RemoteChannel::create(*c, 8, 3);
            const Value w = g.value(0);
            ch.put(v);
            ch.put(w);
            for (int i = 0; i < 3; ++i)
                c->remotecall_fetch("echo", 3, g.value(1));
            check("channel on worker 3 (first)", v, ch.take());
            check("channel on worker 3 (second)", w, ch.take());
            // A master-owned channel filled and drained by a worker (jobs and results).
            auto jobs = RemoteChannel::create(*c, 4, 1);
            auto results = RemoteChannel::create(*c, 4, 1);
            auto worker = c->remotecall("do_work", 2, jobs, results, 0);
            jobs.put(v);
            jobs.put(w);
            jobs.close();
            check("master channel via worker 2 (first)", v, results.take().as_list().at(0));
            check("master channel via worker 2 (second)", w, results.take().as_list().at(0));
            QCOMPARE(worker.fetch().as_int(), 2);
        }
    }
};

QTEST_GUILESS_MAIN(TestPayloads)
#include "tst_payloads.moc"
