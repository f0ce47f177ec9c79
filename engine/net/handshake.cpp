#include "handshake.h"

#include "framing.h"
#include "weft.capnp.h"

#include <capnp/serialize.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "weft/errors.h"

#include <stdexcept>

namespace weft::detail {

namespace {

using Nonce = std::array<std::uint8_t, 16>;
using Mac = std::array<std::uint8_t, 32>;

Nonce random_nonce()
{
    Nonce n;
    if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1)
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    return n;
}

Mac mac_of(const Cookie& c, std::string_view label, kj::ArrayPtr<const kj::byte> a,
    kj::ArrayPtr<const kj::byte> b, std::uint32_t pid)
{
    std::string msg(label);
    msg.append(reinterpret_cast<const char*>(a.begin()), a.size());
    msg.append(reinterpret_cast<const char*>(b.begin()), b.size());
    for (int i = 0; i < 4; ++i)
        msg.push_back(static_cast<char>((pid >> (8 * i)) & 0xff));
    Mac out {};
    unsigned len = 0;
    HMAC(EVP_sha256(), c.bytes.data(), static_cast<int>(c.bytes.size()),
        reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len);
    return out;
}

bool mac_equal(const Mac& expected, capnp::Data::Reader got)
{
    return got.size() == expected.size()
        && CRYPTO_memcmp(expected.data(), got.begin(), expected.size()) == 0;
}

kj::ArrayPtr<const kj::byte> bytes(const Nonce& n)
{
    return { n.data(), n.size() };
}
capnp::Data::Reader data(const Mac& m)
{
    return { m.data(), m.size() };
}

template <class Fill> void send_now(Connection& conn, Fill fill)
{
    auto f = std::make_unique<OutFrame>(32);
    fill(f->root());
    f->finish();
    conn.send(std::move(f), /*bypass_gate=*/true);
}

// Shared state of one handshake, kept alive by the frame handler that owns it.
struct State {
    std::weak_ptr<Connection> conn;
    Cookie cookie;
    Pid my_pid = 0;
    Pid peer_pid = 0;
    Nonce mine {};
    std::array<std::uint8_t, 16> theirs {};
    int step = 0;
    std::function<void(HandshakeResult)> done;

    void finish(HandshakeResult r)
    {
        if (auto f = std::exchange(done, nullptr))
            f(std::move(r));
    }
    void fail(const std::string& why, bool tell_peer)
    {
        auto c = conn.lock();
        if (c && tell_peer)
            send_now(*c, [&](wire::Message::Builder m) { m.initReject().setReason(why); });
        finish({ false, peer_pid, why });
        if (c)
            c->close("handshake failed: " + why);
    }
};

template <class Step>
void run_steps(const std::shared_ptr<Connection>& conn, std::shared_ptr<State> st, Step step)
{
    conn->set_frame_handler([st, step](InFrame&& frame) {
        try {
            capnp::ReaderOptions opts;
            opts.traversalLimitInWords = 1 << 16;
            capnp::SegmentArrayMessageReader reader(
                kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>(
                    frame.segments.data(), frame.segments.size()),
                opts);
            step(*st, reader.getRoot<wire::Message>());
        } catch (const kj::Exception& e) {
            st->fail(std::string("malformed handshake frame: ") + e.getDescription().cStr(), false);
        } catch (const std::exception& e) {
            st->fail(std::string("malformed handshake frame: ") + e.what(), false);
        }
    });
}

} // namespace

Cookie Cookie::random()
{
    Cookie c;
    if (RAND_bytes(c.bytes.data(), static_cast<int>(c.bytes.size())) != 1)
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    return c;
}

std::optional<Cookie> Cookie::from_hex(std::string_view hex)
{
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' '))
        hex.remove_suffix(1);
    if (hex.size() != 32)
        return std::nullopt;
    Cookie c;
    for (std::size_t i = 0; i < 16; ++i) {
        auto nib = [](char ch) -> int {
            if (ch >= '0' && ch <= '9')
                return ch - '0';
            if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
            if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
            return -1;
        };
        int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        c.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return c;
}

std::string Cookie::hex() const
{
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (auto b : bytes) {
        s.push_back(digits[b >> 4]);
        s.push_back(digits[b & 15]);
    }
    return s;
}

void handshake_as_connector(const std::shared_ptr<Connection>& conn, const Cookie& cookie,
    Pid my_pid, std::function<void(HandshakeResult)> done)
{
    auto st = std::make_shared<State>();
    st->conn = conn;
    st->cookie = cookie;
    st->my_pid = my_pid;
    st->mine = random_nonce();
    st->done = std::move(done);
    run_steps(conn, st, [](State& s, wire::Message::Reader m) {
        if (m.isReject())
            return s.fail(
                std::string("rejected by the peer: ") + m.getReject().getReason().cStr(), false);
        if (s.step == 0 && m.isChallenge()) {
            auto ch = m.getChallenge();
            auto theirs = ch.getNonce();
            if (theirs.size() != s.theirs.size())
                return s.fail("challenge nonce has the wrong size", true);
            std::copy(theirs.begin(), theirs.end(), s.theirs.begin());
            if (!mac_equal(
                    mac_of(s.cookie, "weft-acceptor", bytes(s.mine), theirs, 0), ch.getMac()))
                return s.fail(
                    "wrong cookie (the peer's proof does not match this cluster's cookie)", true);
            const auto proof = mac_of(s.cookie, "weft-connector", theirs, bytes(s.mine), s.my_pid);
            if (auto c = s.conn.lock())
                send_now(
                    *c, [&](wire::Message::Builder out) { out.initProof().setMac(data(proof)); });
            s.step = 1;
            return;
        }
        if (s.step == 1 && m.isWelcome()) {
            s.peer_pid = m.getWelcome().getPid();
            s.finish({ true, s.peer_pid, {} });
            return;
        }
        s.fail("unexpected message during the handshake", true);
    });
    send_now(*conn, [&](wire::Message::Builder m) {
        auto h = m.initHello();
        h.setPid(my_pid);
        h.setNonce(bytes(st->mine));
        h.setProtocol(kProtocolVersion);
    });
}

void handshake_as_acceptor(const std::shared_ptr<Connection>& conn, const Cookie& cookie,
    Pid my_pid, std::function<void(HandshakeResult)> done)
{
    auto st = std::make_shared<State>();
    st->conn = conn;
    st->cookie = cookie;
    st->my_pid = my_pid;
    st->mine = random_nonce();
    st->done = std::move(done);
    run_steps(conn, st, [](State& s, wire::Message::Reader m) {
        if (m.isReject())
            return s.fail(
                std::string("the peer gave up: ") + m.getReject().getReason().cStr(), false);
        if (s.step == 0 && m.isHello()) {
            auto h = m.getHello();
            if (h.getProtocol() != kProtocolVersion)
                return s.fail("protocol version " + std::to_string(h.getProtocol())
                        + " (this process speaks " + std::to_string(kProtocolVersion) + ")",
                    true);
            auto theirs = h.getNonce();
            if (theirs.size() != s.theirs.size())
                return s.fail("hello nonce has the wrong size", true);
            std::copy(theirs.begin(), theirs.end(), s.theirs.begin());
            s.peer_pid = h.getPid();
            const auto mac = mac_of(s.cookie, "weft-acceptor", theirs, bytes(s.mine), 0);
            if (auto c = s.conn.lock())
                send_now(*c, [&](wire::Message::Builder out) {
                    auto ch = out.initChallenge();
                    ch.setNonce(bytes(s.mine));
                    ch.setMac(data(mac));
                });
            s.step = 1;
            return;
        }
        if (s.step == 1 && m.isProof()) {
            const auto expected = mac_of(s.cookie, "weft-connector", bytes(s.mine),
                kj::ArrayPtr<const kj::byte>(s.theirs.data(), s.theirs.size()), s.peer_pid);
            if (!mac_equal(expected, m.getProof().getMac()))
                return s.fail("wrong cookie", true);
            if (auto c = s.conn.lock())
                send_now(
                    *c, [&](wire::Message::Builder out) { out.initWelcome().setPid(s.my_pid); });
            s.finish({ true, s.peer_pid, {} });
            return;
        }
        s.fail("unexpected message during the handshake", true);
    });
}

Pid handshake_blocking(int fd, const Cookie& cookie, Pid my_pid)
{
    const Nonce mine = random_nonce();
    auto send = [&](auto fill) {
        capnp::MallocMessageBuilder b(32);
        fill(b.getRoot<wire::Message>());
        capnp::writeMessageToFd(fd, b);
    };
    capnp::ReaderOptions opts;
    opts.traversalLimitInWords = 1 << 16;
    send([&](wire::Message::Builder m) {
        auto h = m.initHello();
        h.setPid(my_pid);
        h.setNonce(bytes(mine));
        h.setProtocol(kProtocolVersion);
    });
    try {
        capnp::StreamFdMessageReader challenge(fd, opts);
        auto m = challenge.getRoot<wire::Message>();
        if (m.isReject())
            throw ConnectionError(std::string("rejected: ") + m.getReject().getReason().cStr());
        if (!m.isChallenge() || m.getChallenge().getNonce().size() != 16)
            throw ConnectionError("the peer did not answer with a challenge");
        auto theirs = m.getChallenge().getNonce();
        if (!mac_equal(mac_of(cookie, "weft-acceptor", bytes(mine), theirs, 0),
                m.getChallenge().getMac()))
            throw ConnectionError("wrong cookie (the peer's proof does not match)");
        const auto proof = mac_of(cookie, "weft-connector", theirs, bytes(mine), my_pid);
        send([&](wire::Message::Builder out) { out.initProof().setMac(data(proof)); });
        capnp::StreamFdMessageReader welcome(fd, opts);
        auto w = welcome.getRoot<wire::Message>();
        if (w.isReject())
            throw ConnectionError(std::string("rejected: ") + w.getReject().getReason().cStr());
        if (!w.isWelcome())
            throw ConnectionError("the peer did not welcome us");
        return w.getWelcome().getPid();
    } catch (const kj::Exception& e) {
        throw ConnectionError(std::string("handshake failed: ") + e.getDescription().cStr());
    }
}

} // namespace weft::detail
