// A master in a process of its own, for the orphan test: starts 3 SSH workers on the test's
// sshd, prints their pids on that host and "ready", then waits to be killed.
//   ssh_master PORT KEY_FILE KNOWN_HOSTS WORKER_PATH HOST

#include "sshd_fixture.h"
#include "weft/weft.h"

#include <cstdio>
#include <unistd.h>

int main(int argc, char** argv)
{
    if (argc != 6) {
        std::fprintf(stderr, "usage: ssh_master PORT KEY_FILE KNOWN_HOSTS WORKER_PATH HOST\n");
        return 2;
    }
    weft::ClusterOptions o;
    o.worker_path = argv[4];
    weft::Cluster c(o);
    weft::SshSpec s;
    s.host = argv[5];
    s.port = std::atoi(argv[1]);
    s.user = weft::test::this_user();
    s.auth = weft::SshAuth::KeyFile;
    s.key_file = argv[2];
    s.known_hosts = argv[3];
    s.ssh_config = "none";
    s.worker_path = argv[4];
    s.count = 3;
    for (weft::Pid p : c.addprocs(s))
        for (auto& w : c.worker_info())
            if (w.pid == p)
                std::printf("%d ", w.os_pid);
    std::printf("ready\n");
    std::fflush(stdout);
    for (;;)
        ::pause();
}
