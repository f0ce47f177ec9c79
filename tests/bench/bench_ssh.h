#pragma once
// The ssh suite of weft-bench (included by weft_bench.cpp, inside its namespace): a real OpenSSH
// sshd of its own on 127.0.0.1, and OpenSSH's own client for the floors.
//
//   ssh.startup_8: addprocs of 8 SSH workers to all ready, against 8 parallel `ssh host true`.
//   latency.remotecall_fetch.ssh_tunnel: a round trip through the tunnel, against a 64-byte
//   ping-pong through an `ssh -L` forward to an echo server, on the same sshd.

// Its system headers are weft_bench.cpp's (this file is included inside a namespace).

// sshd on a free port with its own keys and config in a temporary directory.
struct BenchSshd {
    std::string dir;
    int port = 0;
    pid_t pid = -1;
    std::string user;
    std::thread drain_;

    static void sh(const std::string& cmd)
    {
        if (std::system(cmd.c_str()) != 0)
            throw std::runtime_error("failed: " + cmd);
    }
    static pid_t spawn(const std::vector<std::string>& args, int stderr_fd = -1)
    {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        if (stderr_fd >= 0)
            posix_spawn_file_actions_adddup2(&fa, stderr_fd, 2);
        else
            posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        pid_t p = -1;
        const int rc = ::posix_spawnp(&p, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0)
            throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
        return p;
    }

    BenchSshd()
    {
        char tmpl[] = "/tmp/weft-bench-sshd-XXXXXX";
        dir = ::mkdtemp(tmpl);
        const passwd* pw = ::getpwuid(::geteuid());
        user = pw ? pw->pw_name : "root";
        ::mkdir("/run/sshd", 0755);
        sh("ssh-keygen -q -t ed25519 -N '' -f " + dir + "/host_key");
        sh("ssh-keygen -q -t ed25519 -N '' -f " + dir + "/user_key");
        sh("cp " + dir + "/user_key.pub " + dir + "/authorized_keys");
        port = weft::test::free_port();
        std::ofstream(dir + "/sshd_config")
            << "Port " << port << "\nListenAddress 127.0.0.1\nHostKey " << dir
            << "/host_key\nAuthorizedKeysFile " << dir << "/authorized_keys\nPidFile " << dir
            << "/sshd.pid\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
               "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
               "AllowTcpForwarding yes\nMaxSessions 64\nMaxStartups 64\nLogLevel INFO\n";
        std::ifstream pub(dir + "/host_key.pub");
        std::string type, key;
        pub >> type >> key;
        std::ofstream(dir + "/known_hosts")
            << "[127.0.0.1]:" << port << " " << type << " " << key << "\n";
        int p[2];
        if (::pipe(p) != 0)
            throw std::runtime_error("pipe");
        pid = spawn({ "/usr/sbin/sshd", "-D", "-e", "-f", dir + "/sshd_config" }, p[1]);
        ::close(p[1]);
        // Ready once it says it listens; what it logs afterwards is drained.
        if (!read_until(p[0], "Server listening on"))
            throw std::runtime_error("sshd did not start");
        drain_ = std::thread([r = p[0]] {
            char buf[4096];
            while (::read(r, buf, sizeof buf) > 0) { }
            ::close(r);
        });
    }
    // Reads `fd` until `marker` appears (true) or it ends (false); what follows is left unread.
    static bool read_until(int fd, const std::string& marker)
    {
        std::string seen;
        char c;
        while (::read(fd, &c, 1) == 1) {
            seen += c;
            if (seen.find(marker) != std::string::npos)
                return true;
        }
        return false;
    }
    ~BenchSshd()
    {
        ::kill(pid, SIGTERM);
        int st;
        ::waitpid(pid, &st, 0);
        if (drain_.joinable())
            drain_.join();
        std::filesystem::remove_all(dir);
    }
    [[nodiscard]] std::vector<std::string> ssh_args() const
    {
        return { "ssh", "-q", "-p", std::to_string(port), "-i", dir + "/user_key", "-o",
            "UserKnownHostsFile=" + dir + "/known_hosts", "-o", "StrictHostKeyChecking=yes", "-o",
            "BatchMode=yes", "-F", "none", user + "@127.0.0.1" };
    }
    [[nodiscard]] weft::SshSpec spec(int count) const
    {
        weft::SshSpec s;
        s.host = "127.0.0.1";
        s.port = port;
        s.user = user;
        s.auth = weft::SshAuth::KeyFile;
        s.key_file = dir + "/user_key";
        s.known_hosts = dir + "/known_hosts";
        s.ssh_config = "none";
        s.count = count;
        s.worker_path = WEFT_WORKER_PATH;
        return s;
    }
};

void ssh(std::vector<Figure>& out, const Options& o)
{
    BenchSshd sshd;
    const int reps = o.quick ? 1 : 5;
    // Startup: floor and value alternate, each the median of its runs.
    std::vector<double> floors, values;
    for (int rep = 0; rep < reps; ++rep) {
        {
            const auto t0 = Clock::now();
            std::vector<pid_t> ps;
            for (int i = 0; i < 8; ++i) {
                auto args = sshd.ssh_args();
                args.emplace_back("true");
                ps.push_back(BenchSshd::spawn(args));
            }
            for (pid_t p : ps) {
                int st = 0;
                ::waitpid(p, &st, 0);
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                    throw std::runtime_error("ssh true failed (the floor)");
            }
            floors.push_back(seconds(Clock::now() - t0));
        }
        auto opts = cluster_options(weft::Transport::Unix);
        opts.kernel_libraries.clear();
        weft::Cluster c(opts);
        const auto t0 = Clock::now();
        const auto pids = c.addprocs(sshd.spec(8));
        for (auto p : pids) // ready for calls means a call answers
            (void)c.remotecall_fetch("myid", p);
        values.push_back(seconds(Clock::now() - t0));
    }
    out.push_back({ "ssh.startup_8", median(values), "s", median(floors), "ratio <= 1.5", true });

    // Latency through the tunnel against a raw ping-pong through OpenSSH's own forward.
    const int n = o.quick ? 1000 : 10000;
    const int echo_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(echo_listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(echo_listener, 4);
    ::getsockname(echo_listener, reinterpret_cast<sockaddr*>(&a), &len);
    const int echo_port = ntohs(a.sin_port);
    const pid_t echo_pid = ::fork();
    if (echo_pid == 0) {
        const int fd = ::accept(echo_listener, nullptr, nullptr);
        char buf[64];
        for (;;) {
            ssize_t got = 0;
            while (got < 64) {
                const ssize_t r = ::read(fd, buf + got, 64 - static_cast<std::size_t>(got));
                if (r <= 0)
                    ::_exit(0);
                got += r;
            }
            write_full(fd, buf, 64);
        }
    }
    ::close(echo_listener);
    const int fwd_port = weft::test::free_port();
    auto args = sshd.ssh_args();
    args.insert(args.begin() + 1,
        { "-N", "-L", std::to_string(fwd_port) + ":127.0.0.1:" + std::to_string(echo_port) });
    const pid_t fwd = BenchSshd::spawn(args);
    // ssh says nothing when its forward listens: the benchmark (not a test) retries the
    // connection until it does.
    int fd = -1;
    for (;;) {
        try {
            fd = weft::detail::connect_socket_blocking("tcp:127.0.0.1:" + std::to_string(fwd_port));
            break;
        } catch (const std::exception&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    weft::detail::tune_socket(fd, true);
    auto opts = cluster_options(weft::Transport::Unix);
    opts.kernel_libraries.clear();
    weft::Cluster c(opts);
    const auto pid = c.addprocs(sshd.spec(1)).at(0);
    char msg[64] = {};
    std::vector<double> floor_us, value_us;
    for (int i = 0; i < n / 5; ++i) { // warm-up
        write_full(fd, msg, 64);
        read_full(fd, msg, 64);
        (void)c.remotecall_fetch("myid", pid);
    }
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < n / 5; ++i) {
            const auto t0 = Clock::now();
            write_full(fd, msg, 64);
            read_full(fd, msg, 64);
            floor_us.push_back(seconds(Clock::now() - t0) * 1e6);
        }
        for (int i = 0; i < n / 5; ++i) {
            const auto t0 = Clock::now();
            (void)c.remotecall_fetch("myid", pid);
            value_us.push_back(seconds(Clock::now() - t0) * 1e6);
        }
    }
    ::close(fd);
    ::kill(fwd, SIGTERM);
    ::kill(echo_pid, SIGTERM);
    int st;
    ::waitpid(fwd, &st, 0);
    ::waitpid(echo_pid, &st, 0);
    out.push_back({ "latency.remotecall_fetch.ssh_tunnel", median(value_us), "us", median(floor_us),
        "ratio <= 1.5", true });
}
