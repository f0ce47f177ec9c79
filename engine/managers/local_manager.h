#pragma once
// Starts weft-worker processes on this machine, hands them the cookie on stdin, forwards their
// output, and learns how each one ended from the OS (a pidfd), so exit reasons are exact.

#include "callback_list.h"
#include "process_runtime.h"
#include "weft/cluster.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace weft::detail {

class LocalManager final {
public:
    LocalManager(ProcessRuntime& rt, const ClusterOptions& opts, ClusterCallbacks& callbacks);
    ~LocalManager(); // kills and reaps anything still running

    std::vector<Pid> launch(int n, Threads threads);
    void remove(const std::vector<Pid>& pids, std::chrono::milliseconds timeout);
    [[nodiscard]] std::vector<WorkerInfo> info() const;
    // SIGKILL to a worker still running; false if `pid` was never one of ours.
    bool kill(Pid pid);

private:
    struct Worker;
    void start_worker(const std::shared_ptr<Worker>& w); // loop thread
    void fail_start(const std::shared_ptr<Worker>& w, const std::string& why); // loop thread
    kj::Promise<void> read_stream(std::shared_ptr<Worker> w, bool is_stdout);
    void on_line(const std::shared_ptr<Worker>& w, const std::string& line, bool is_stdout);
    void on_process_exit(const std::shared_ptr<Worker>& w);
    void finish_launch(const std::shared_ptr<Worker>& w, const std::string& error);
    [[nodiscard]] std::function<void(const std::string&)> log_fn() const;
    // Tells the cluster a worker's membership changed (starting, running, exiting, exited).
    void announce(const WorkerInfo& info);

    ProcessRuntime& rt_;
    ClusterOptions opts_;
    ClusterCallbacks& cb_;
    std::string worker_path_;
    mutable std::mutex m_;
    Pid next_pid_ = 2;
    std::map<Pid, std::shared_ptr<Worker>> workers_;
};

} // namespace weft::detail
