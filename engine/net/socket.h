#pragma once
// Plain socket set-up: listening and connecting over TCP and Unix-domain sockets. Addresses are
// written "tcp:HOST:PORT" or "unix:PATH" (a listener's path is in a directory only its user can
// enter; "unix:@NAME", the abstract namespace, can still be connected to).

#include <cstdint>
#include <optional>
#include <string>

namespace weft::detail {

// A listening socket; `address` is what a peer passes to `connect_socket`.
struct ListenSocket {
    int fd = -1;
    std::string address;
    std::string path; // a Unix socket's file, to unlink when done
};

// Throws ConnectionError naming the address on failure.
ListenSocket listen_tcp(const std::string& host, std::uint16_t port = 0);
// In private_socket_dir().
ListenSocket listen_unix(const std::string& name_hint);
// $XDG_RUNTIME_DIR/weft, or /tmp/weft-UID: created 0700 if missing; throws ConnectionError when
// it is not a directory of this user's that nobody else can enter.
std::string private_socket_dir();
// The uid of the process at the other end of a Unix socket.
std::optional<std::uint32_t> peer_uid(int fd);
// Starts a non-blocking connect; the socket becomes writable when it completes.
int connect_socket(const std::string& address);
// Blocking connect, for tools and benchmarks.
int connect_socket_blocking(const std::string& address);
// The pending error of a non-blocking connect (0 when connected).
int socket_error(int fd);
void tune_socket(int fd, bool is_tcp);
void set_nonblocking(int fd, bool on);
[[nodiscard]] bool is_tcp_address(const std::string& address);

} // namespace weft::detail
