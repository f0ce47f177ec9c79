#pragma once
// Where a kernel library's static initialisers are tried before any real process loads it: a
// child forked from a small helper process (weft-worker --check-libraries), started once per
// master process. Forking the master itself costs far more: its page tables (the desktop app's
// are large) are copied, and every page either side then writes is copied again. The child's
// verdict is the same either way, since it loads the very file the master holds open.

#include <optional>
#include <string>

namespace weft::detail {

// Starts the helper from `worker_path` unless one runs. Returns at once: the helper's own
// start-up overlaps whatever the master does next, and the first check waits for it.
void start_library_checker(const std::string& worker_path);

// Checks the library open as `fd` in a child of the helper: "" when its initialisers ran, else
// why not. nullopt when there is no helper (none could be started, or it ended twice in a row):
// the caller then checks in a child of its own.
[[nodiscard]] std::optional<std::string> check_in_helper(int fd);

// The master has finished loading: the helper may fork the next check's child now (it forks
// none while a load runs, which would take a core from it).
void library_checker_idle();

// The helper's life (weft-worker --check-libraries): serves the checks the master sends on
// `fd` until the master closes it. Returns the exit code.
int run_library_checker(int fd);

} // namespace weft::detail
