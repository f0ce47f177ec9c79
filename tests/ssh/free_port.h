#pragma once
// A TCP port on 127.0.0.1 that nothing listens on now (for a test's own sshd, or a port that
// must refuse). Plain C++: the benchmark program uses it too.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft::test {

inline int free_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

} // namespace weft::test
