#include "ssh_session.h"

#include "socket.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace weft::detail {

namespace {

std::string shell_quote(const std::string& s)
{
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

std::string fingerprint_of(ssh_key key)
{
    unsigned char* hash = nullptr;
    std::size_t len = 0;
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != SSH_OK)
        return "(no fingerprint)";
    char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
    ssh_clean_pubkey_hash(&hash);
    std::string out = fp ? fp : "(no fingerprint)";
    ssh_string_free_char(fp);
    return out;
}

void send_all(int fd, const char* p, std::size_t n)
{
    while (n > 0) {
        const auto w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; // the reader is gone: the bytes have nowhere to go
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

} // namespace

void SshSession::open()
{
    s_ = ssh_new();
    if (!s_)
        throw SshError("cannot create an SSH session");
    where_ = ssh_destination(spec_);
    ssh_options_set(s_, SSH_OPTIONS_HOST, spec_.host.c_str());
    if (spec_.ssh_config != "none") {
        if (spec_.ssh_config.empty()) {
            ssh_options_parse_config(s_, nullptr);
        } else if (ssh_options_parse_config(s_, spec_.ssh_config.c_str()) != SSH_OK) {
            throw SshError(where_ + ": cannot read SSH config " + spec_.ssh_config);
        }
    }
    if (spec_.port > 0) {
        const unsigned port = static_cast<unsigned>(spec_.port);
        ssh_options_set(s_, SSH_OPTIONS_PORT, &port);
    }
    if (!spec_.user.empty())
        ssh_options_set(s_, SSH_OPTIONS_USER, spec_.user.c_str());
    if (!spec_.known_hosts.empty())
        ssh_options_set(s_, SSH_OPTIONS_KNOWNHOSTS, spec_.known_hosts.c_str());
    const long secs = static_cast<long>(spec_.connect_timeout.count() / 1000);
    const long usecs = static_cast<long>((spec_.connect_timeout.count() % 1000) * 1000);
    ssh_options_set(s_, SSH_OPTIONS_TIMEOUT, &secs);
    ssh_options_set(s_, SSH_OPTIONS_TIMEOUT_USEC, &usecs);
    // What the config resolved (an alias's HostName, User and Port), for every later message.
    {
        char* host = nullptr;
        char* user = nullptr;
        unsigned port = 22;
        ssh_options_get(s_, SSH_OPTIONS_HOST, &host);
        ssh_options_get(s_, SSH_OPTIONS_USER, &user);
        ssh_options_get_port(s_, &port);
        where_ = std::string(user ? std::string(user) + "@" : "") + (host ? host : spec_.host) + ":"
            + std::to_string(port) + (host && spec_.host != host ? " (" + spec_.host + ")" : "");
        ssh_string_free_char(host);
        ssh_string_free_char(user);
    }
    if (ssh_connect(s_) != SSH_OK)
        throw SshError(where_ + ": cannot connect: " + error());
    sockaddr_storage peer {};
    socklen_t len = sizeof peer;
    char buf[INET6_ADDRSTRLEN] = {};
    if (::getpeername(ssh_get_fd(s_), reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
        if (peer.ss_family == AF_INET)
            ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, buf, sizeof buf);
        else if (peer.ss_family == AF_INET6)
            ::inet_ntop(
                AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, buf, sizeof buf);
    }
    peer_address_ = buf;
    check_host_key();
    authenticate();
}

void SshSession::check_host_key()
{
    ssh_key key = nullptr;
    if (ssh_get_server_publickey(s_, &key) != SSH_OK)
        throw SshError(where_ + ": the server sent no host key: " + error());
    const std::string fp = fingerprint_of(key);
    const std::string type = ssh_key_type_to_char(ssh_key_type(key));
    ssh_key_free(key);
    char* kh = nullptr;
    ssh_options_get(s_, SSH_OPTIONS_KNOWNHOSTS, &kh);
    const std::string known_hosts = kh ? kh : "~/.ssh/known_hosts";
    ssh_string_free_char(kh);
    const auto state = ssh_session_is_known_server(s_);
    switch (state) {
    case SSH_KNOWN_HOSTS_OK:
        return;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER: {
        // libssh does not hand back the entry that differs: read the file for it.
        char* hostname = nullptr;
        unsigned port = 22;
        ssh_options_get(s_, SSH_OPTIONS_HOST, &hostname);
        ssh_options_get_port(s_, &port);
        const std::string name = hostname ? hostname : spec_.host;
        ssh_string_free_char(hostname);
        const std::string key_name = port == 22 ? name : "[" + name + "]:" + std::to_string(port);
        std::string old_fp;
        std::ifstream in(known_hosts);
        for (std::string line; std::getline(in, line);) {
            ssh_knownhosts_entry* entry = nullptr;
            if (ssh_known_hosts_parse_line(key_name.c_str(), line.c_str(), &entry) == SSH_OK
                && entry && entry->publickey)
                old_fp += (old_fp.empty() ? "" : ", ")
                    + std::string(ssh_key_type_to_char(ssh_key_type(entry->publickey))) + " "
                    + fingerprint_of(entry->publickey);
            ssh_knownhosts_entry_free(entry);
        }
        if (old_fp.empty())
            old_fp = "another key";
        throw SshError(where_ + ": the host key has CHANGED (refused: this may be an attack). "
            + known_hosts + " has " + old_fp + ", the server now offers " + type + " " + fp
            + ". If the change is expected, remove the old key (ssh-keygen -R) and connect again.");
    }
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND: {
        HostKeyQuestion q;
        q.host = spec_.host;
        unsigned port = 22;
        ssh_options_get_port(s_, &port);
        q.port = static_cast<int>(port);
        q.key_type = type;
        q.fingerprint = fp;
        q.known_hosts = known_hosts;
        if (!spec_.accept_unknown_host)
            throw SshError(where_ + ": the host is unknown (its " + type + " key " + fp
                + " is not in " + known_hosts + "), and nothing was asked to accept it: refused");
        if (!spec_.accept_unknown_host(q))
            throw SshError(where_ + ": the host's key " + fp + " was not accepted");
        if (ssh_session_update_known_hosts(s_) != SSH_OK)
            throw SshError(
                where_ + ": cannot record the host's key in " + known_hosts + ": " + error());
        return;
    }
    case SSH_KNOWN_HOSTS_ERROR:
        break;
    }
    throw SshError(where_ + ": cannot check the host key against " + known_hosts + ": " + error());
}

int ask_passphrase(
    const char* /*prompt*/, char* buf, std::size_t len, int /*echo*/, int /*verify*/, void* data)
{
    auto* ask = static_cast<std::function<std::string()>*>(data);
    const std::string p = (*ask)();
    if (p.empty() || p.size() + 1 > len)
        return -1;
    std::memcpy(buf, p.c_str(), p.size() + 1);
    return 0;
}

void SshSession::authenticate()
{
    // Some servers want "none" first to list their methods; its failure is expected.
    if (ssh_userauth_none(s_, nullptr) == SSH_AUTH_SUCCESS)
        return;
    std::vector<std::string> tried;
    const bool agent_ok = std::getenv("SSH_AUTH_SOCK") != nullptr;
    if (spec_.auth == SshAuth::Agent || spec_.auth == SshAuth::Auto) {
        if (!agent_ok) {
            tried.push_back("ssh-agent: none is running (SSH_AUTH_SOCK is not set)");
        } else {
            const int rc = ssh_userauth_agent(s_, nullptr);
            if (rc == SSH_AUTH_SUCCESS)
                return;
            if (rc == SSH_AUTH_ERROR)
                throw SshError(where_ + ": login with ssh-agent failed: " + error());
            tried.push_back("ssh-agent: the server accepted none of its keys");
        }
    }
    if ((spec_.auth == SshAuth::KeyFile || spec_.auth == SshAuth::Auto)
        && !spec_.key_file.empty()) {
        std::function<std::string()> ask = [this] {
            return spec_.passphrase ? spec_.passphrase(spec_.key_file) : std::string();
        };
        ssh_key key = nullptr;
        const int rc = ssh_pki_import_privkey_file(
            spec_.key_file.c_str(), nullptr, ask_passphrase, &ask, &key);
        if (rc != SSH_OK) {
            std::error_code ec;
            tried.push_back("key " + spec_.key_file + ": "
                + (std::filesystem::exists(spec_.key_file, ec)
                        ? std::string("cannot read it (a wrong or missing passphrase?)")
                        : std::string("no such file")));
        } else {
            const int a = ssh_userauth_publickey(s_, nullptr, key);
            ssh_key_free(key);
            if (a == SSH_AUTH_SUCCESS)
                return;
            if (a == SSH_AUTH_ERROR)
                throw SshError(
                    where_ + ": login with key " + spec_.key_file + " failed: " + error());
            tried.push_back("key " + spec_.key_file + ": refused by the server");
        }
    } else if (spec_.auth == SshAuth::KeyFile) {
        tried.push_back("key file: none was given");
    }
    if (spec_.auth == SshAuth::Auto) {
        // The default keys (~/.ssh/id_*) and the config's IdentityFile.
        const int rc = ssh_userauth_publickey_auto(s_, nullptr, nullptr);
        if (rc == SSH_AUTH_SUCCESS)
            return;
        if (rc == SSH_AUTH_ERROR)
            throw SshError(where_ + ": login failed: " + error());
        tried.push_back("default keys and IdentityFile: refused or none found");
    }
    std::string msg = where_ + ": login refused;";
    for (auto& t : tried)
        msg += " " + t + ";";
    msg.pop_back();
    throw SshError(msg);
}

std::shared_ptr<RemoteWorker> SshSession::exec(const LaunchRequest& r)
{
    auto w = std::make_shared<RemoteWorker>();
    LaunchRequest req = r;
    req.unix_only = false;
    req.bind = spec_.route == SshRoute::Tunnel ? "127.0.0.1" : peer_address_;
    std::string cmd = "exec " + shell_quote(spec_.worker_path);
    if (spec_.deploy) {
        if (r.local_worker_path.empty())
            throw SshError(where_ + ": nothing to deploy: this machine's weft-worker is unknown");
        const auto worker = stage(r.local_worker_path);
        const auto engine = stage(this_engine_library());
        cmd = "LD_LIBRARY_PATH=" + shell_quote(std::filesystem::path(engine).parent_path().string())
            + " exec " + shell_quote(worker);
    }
    for (auto& a : worker_arguments(req))
        cmd += " " + shell_quote(a);
    ssh_channel ch = ssh_channel_new(s_);
    if (!ch)
        throw SshError(where_ + ": cannot open a channel: " + error());
    if (ssh_channel_open_session(ch) != SSH_OK) {
        ssh_channel_free(ch);
        throw SshError(where_ + ": cannot open a session channel: " + error());
    }
    if (ssh_channel_request_exec(ch, cmd.c_str()) != SSH_OK) {
        ssh_channel_close(ch);
        ssh_channel_free(ch);
        throw SshError(where_ + ": cannot run " + spec_.worker_path + ": " + error());
    }
    w->pipe.channel = ch;
    ssh_callbacks_init(&w->callbacks);
    w->callbacks.userdata = w.get();
    w->callbacks.channel_exit_status_function = [](ssh_session, ssh_channel, int status, void* u) {
        auto* rw = static_cast<RemoteWorker*>(u);
        std::lock_guard g(rw->m);
        rw->exit_status = status;
    };
    w->callbacks.channel_exit_signal_function
        = [](ssh_session, ssh_channel, const char* sig, int, const char*, const char*, void* u) {
              auto* rw = static_cast<RemoteWorker*>(u);
              std::lock_guard g(rw->m);
              rw->exit_signal = sig ? sig : "?";
          };
    ssh_set_channel_callbacks(ch, &w->callbacks);
    workers_.push_back(w);
    return w;
}

void SshSession::start_pump()
{
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ssh_set_blocking(s_, 0);
    event_ = ssh_event_new();
    if (event_)
        ssh_event_add_session(event_, s_);
    pump_ = std::thread([this] { pump(); });
}

void SshSession::stop()
{
    if (pump_.joinable()) {
        stopping_ = true;
        post([] {});
        pump_.join();
    }
    for (auto& w : workers_) {
        if (w->pipe.channel) {
            ssh_channel_free(w->pipe.channel);
            w->pipe.channel = nullptr;
        }
        end_worker(*w, "the master closed its SSH session to " + where_);
        for (int* fd : { &w->pipe.local, &w->pipe.out, &w->pipe.err })
            if (*fd >= 0) {
                ::close(*fd);
                *fd = -1;
            }
    }
    for (auto& t : tunnels_) {
        for (auto& c : t.conns) {
            if (c.channel)
                ssh_channel_free(c.channel);
            if (c.local >= 0)
                ::close(c.local);
        }
        if (t.listener >= 0)
            ::close(t.listener);
        ::unlink(t.path.c_str());
    }
    tunnels_.clear();
    for (auto& c : back_conns_) {
        if (c.channel)
            ssh_channel_free(c.channel);
        if (c.local >= 0)
            ::close(c.local);
    }
    back_conns_.clear();
    if (!tunnel_dir_.empty())
        ::rmdir(tunnel_dir_.c_str());
    if (event_) {
        ssh_event_remove_session(event_, s_);
        ssh_event_free(event_);
        event_ = nullptr;
    }
    if (s_) {
        ssh_disconnect(s_);
        ssh_free(s_);
        s_ = nullptr;
    }
    if (wake_ >= 0)
        ::close(wake_);
    wake_ = -1;
}

void SshSession::end_worker(RemoteWorker& w, std::string reason)
{
    {
        std::lock_guard g(w.m);
        if (w.ended_w < 0)
            return;
        if (w.exit_signal.size())
            reason = "killed by signal " + w.exit_signal + " on " + spec_.host;
        else if (w.exit_status)
            reason = "exited with code " + std::to_string(*w.exit_status) + " on " + spec_.host;
        w.reason = reason;
    }
    w.pipe.done = true;
    // Its output ends here (the cluster reads to EOF), then its end is told.
    for (int* fd : { &w.pipe.out, &w.pipe.err })
        if (*fd >= 0) {
            ::close(*fd);
            *fd = -1;
        }
    ::close(std::exchange(w.ended_w, -1));
}

// Moves what is ready between one channel and its local sockets; false once the channel is
// finished with (closed, or at EOF both ways for a tunnel).
bool SshSession::pump_pipe(Pipe& p, bool exec, std::string* first_line)
{
    char buf[32 * 1024];
    // Channel to local.
    for (int stream = 0; stream < (exec ? 2 : 1); ++stream) {
        for (;;) {
            const int n = ssh_channel_read_nonblocking(p.channel, buf, sizeof buf, stream);
            if (n <= 0)
                break;
            if (first_line && stream == 0 && first_line->find('\n') == std::string::npos
                && first_line->size() < 512)
                first_line->append(buf, static_cast<std::size_t>(n));
            send_all(
                stream == 0 ? (exec ? p.out : p.local) : p.err, buf, static_cast<std::size_t>(n));
        }
    }
    // Local to channel (a worker's stdin, or a tunnelled connection's bytes).
    if (!p.pending.empty()) {
        const int w = ssh_channel_write(
            p.channel, p.pending.data(), static_cast<uint32_t>(p.pending.size()));
        if (w > 0)
            p.pending.erase(0, static_cast<std::size_t>(w));
    }
    if (p.pending.empty() && !p.local_eof) {
        const auto n = ::recv(p.local, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            const int w = ssh_channel_write(p.channel, buf, static_cast<uint32_t>(n));
            p.pending.assign(buf + std::max(w, 0), static_cast<std::size_t>(n - std::max(w, 0)));
        } else if (n == 0) {
            p.local_eof = true;
            ssh_channel_send_eof(p.channel);
        }
    }
    if (ssh_channel_is_closed(p.channel))
        return false;
    if (!exec && ssh_channel_is_eof(p.channel) && p.local_eof)
        return false;
    if (!exec && ssh_channel_is_eof(p.channel) && p.local >= 0) {
        ::shutdown(p.local, SHUT_WR);
    }
    return true;
}

// Tunnelled connections, either way: each is closed on both ends once it is finished with.
void SshSession::pump_connections(std::list<Pipe>& conns)
{
    for (auto it = conns.begin(); it != conns.end();) {
        if (pump_pipe(*it, false)) {
            ++it;
            continue;
        }
        ssh_channel_close(it->channel);
        ssh_channel_free(it->channel);
        ::close(it->local);
        it = conns.erase(it);
    }
}

void SshSession::pump_worker(RemoteWorker& w)
{
    if (w.pipe.done)
        return;
    // Its announcement ("weft-worker V pid N listening ...") is copied as it passes, for the
    // pid (the line itself goes on to the cluster).
    const bool open = pump_pipe(w.pipe, true, w.os_pid < 0 ? &w.first_line : nullptr);
    if (w.os_pid < 0) {
        if (const auto at = w.first_line.find(" pid ");
            at != std::string::npos && w.first_line.find('\n') != std::string::npos)
            w.os_pid = std::strtol(w.first_line.c_str() + at + 5, nullptr, 10);
    }
    if (!open || (ssh_channel_is_eof(w.pipe.channel) && (w.exit_status || !w.exit_signal.empty())))
        end_worker(w, "its SSH channel to " + where_ + " closed without an exit status");
}

void SshSession::accept_tunnel(Tunnel& t)
{
    const int fd = ::accept4(t.listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    ssh_channel ch = ssh_channel_new(s_);
    ssh_set_blocking(s_, 1);
    const int rc
        = ch ? ssh_channel_open_forward(ch, "127.0.0.1", t.port, "127.0.0.1", 0) : SSH_ERROR;
    ssh_set_blocking(s_, 0);
    if (rc != SSH_OK) {
        if (ch)
            ssh_channel_free(ch);
        ::close(fd); // the connecting side sees the connection closed
        return;
    }
    Pipe p;
    p.channel = ch;
    p.local = fd;
    t.conns.push_back(std::move(p));
}

std::string SshSession::open_tunnel(int port)
{
    std::promise<std::string> made;
    auto result = made.get_future();
    post([this, port, &made] {
        try {
            if (tunnel_dir_.empty()) {
                const char* base = std::getenv("XDG_RUNTIME_DIR");
                std::string tmpl = std::string(base && *base ? base : "/tmp") + "/weft-ssh-XXXXXX";
                if (!::mkdtemp(tmpl.data()))
                    throw SshError(std::string("cannot make a directory for tunnels: ")
                        + std::strerror(errno));
                tunnel_dir_ = tmpl;
            }
            Tunnel t;
            t.port = port;
            t.path
                = tunnel_dir_ + "/" + std::to_string(port) + "-" + std::to_string(tunnels_.size());
            t.listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            sockaddr_un a {};
            a.sun_family = AF_UNIX;
            if (t.path.size() >= sizeof a.sun_path)
                throw SshError("tunnel path too long: " + t.path);
            std::memcpy(a.sun_path, t.path.c_str(), t.path.size() + 1);
            if (t.listener < 0 || ::bind(t.listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0
                || ::listen(t.listener, 16) != 0) {
                const int err = errno;
                if (t.listener >= 0)
                    ::close(t.listener);
                throw SshError("cannot listen on " + t.path + ": " + std::strerror(err));
            }
            tunnels_.push_back(std::move(t));
            made.set_value("unix:" + tunnels_.back().path);
        } catch (...) {
            made.set_exception(std::current_exception());
        }
    });
    return result.get();
}

std::string SshSession::open_tunnel_back(const std::string& target)
{
    std::promise<std::string> made;
    auto result = made.get_future();
    post([this, &target, &made] {
        if (auto it = back_by_target_.find(target); it != back_by_target_.end()) {
            made.set_value(it->second);
            return;
        }
        ssh_set_blocking(s_, 1);
        int port = 0;
        const int rc = ssh_channel_listen_forward(s_, "127.0.0.1", 0, &port);
        ssh_set_blocking(s_, 0);
        if (rc != SSH_OK) {
            made.set_exception(std::make_exception_ptr(SshError(
                where_ + ": cannot forward a port on the host back to this machine: " + error())));
            return;
        }
        back_[port] = target;
        made.set_value(back_by_target_[target] = "tcp:127.0.0.1:" + std::to_string(port));
    });
    return result.get();
}

// Connections the host's sshd forwards back (a worker there reaching a process here).
void SshSession::accept_tunnels_back()
{
    if (back_.empty())
        return;
    for (;;) {
        int port = 0, from_port = 0;
        char* from = nullptr;
        ssh_channel ch = ssh_channel_open_forward_port(s_, 0, &port, &from, &from_port);
        ssh_string_free_char(from);
        if (!ch)
            return;
        const auto it = back_.find(port);
        int fd = -1;
        if (it != back_.end()) {
            try {
                fd = detail::connect_socket_blocking(it->second);
            } catch (const std::exception&) {
                fd = -1; // the target is gone: the connection is closed on the host's side
            }
        }
        if (fd < 0) {
            ssh_channel_close(ch);
            ssh_channel_free(ch);
            continue;
        }
        detail::set_nonblocking(fd, true);
        Pipe p;
        p.channel = ch;
        p.local = fd;
        back_conns_.push_back(std::move(p));
    }
}

void SshSession::kill(const std::shared_ptr<RemoteWorker>& w)
{
    post([this, w] {
        if (w->pipe.done || w->kill_sent)
            return;
        w->kill_sent = true;
        ssh_set_blocking(s_, 1);
        ssh_channel_request_send_signal(w->pipe.channel, "KILL");
        // A worker also ends when its stdin closes, should the server not pass signals on.
        ssh_channel_send_eof(w->pipe.channel);
        ssh_set_blocking(s_, 0);
    });
}

void SshSession::pump()
{
    std::vector<pollfd> fds;
    while (!stopping_) {
        std::deque<std::function<void()>> tasks;
        {
            std::lock_guard g(tasks_m_);
            tasks.swap(tasks_);
        }
        for (auto& t : tasks)
            t();
        if (stopping_)
            break;
        // Everything the session has buffered is moved first: poll sees only the socket.
        for (auto& w : workers_)
            pump_worker(*w);
        for (auto& t : tunnels_) {
            accept_tunnel(t);
            pump_connections(t.conns);
        }
        accept_tunnels_back();
        pump_connections(back_conns_);
        if (ssh_is_connected(s_) == 0) {
            const std::string why = "lost the SSH connection to " + where_ + ": " + error();
            for (auto& w : workers_)
                end_worker(*w, why);
            for (auto& t : tunnels_)
                for (auto& c : t.conns)
                    ::shutdown(c.local, SHUT_RDWR);
            // Nothing more can happen on this session; wait to be stopped.
            pollfd p { wake_, POLLIN, 0 };
            ::poll(&p, 1, -1);
            std::uint64_t v;
            [[maybe_unused]] auto n = ::read(wake_, &v, sizeof v);
            continue;
        }
        fds.clear();
        fds.push_back({ ssh_get_fd(s_), POLLIN, 0 });
        fds.push_back({ wake_, POLLIN, 0 });
        for (auto& w : workers_)
            if (!w->pipe.done && !w->pipe.local_eof && w->pipe.pending.empty())
                fds.push_back({ w->pipe.local, POLLIN, 0 });
        for (auto& t : tunnels_) {
            fds.push_back({ t.listener, POLLIN, 0 });
            for (auto& c : t.conns)
                if (!c.local_eof && c.pending.empty())
                    fds.push_back({ c.local, POLLIN, 0 });
        }
        for (auto& c : back_conns_)
            if (!c.local_eof && c.pending.empty())
                fds.push_back({ c.local, POLLIN, 0 });
        bool pending = false;
        for (auto& c : back_conns_)
            pending |= !c.pending.empty();
        for (auto& w : workers_)
            pending |= !w->pipe.pending.empty();
        for (auto& t : tunnels_)
            for (auto& c : t.conns)
                pending |= !c.pending.empty();
        // Output waiting for the channel's window: look again soon (the window opens on a read).
        ::poll(fds.data(), fds.size(), pending ? 5 : 1000);
        // Packets for no open channel (a late close, a keep-alive, the server going away) are
        // read here; otherwise the socket would stay readable and this loop would spin.
        if (fds[0].revents && event_)
            ssh_event_dopoll(event_, 0);
        if (fds[1].revents) {
            std::uint64_t v;
            [[maybe_unused]] auto n = ::read(wake_, &v, sizeof v);
        }
    }
}

} // namespace weft::detail
