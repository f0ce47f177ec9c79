#pragma once
// How workers come to exist: a ClusterManager starts worker processes somewhere (this machine,
// another over SSH, a batch queue) and hands each to the cluster as a WorkerProcess. The cluster
// does the rest the same way for every manager: it writes the cookie on the worker's stdin,
// reads the address the worker announces on stdout, connects (through `reach`), forwards the
// rest of its output as "From worker N:", and learns of its end from `ended`.
//
// A third manager, e.g. for a batch scheduler, needs no change to the runtime: subclass
// ClusterManager, start `weft-worker` with worker_arguments(request) on a node (the job script's
// command line), and return a WorkerProcess whose descriptors carry the job's standard streams
// (a pipe, or a socket pair fed by a thread reading the scheduler's output files) and whose
// `ended` becomes readable when the job ends. Then `cluster.addprocs(manager, n)`.

#include "weft/cluster.h"

#include <memory>
#include <string>
#include <vector>

namespace weft {

// One worker the cluster asks a manager for.
struct LaunchRequest {
    Pid pid = 0; // the id it will have
    Threads threads;
    std::string bind = "127.0.0.1"; // where it listens (a manager may choose another)
    bool unix_only = false; // listen on a Unix socket only (workers on the master's host)
    std::string local_worker_path; // weft-worker on this machine (what a manager may deploy)
};

// The command-line arguments of weft-worker for `r` (after the program's path).
[[nodiscard]] std::vector<std::string> worker_arguments(const LaunchRequest& r);

// A started worker process, as its manager knows it. Methods other than streams() may be called
// from any thread, and after the process has ended.
class WorkerProcess {
public:
    struct Streams {
        int in = -1; // its stdin: the cookie line goes here; closing it tells the worker to end
        int out = -1; // its stdout: the first line is its address, the rest is its output
        int err = -1; // its stderr
        int ended = -1; // becomes readable (or hung up) once the process has ended
    };
    virtual ~WorkerProcess() = default;
    // Called once, right after launch: the cluster owns (and closes) these descriptors then.
    [[nodiscard]] virtual Streams streams() = 0;
    // Where it runs, as a user names the machine ("localhost", "node7").
    [[nodiscard]] virtual std::string host() const = 0;
    // Its process id on that host, or -1 when the manager cannot know it.
    [[nodiscard]] virtual long os_pid() const { return -1; }
    // Why it ended, once `ended` is readable: "exited with code 0", "killed by signal 9 (KILL)".
    [[nodiscard]] virtual std::string exit_reason() = 0;
    // The address this process connects to, from the ones the worker announced (its TCP and
    // Unix addresses; either may be ""): the same, or e.g. the local end of a tunnel.
    [[nodiscard]] virtual std::string reach(
        const std::string& tcp, const std::string& unix_address, Transport preferred)
        = 0;
    // Ends it now (SIGKILL or the manager's equivalent). Harmless once it has ended.
    virtual void kill() = 0;
    // An address on the worker's host at which `address_here` (one this machine connects to) is
    // reached: the same (this machine), or e.g. the end of a tunnel back through the manager's
    // connection. "" when there is none. Called on the cluster's I/O thread: quick, or via a
    // thread of the manager's own.
    [[nodiscard]] virtual std::string reach_back(const std::string& address_here)
    {
        return address_here;
    }
    // Where a file of this machine (a kernel library) is on the worker's host: the same path,
    // or where the manager has put a copy. Throws naming what failed.
    [[nodiscard]] virtual std::string stage_file(const std::string& local_path)
    {
        return local_path;
    }
};

// One outcome per request, in order: a process, or why it could not be started (naming the
// host and what failed).
struct LaunchOutcome {
    std::unique_ptr<WorkerProcess> process;
    std::string error;
    std::string host; // where it was to run, when it failed ("": this machine)
};

class ClusterManager {
public:
    virtual ~ClusterManager() = default;
    // Starts the workers `requests` name, in parallel where it can. Runs on the thread that
    // called addprocs (it may block, e.g. on logins); never on the cluster's I/O thread.
    [[nodiscard]] virtual std::vector<LaunchOutcome> launch(
        const std::vector<LaunchRequest>& requests)
        = 0;
    // What it is, for messages: "local", "ssh root@node7:22".
    [[nodiscard]] virtual std::string describe() const = 0;
};

// Starts weft-worker processes on this machine (what Cluster::addprocs(n) uses).
class LocalManager final : public ClusterManager {
public:
    // `worker_path` "": $WEFT_WORKER, else weft-worker beside this program, else on PATH.
    explicit LocalManager(std::string worker_path = {});
    [[nodiscard]] std::vector<LaunchOutcome> launch(
        const std::vector<LaunchRequest>& requests) override;
    [[nodiscard]] std::string describe() const override { return "local"; }
    [[nodiscard]] const std::string& worker_path() const { return worker_path_; }

private:
    std::string worker_path_;
};

} // namespace weft
