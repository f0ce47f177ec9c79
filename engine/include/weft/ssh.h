#pragma once
// Workers on other machines over SSH, as Julia's SSHManager, with what its users keep asking
// for: a host that cannot be reached fails within connect_timeout with a clear error, host keys
// are checked (nothing accepted silently), the cookie goes over the SSH channel's stdin (never
// in a command line), by default no port is opened on the host (the master reaches each worker
// through an SSH tunnel to the host's loopback), and no worker outlives its master: a worker
// ends when its SSH channel closes, which the master's exit (even a SIGKILL) does.
//
//   weft::SshSpec s;
//   s.host = "node7";                 // or a ~/.ssh/config alias
//   s.count = 4;
//   cluster.addprocs(s);

#include "weft/cluster.h"
#include "weft/cluster_manager.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weft {

enum class SshAuth : std::uint8_t {
    Auto, // the agent, then key_file (if given), then the default keys and IdentityFile
    Agent, // the agent only
    KeyFile, // key_file only
};

enum class SshRoute : std::uint8_t {
    Tunnel, // workers listen on the host's loopback; the master reaches them through SSH
    Direct, // workers listen on the host's address; the master connects to it directly
};

// An unknown host key, as the user is asked about it.
struct HostKeyQuestion {
    std::string host; // as given (an alias is resolved: this is what was connected to)
    int port = 22;
    std::string key_type; // "ssh-ed25519"
    std::string fingerprint; // "SHA256:..."
    std::string known_hosts; // the file it is recorded in if accepted
};

struct SshSpec {
    std::string host; // a name, an address or a ~/.ssh/config alias
    int port = 0; // 0: the config's Port, else 22
    std::string user; // "": the config's User, else this user
    SshAuth auth = SshAuth::Auto;
    std::string key_file; // a private key (with SshAuth::KeyFile, or tried by Auto)
    // Asked for a key file's passphrase when it is encrypted; "" gives up on that key.
    std::function<std::string(const std::string& key_file)> passphrase;
    int count = 1; // workers on this host
    Threads threads;
    std::string worker_path = "weft-worker"; // on the host
    // Upload this machine's weft-worker and libweft (and every kernel library loaded) over SFTP
    // into deploy_dir on the host first; a file whose SHA-256 is already there is not sent
    // again. The host still needs Weft's system libraries (capnp, OpenSSL, Boost, libssh).
    bool deploy = false;
    std::string deploy_dir = ".cache/weft/deploy"; // relative: to the user's home on the host
    SshRoute route = SshRoute::Tunnel;
    std::chrono::milliseconds connect_timeout { 10000 }; // connect, key exchange and login
    std::string known_hosts; // "": ~/.ssh/known_hosts
    std::string ssh_config; // "": ~/.ssh/config and /etc/ssh/ssh_config; "none": no file
    // Asked about a host whose key is not in known_hosts: true accepts it (it is recorded).
    // Unset, such a host is refused. A changed key is always refused.
    std::function<bool(const HostKeyQuestion&)> accept_unknown_host;
};

struct SshDeployCounters;

// Starts workers over SSH on one or more hosts (logged in in parallel). Each host gets its
// spec's `count` workers; addprocs(manager, n) with another n spreads n over the hosts in turn.
class SshManager final : public ClusterManager {
public:
    explicit SshManager(SshSpec spec);
    explicit SshManager(std::vector<SshSpec> specs);
    ~SshManager() override;
    [[nodiscard]] std::vector<LaunchOutcome> launch(
        const std::vector<LaunchRequest>& requests) override;
    [[nodiscard]] std::string describe() const override;
    // The workers its specs ask for in all.
    [[nodiscard]] int count() const;
    // Files this manager has deployed, and those already on their host (same SHA-256).
    struct DeployStats {
        int uploaded = 0;
        int already_there = 0;
        std::uint64_t bytes_uploaded = 0;
    };
    [[nodiscard]] DeployStats deploy_stats() const;

private:
    std::vector<SshSpec> specs_;
    std::shared_ptr<SshDeployCounters> counters_;
};

// "user@host:port" as a message names an SSH destination.
[[nodiscard]] std::string ssh_destination(const SshSpec& s);

} // namespace weft
