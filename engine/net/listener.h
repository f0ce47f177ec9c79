#pragma once
// Where peers connect to this process: its listening sockets (TCP and a private Unix socket),
// a robust accept loop, and the gauntlet before the handshake (same user only, a cap on
// unauthenticated connections, a handshake timeout, rejections logged once then summarised).
// A connection that proves it knows the cookie is handed to the mesh. Loop thread, except
// listen() and remove_socket_files().

#include "connection.h"
#include "event_loop.h"
#include "handshake.h"
#include "rejection_log.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weft::detail {

class Listener final : public std::enable_shared_from_this<Listener> {
public:
    // `authenticated(peer, conn)` gets each connection that passed the handshake.
    Listener(EventLoop& loop, const std::atomic<Pid>& self, Cookie cookie, WireLimits limits,
        std::function<void(Pid, const std::shared_ptr<Connection>&)> authenticated,
        std::function<void(const std::string&)> log);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Listens on TCP on `host` (if `tcp`) and on a Unix socket; returns the addresses to announce.
    std::vector<std::string> listen(const std::string& host, bool tcp);
    // Unlinks the Unix sockets' files (a worker about to end at once); the sockets stay open.
    void remove_socket_files();
    // Loop thread: closes the connections still handshaking and stops accepting.
    void stop();
    // After the loop has stopped: closes the sockets and unlinks their files.
    void close();

private:
    kj::Promise<void> accept_loop(kj::UnixEventPort::FdObserver* obs, int fd, bool tcp);
    kj::Promise<void> accept_ready(kj::UnixEventPort::FdObserver* obs, int fd, bool tcp);
    void accept_trouble(const std::string& why); // logged once per episode
    void accept_connection(int fd, std::string what);
    // A rejected incoming connection, logged in full or counted for the next summary.
    void note_rejection(const std::string& line);

    static constexpr auto kAcceptRetry = 100 * kj::MILLISECONDS;
    static constexpr int kRejectionWindow = 10; // seconds; WEFT_REJECTION_WINDOW_S overrides it

    EventLoop& loop_;
    const std::atomic<Pid>& self_;
    const Cookie cookie_;
    const WireLimits limits_;
    const std::function<void(Pid, const std::shared_ptr<Connection>&)> authenticated_;
    const std::function<void(const std::string&)> log_;
    std::vector<std::unique_ptr<kj::UnixEventPort::FdObserver>> observers_; // loop thread
    std::vector<int> fds_;
    std::vector<std::string> paths_; // Unix sockets' files, unlinked at the end
    bool troubled_ = false; // loop thread
    RejectionLog rejections_; // loop thread
    std::vector<std::shared_ptr<Connection>> handshaking_; // loop thread
};

} // namespace weft::detail
