#include "socket.h"

#include "weft/errors.h"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <mutex>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <random>
#include <signal.h>
#include <string_view>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace weft::detail {

namespace {

constexpr int kSocketBuffer = 4 * 1024 * 1024;

[[noreturn]] void fail(const std::string& what, int err)
{
    throw ConnectionError(what + ": " + std::strerror(err));
}

// "@NAME" is in the abstract namespace (kept for connecting to such peers); anything else is a
// path, which file permissions protect.
sockaddr_un unix_addr(const std::string& name, socklen_t& len)
{
    sockaddr_un a {};
    a.sun_family = AF_UNIX;
    const bool abstract = !name.empty() && name[0] == '@';
    const std::string body = name.substr(abstract ? 1 : 0);
    if (body.size() + 1 > sizeof a.sun_path)
        throw ConnectionError("unix socket name too long: " + name);
    std::memcpy(a.sun_path + (abstract ? 1 : 0), body.data(), body.size());
    len = static_cast<socklen_t>(
        offsetof(sockaddr_un, sun_path) + (abstract ? 1 : 0) + body.size() + (abstract ? 0 : 1));
    return a;
}

// A directory only this user can enter, or an error naming what is wrong with it.
void check_private_dir(const std::string& dir)
{
    struct stat st { };
    if (::lstat(dir.c_str(), &st) != 0)
        fail("cannot use the socket directory " + dir, errno);
    if (!S_ISDIR(st.st_mode))
        throw ConnectionError("the socket directory " + dir + " is not a directory");
    if (st.st_uid != ::geteuid())
        throw ConnectionError("the socket directory " + dir + " belongs to uid "
            + std::to_string(st.st_uid) + ", not to this user (uid " + std::to_string(::geteuid())
            + ")");
    if ((st.st_mode & 077) != 0)
        throw ConnectionError("the socket directory " + dir + " is open to other users (mode "
            + std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7)
            + std::to_string(st.st_mode & 7) + "); it must be 700");
}

void split_tcp(const std::string& hostport, std::string& host, std::string& port)
{
    auto colon = hostport.rfind(':');
    if (colon == std::string::npos)
        throw ConnectionError("address '" + hostport + "' lacks a port");
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
}

int connect_impl(const std::string& address, bool blocking)
{
    int fd = -1;
    int rc;
    if (address.rfind("unix:", 0) == 0) {
        socklen_t len;
        auto a = unix_addr(address.substr(5), len);
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
        if (fd < 0)
            fail("socket", errno);
        tune_socket(fd, false);
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), len);
    } else if (address.rfind("tcp:", 0) == 0) {
        std::string host, port;
        split_tcp(address.substr(4), host, port);
        addrinfo hints {};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (int e = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); e != 0)
            throw ConnectionError("cannot resolve " + address + ": " + ::gai_strerror(e));
        fd = ::socket(
            res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
        if (fd < 0) {
            ::freeaddrinfo(res);
            fail("socket", errno);
        }
        tune_socket(fd, true);
        rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
        ::freeaddrinfo(res);
    } else {
        throw ConnectionError(
            "unknown address kind: '" + address + "' (want tcp:HOST:PORT or unix:PATH)");
    }
    if (rc < 0 && !(errno == EINPROGRESS && !blocking)) {
        int e = errno;
        ::close(fd);
        fail("cannot connect to " + address, e);
    }
    return fd;
}

} // namespace

void set_nonblocking(int fd, bool on)
{
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK));
}

void tune_socket(int fd, bool is_tcp)
{
    int one = 1;
    if (is_tcp)
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int buf = kSocketBuffer;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
}

bool is_tcp_address(const std::string& address)
{
    return address.rfind("tcp:", 0) == 0;
}

ListenSocket listen_tcp(const std::string& host, std::uint16_t port)
{
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        fail("socket", errno);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
        ::close(fd);
        throw ConnectionError("cannot listen on '" + host + "': not an IPv4 address");
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(fd, 256) < 0) {
        int e = errno;
        ::close(fd);
        fail("cannot listen on " + host + ":" + std::to_string(port), e);
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return { fd, "tcp:" + host + ":" + std::to_string(ntohs(a.sin_port)), {} };
}

std::string private_socket_dir()
{
    std::string dir;
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg && xdg[0] == '/')
        dir = std::string(xdg) + "/weft";
    else
        dir = "/tmp/weft-" + std::to_string(::geteuid());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        fail("cannot create the socket directory " + dir, errno);
    check_private_dir(dir);
    return dir;
}

namespace {
// Sockets left by processes that were killed (name-PID-N.sock): unlinked once per process.
void remove_stale_sockets(const std::string& dir)
{
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return;
    while (const dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name.size() < 5 || name.substr(name.size() - 5) != ".sock")
            continue;
        const auto last = name.rfind('-');
        const auto before = last == std::string_view::npos ? last : name.rfind('-', last - 1);
        if (before == std::string_view::npos)
            continue;
        const std::string pid(name.substr(before + 1, last - before - 1));
        char* end = nullptr;
        const long p = std::strtol(pid.c_str(), &end, 10);
        if (p > 0 && end && *end == '\0' && ::kill(static_cast<pid_t>(p), 0) != 0 && errno == ESRCH)
            ::unlinkat(::dirfd(d), e->d_name, 0);
    }
    ::closedir(d);
}
} // namespace

ListenSocket listen_unix(const std::string& name_hint)
{
    static std::atomic<unsigned> counter { 0 };
    const std::string dir = private_socket_dir();
    static std::once_flag swept;
    std::call_once(swept, [&] { remove_stale_sockets(dir); });
    const std::string path = dir + "/" + name_hint + "-" + std::to_string(::getpid()) + "-"
        + std::to_string(counter++) + ".sock";
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        fail("socket", errno);
    socklen_t len;
    auto a = unix_addr(path, len);
    ::unlink(path.c_str()); // left by an earlier process with this pid
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) < 0 || ::listen(fd, 256) < 0) {
        int e = errno;
        ::close(fd);
        fail("cannot listen on unix socket " + path, e);
    }
    return { fd, "unix:" + path, path };
}

std::optional<std::uint32_t> peer_uid(int fd)
{
    ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return std::nullopt;
    return cred.uid;
}

int connect_socket(const std::string& address)
{
    return connect_impl(address, false);
}
int connect_socket_blocking(const std::string& address)
{
    return connect_impl(address, true);
}

int socket_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err;
}

} // namespace weft::detail
