#pragma once
// Plain socket set-up: listening and connecting over TCP and abstract Unix-domain sockets.
// Addresses are written "tcp:HOST:PORT" or "unix:@NAME".

#include <cstdint>
#include <string>

namespace weft::detail {

// A listening socket; `address` is what a peer passes to `connect_socket`.
struct ListenSocket {
    int fd = -1;
    std::string address;
};

// Throws ConnectionError naming the address on failure.
ListenSocket listen_tcp(const std::string& host, std::uint16_t port = 0);
ListenSocket listen_unix(const std::string& name_hint);
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
