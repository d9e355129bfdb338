#pragma once

// Talking to jobsd from jobsctl: the --socket option, connecting, and the exit code and message
// of an error reply.

#include "state.hpp"

#include <ipc/client.hpp>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace jobsctl {

// The --socket option of the verbs that talk to jobsd: the daemon's socket (the flag,
// JOBS_SOCKET, the configuration's socket, jobsd.sock in the state folder; daemon_config.hpp).
struct DaemonOption {
  // --socket and --config.
  void add_option(CLI::App& command);
  const std::string& path() const;
};

// A connection to jobsd, or why there is none.
struct Daemon {
  std::optional<ipc::Client> client;
  bool not_running = false; // nothing listens on the socket
  base::Error error;        // the reason, when there is no client
};

Daemon connect(const DaemonOption& option);

// For verbs that need the daemon: the client, or (after printing the reason) nothing;
// `exit_code` is then unreachable (3).
std::optional<ipc::Client> require_daemon(const DaemonOption& option);

// For verbs that need the daemon: jobsd's result for `cmd`, or nothing once the reason is
// printed and `code` set to the exit code.
std::optional<ipc::Json> ask(const DaemonOption& option, const std::string& cmd,
                             const ipc::Json& args, int& code);

// For read verbs that can read the store themselves: jobsd's result for `cmd`, or nothing when
// jobsd does not answer, refuses (not a reader) or does not know `cmd` (a jobsd older than this
// jobsctl, not yet restarted after an upgrade), and the caller reads the store. Another error
// reply is printed and throws Exit with its code.
std::optional<ipc::Json> ask_if_running(const DaemonOption& option, const std::string& cmd,
                                        const ipc::Json& args);

// Prints jobsd's reply to reload: "reloaded: 3 jobs from 4 files (1 read again, 0 removed) in
// 0.01s", then the files' errors and those whose last good version keeps running, to standard
// error.
void print_reload(const ipc::Json& result);

// Prints "jobsctl: MESSAGE" for an error reply and returns its exit code: 2 for invalid
// requests and unknown jobs, 1 for conflicts, 77 when denied, 70 for the daemon's bugs.
int report(const ipc::Reply& reply);

// Prints a transport error (the daemon went away) and returns 3.
int report(const base::Error& error);

} // namespace jobsctl
