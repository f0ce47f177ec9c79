#pragma once
// The cluster cookie and the challenge-response handshake every connection begins with.

#include "connection.h"
#include "weft/value.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace weft::detail {

// 128 random bits made by the master; workers get it on stdin.
struct Cookie {
    std::array<std::uint8_t, 16> bytes {};
    static Cookie random();
    static std::optional<Cookie> from_hex(std::string_view hex);
    [[nodiscard]] std::string hex() const;
};

struct HandshakeResult {
    bool ok = false;
    Pid peer_pid = 0;
    std::string error;
};

// Challenge-response over the connection's first frames: each side proves it knows the cookie
// with HMAC-SHA256 over both nonces, so the cookie never crosses the wire. `done` runs on the loop
// thread; on success the caller installs its own frame handler and opens the gate.
void handshake_as_connector(const std::shared_ptr<Connection>& conn, const Cookie& cookie,
    Pid my_pid, std::function<void(HandshakeResult)> done);
void handshake_as_acceptor(const std::shared_ptr<Connection>& conn, const Cookie& cookie,
    Pid my_pid, std::function<void(HandshakeResult)> done);

// The connector's side on a blocking socket, for tools that speak the wire themselves (the frame
// fuzzer). Returns the acceptor's pid, or throws ConnectionError saying why not.
Pid handshake_blocking(int fd, const Cookie& cookie, Pid my_pid);

inline constexpr std::uint32_t kProtocolVersion = 2; // 2: typed pools, error kinds, telemetry

} // namespace weft::detail
