#include "listener.h"

#include "error_capture.h"
#include "socket.h"

#include <algorithm>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

namespace weft::detail {

Listener::Listener(EventLoop& loop, const std::atomic<Pid>& self, Cookie cookie, WireLimits limits,
    std::function<void(Pid, const std::shared_ptr<Connection>&)> authenticated,
    std::function<void(const std::string&)> log)
    : loop_(loop)
    , self_(self)
    , cookie_(cookie)
    , limits_(limits)
    , authenticated_(std::move(authenticated))
    , log_(std::move(log))
{
}

Listener::~Listener()
{
    close();
}

std::vector<std::string> Listener::listen(const std::string& host, bool tcp)
{
    std::vector<ListenSocket> socks;
    if (tcp)
        socks.push_back(listen_tcp(host));
    socks.push_back(listen_unix("weft-worker"));
    std::vector<std::string> addrs;
    loop_.run_sync([&] {
        for (auto& s : socks) {
            fds_.push_back(s.fd);
            if (!s.path.empty())
                paths_.push_back(s.path);
            addrs.push_back(s.address);
            auto obs = std::make_unique<kj::UnixEventPort::FdObserver>(
                loop_.port(), s.fd, kj::UnixEventPort::FdObserver::OBSERVE_READ);
            auto* raw = obs.get();
            observers_.push_back(std::move(obs));
            loop_.add_task(accept_loop(raw, s.fd, is_tcp_address(s.address)));
        }
    });
    return addrs;
}

void Listener::remove_socket_files()
{
    for (const auto& path : paths_)
        ::unlink(path.c_str());
}

void Listener::stop()
{
    auto conns = std::move(handshaking_);
    handshaking_.clear();
    for (auto& c : conns)
        c->close("this process is shutting down");
    observers_.clear();
}

void Listener::close()
{
    for (int fd : fds_)
        ::close(fd);
    fds_.clear();
    remove_socket_files();
    paths_.clear();
}

kj::Promise<void> Listener::accept_loop(kj::UnixEventPort::FdObserver* obs, int fd, bool tcp)
{
    return obs->whenBecomesReadable().then(
        [this, obs, fd, tcp] { return accept_ready(obs, fd, tcp); });
}

// Accepts what is waiting. An error other than "nothing waiting" never stops the listener: out
// of descriptors (EMFILE, ENFILE) or memory, it says so once and tries again shortly, until the
// pressure is gone (the socket reports readable only for new connections, so it must retry).
kj::Promise<void> Listener::accept_ready(kj::UnixEventPort::FdObserver* obs, int fd, bool tcp)
{
    const char* what = tcp ? "tcp" : "unix";
    for (;;) {
        const int c = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            const int err = errno;
            if (err == EINTR || err == ECONNABORTED || err == EPROTO)
                continue;
            if (err == EAGAIN || err == EWOULDBLOCK)
                return accept_loop(obs, fd, tcp);
            accept_trouble(
                std::string("accepting ") + what + " connections failed: " + std::strerror(err));
            return loop_.timer().afterDelay(kAcceptRetry).then([this, obs, fd, tcp] {
                return accept_ready(obs, fd, tcp);
            });
        }
        try {
            tune_socket(c, tcp);
            accept_connection(c, what); // owns `c` from here, even when it throws
            troubled_ = false;
        } catch (const std::exception& e) {
            accept_trouble(std::string("an incoming ") + what + " connection failed: " + e.what());
            return loop_.timer().afterDelay(kAcceptRetry).then([this, obs, fd, tcp] {
                return accept_ready(obs, fd, tcp);
            });
        }
    }
}

void Listener::accept_trouble(const std::string& why)
{
    if (std::exchange(troubled_, true))
        return;
    log_(why + "; still listening, retrying every "
        + std::to_string(kAcceptRetry / kj::MILLISECONDS) + " ms");
}

void Listener::note_rejection(const std::string& line)
{
    if (!rejections_.add(line))
        return;
    log_(line);
    static const int window = [] {
        const char* s = std::getenv("WEFT_REJECTION_WINDOW_S");
        return s && std::atoi(s) > 0 ? std::atoi(s) : kRejectionWindow;
    }();
    loop_.add_task(loop_.timer().afterDelay(window * kj::SECONDS).then([self = shared_from_this()] {
        auto summary = self->rejections_.take_summary(std::chrono::seconds(window));
        if (!summary.empty())
            self->log_(summary);
    }));
}

void Listener::accept_connection(int fd, std::string what)
{
    // Same user only: another user's process on this host is turned away before it can cost
    // anything (the socket's directory already keeps it out; this also covers abstract
    // addresses).
    if (what == "unix")
        if (auto uid = peer_uid(fd); !uid || *uid != ::geteuid()) {
            ::close(fd);
            note_rejection("rejected an incoming unix connection from another user (uid "
                + (uid ? std::to_string(*uid) : std::string("unknown")) + ")");
            return;
        }
    auto conn
        = std::make_shared<Connection>(loop_, fd, "incoming " + what + " connection", limits_);
    // At most so many peers may be unauthenticated at once: the oldest makes room.
    if (handshaking_.size() >= limits_.max_unauthenticated) {
        auto oldest = handshaking_.front();
        handshaking_.erase(handshaking_.begin());
        oldest->close("too many unauthenticated connections ("
            + std::to_string(limits_.max_unauthenticated) + "): the oldest is dropped");
        note_rejection("dropped the oldest unauthenticated connection: more than "
            + std::to_string(limits_.max_unauthenticated) + " at once");
    }
    handshaking_.push_back(conn);
    auto self = shared_from_this();
    const auto forget = [self](const std::shared_ptr<Connection>& c) {
        auto& h = self->handshaking_;
        const auto it = std::find(h.begin(), h.end(), c);
        if (it == h.end())
            return false;
        h.erase(it);
        return true;
    };
    conn->start(
        false, [](InFrame&&) {}, [forget, conn](const std::string&) { forget(conn); },
        [self, what](const std::string& e) {
            self->note_rejection("rejected an incoming " + what + " connection: " + e);
        });
    // A peer that says nothing, or too little, is closed when the handshake's time is up.
    const auto timeout = limits_.handshake_timeout_ms;
    std::weak_ptr<Connection> weak = conn;
    loop_.add_task(loop_.timer()
                       .afterDelay(timeout * kj::MILLISECONDS)
                       .then([self, forget, weak, what, timeout] {
                           auto c = weak.lock();
                           if (!c || !forget(c))
                               return; // authenticated, or gone
                           const std::string why
                               = "handshake timed out after " + std::to_string(timeout) + " ms";
                           c->close(why);
                           self->note_rejection(
                               "rejected an incoming " + what + " connection: " + why);
                       }));
    handshake_as_acceptor(
        conn, cookie_, self_.load(), [self, forget, conn, what](HandshakeResult r) {
            forget(conn);
            if (!r.ok) {
                self->note_rejection("rejected an incoming " + what + " connection (claiming to be "
                    + who(r.peer_pid) + "): " + r.error);
                return;
            }
            self->authenticated_(r.peer_pid, conn);
        });
}

} // namespace weft::detail
