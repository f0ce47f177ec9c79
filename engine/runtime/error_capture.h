#pragma once
// The one mapping between exceptions and error values: what a caught exception becomes on the
// wire (capture_current_exception) and, in weft/errors.h, what an error value is thrown as
// (throw_error_value). Any thread.

#include "weft/value.h"

#include <string>

namespace weft::detail {

// `v`, or (an error value) the typed exception it stands for, thrown (throw_error_value).
const Value& value_or_throw(const Value& v);

// "process 1" or "worker N", as messages name processes.
[[nodiscard]] std::string who(Pid pid);

// An error raised by the engine itself on process `self`.
[[nodiscard]] ErrorValue make_error(Pid self, std::string type, std::string message,
    ErrorKind kind = ErrorKind::Remote, std::string subject = {});

// The exception being handled as an error value; call inside a catch block. Weft's own typed
// exceptions keep their kind (and a RemoteException its captured error); anything else is a
// RemoteException-to-be with the exception's demangled type, raised on `self`.
[[nodiscard]] ErrorValue capture_current_exception(Pid self);

// The same for an exception that escaped kernel `kernel` on `self`, called by `caller`: a user's
// error gets the frames where it was thrown and a line naming the kernel, as Julia's
// CapturedException does. A pattern kernel (`internal`) runs a user's kernel, so its own name is
// left out and a missing kernel stays the caller's typed KernelNotFound.
[[nodiscard]] ErrorValue capture_kernel_exception(
    Pid self, const std::string& kernel, Pid caller, bool internal);

} // namespace weft::detail
