#include "daemon.hpp"

#include "output.hpp"

#include <base/exit_codes.hpp>

#include <iostream>

namespace jobsctl {

void DaemonOption::add_option(CLI::App& command) {
  command.add_option("--socket", socket, "jobsd's control socket (default: STATE_DIR/jobsd.sock)")
      ->envname("JOBS_SOCKET");
}

std::string DaemonOption::path(const StateOption& state) const {
  return socket.empty() ? state.dir + "/jobsd.sock" : socket;
}

Daemon connect(const DaemonOption& option, const StateOption& state) {
  Daemon d;
  auto client = ipc::Client::connect(option.path(state));
  if (client) {
    d.client = std::move(*client);
  } else {
    d.error = client.error();
    d.not_running = ipc::Client::not_running(d.error);
  }
  return d;
}

std::optional<ipc::Client> require_daemon(const DaemonOption& option, const StateOption& state) {
  Daemon d = connect(option, state);
  if (!d.client) {
    std::cerr << "jobsctl: " << d.error.message << "\n";
  }
  return std::move(d.client);
}

int report(const ipc::Reply& reply) {
  std::cerr << "jobsctl: " << reply.message << "\n";
  if (reply.code == ipc::code::denied) {
    return base::exit_code::denied;
  }
  if (reply.code == ipc::code::conflict) {
    return base::exit_code::job_failed;
  }
  if (reply.code == ipc::code::internal) {
    return base::exit_code::internal;
  }
  return base::exit_code::usage;
}

int report(const base::Error& error) {
  std::cerr << "jobsctl: " << error.message << "\n";
  return base::exit_code::unreachable;
}

} // namespace jobsctl
