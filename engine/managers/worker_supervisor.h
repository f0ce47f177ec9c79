#pragma once
// Looks after every worker a ClusterManager started, the same way whatever started it: hands it
// the cookie on stdin, reads the address it announces, connects, forwards its output, learns of
// its end from its `ended` descriptor (so exit reasons are exact), and stops it on rmprocs.

#include "callback_list.h"
#include "process_runtime.h"
#include "weft/cluster.h"
#include "weft/cluster_manager.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace weft::detail {

class WorkerSupervisor final {
public:
    WorkerSupervisor(ProcessRuntime& rt, const ClusterOptions& opts, ClusterCallbacks& callbacks);
    ~WorkerSupervisor(); // kills and waits for anything still running

    // Starts `n` workers with `manager` and returns those that joined; throws ConnectionError
    // naming each that did not (the others stay).
    std::vector<Pid> launch(ClusterManager& manager, int n, Threads threads);
    void remove(const std::vector<Pid>& pids, std::chrono::milliseconds timeout);
    [[nodiscard]] std::vector<WorkerInfo> info() const;
    // Ends a worker still running at once; false if `pid` was never one of ours.
    bool kill(Pid pid);
    // Where a file of this machine is on `pid`'s host (copied there first by a manager that
    // deploys). Throws naming what failed.
    std::string stage_file(Pid pid, const std::string& path);
    // Whether `pid` runs on this machine (so this machine's checks hold for it).
    [[nodiscard]] bool on_this_host(Pid pid) const;
    void set_clock(Pid pid, const ClockEstimate& c);

private:
    struct Worker;
    [[nodiscard]] std::shared_ptr<Worker> find(Pid pid) const;
    void start_worker(const std::shared_ptr<Worker>& w); // loop thread
    void fail_start(const std::shared_ptr<Worker>& w, const std::string& why); // loop thread
    kj::Promise<void> read_stream(std::shared_ptr<Worker> w, bool is_stdout);
    void on_line(const std::shared_ptr<Worker>& w, const std::string& line, bool is_stdout);
    void on_address_line(const std::shared_ptr<Worker>& w, const std::string& line);
    void on_process_exit(const std::shared_ptr<Worker>& w);
    void finish_launch(const std::shared_ptr<Worker>& w, const std::string& error);
    [[nodiscard]] std::function<void(const std::string&)> log_fn() const;
    // Tells the cluster a worker's membership changed (starting, running, exiting, exited).
    void announce(const WorkerInfo& info);

    // Where each worker is and how the master reaches it, for the mesh's routes (own lock: the
    // mesh asks under its lock, on the I/O thread).
    struct Place {
        std::string host; // "localhost" for this machine
        std::string reached; // the address the master connects to
        bool tunnelled = false; // `reached` is a tunnel's end on this machine
        WorkerProcess* process = nullptr; // lives as long as this supervisor
        std::map<Pid, std::string> via; // peers it reaches back through the master
    };
    // Tunnels back through the master for `pid` and every worker on another host that cannot
    // reach the other directly. Loop thread.
    void open_routes(Pid pid);
    PeerAddress route(Pid receiver, const PeerAddress& peer) const;
    mutable std::mutex places_m_;
    std::map<Pid, Place> places_;

    ProcessRuntime& rt_;
    ClusterOptions opts_;
    ClusterCallbacks& cb_;
    mutable std::mutex m_;
    Pid next_pid_ = 2;
    std::map<Pid, std::shared_ptr<Worker>> workers_;
};

} // namespace weft::detail
