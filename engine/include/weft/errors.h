#pragma once
// The exceptions Weft's public API throws; they mirror Julia's Distributed exceptions.

#include "weft/value.h"

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace weft {

// Base of every Weft exception.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A kernel failed on another process: the captured error's type, message and backtrace.
class RemoteException : public Error {
public:
    explicit RemoteException(ErrorValue captured);
    [[nodiscard]] Pid origin() const { return captured_.origin; }
    [[nodiscard]] const std::string& type() const { return captured_.type; }
    [[nodiscard]] const std::string& remote_message() const { return captured_.message; }
    [[nodiscard]] const std::vector<std::string>& backtrace() const { return captured_.backtrace; }
    [[nodiscard]] const ErrorValue& captured() const { return captured_; }

private:
    ErrorValue captured_;
};

// The process a call needed has exited (or was removed); `reason` says how it ended.
class ProcessExitedException : public Error {
public:
    ProcessExitedException(Pid pid, std::string reason);
    [[nodiscard]] Pid pid() const { return pid_; }
    [[nodiscard]] const std::string& reason() const { return reason_; }

private:
    Pid pid_;
    std::string reason_;
};

// A call named a process id that never existed in this cluster.
class UnknownProcessError : public Error {
public:
    explicit UnknownProcessError(Pid pid);
    [[nodiscard]] Pid pid() const { return pid_; }

private:
    Pid pid_;
};

// A kernel is not loaded on the process that was asked to run it.
class KernelNotFound : public Error {
public:
    KernelNotFound(std::string kernel, Pid pid);
    [[nodiscard]] const std::string& kernel() const { return kernel_; }
    [[nodiscard]] Pid pid() const { return pid_; }

private:
    std::string kernel_;
    Pid pid_;
};

// An operation on a closed channel, or on an object in the wrong state.
class InvalidStateException : public Error {
public:
    using Error::Error;
};

// The call was interrupted (Cluster::interrupt), like Julia's InterruptException. Thrown by
// check_interrupt() inside the kernel.
class InterruptException : public Error {
public:
    InterruptException()
        : Error("interrupted")
    {
    }
};

// Connecting, handshaking or starting a worker failed.
class ConnectionError : public Error {
public:
    using Error::Error;
};

// Several calls failed at once (everywhere on several processes), like Julia's
// CompositeException: one entry per failing process, each its own typed exception.
class CompositeException : public Error {
public:
    struct Entry {
        Pid pid = 0;
        std::exception_ptr error;
        std::string message;
    };
    explicit CompositeException(std::vector<Entry> entries);
    [[nodiscard]] const std::vector<Entry>& entries() const { return entries_; }

private:
    std::vector<Entry> entries_;
};

// Turns an error value received from a process into the matching typed exception and throws it.
[[noreturn]] void throw_error_value(const ErrorValue& e);

} // namespace weft
