#pragma once
// Plain-socket helpers for tests that speak to a worker as an outsider would.

#include <cerrno>
#include <cstddef>
#include <string>
#include <sys/socket.h>

namespace weft::test {

// Writes all of it (no SIGPIPE); false once the peer has gone.
inline bool write_all(int fd, const void* p, std::size_t n)
{
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
        const ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}
inline bool write_all(int fd, const std::string& s)
{
    return write_all(fd, s.data(), s.size());
}

} // namespace weft::test
