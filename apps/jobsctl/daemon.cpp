#include "daemon.hpp"

#include "daemon_config.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>

#include <iostream>

namespace jobsctl {

void DaemonOption::add_option(CLI::App& command) {
  command.add_option("--socket", flags().socket,
                     "jobsd's control socket (default: JOBS_SOCKET, the config's socket, "
                     "STATE_DIR/jobsd.sock)");
  add_config_option(command);
}

const std::string& DaemonOption::path() const {
  return settings().socket.value;
}

Daemon connect(const DaemonOption& option) {
  Daemon d;
  auto client = ipc::Client::connect(option.path());
  if (client) {
    d.client = std::move(*client);
  } else {
    d.error = client.error();
    d.not_running = ipc::Client::not_running(d.error);
  }
  return d;
}

std::optional<ipc::Client> require_daemon(const DaemonOption& option) {
  Daemon d = connect(option);
  if (!d.client) {
    std::cerr << "jobsctl: " << d.error.message << "\n";
  }
  return std::move(d.client);
}

std::optional<ipc::Json> ask_if_running(const DaemonOption& option, const std::string& cmd,
                                        const ipc::Json& args) {
  auto d = connect(option);
  if (!d.client) {
    return std::nullopt;
  }
  auto reply = d.client->call(cmd, args);
  if (!reply) {
    throw Exit{report(reply.error())};
  }
  if (reply->code == ipc::code::denied || reply->code == ipc::code::unknown_command) {
    return std::nullopt;
  }
  if (!reply->ok()) {
    throw Exit{report(*reply)};
  }
  return std::move(reply->result);
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

std::optional<ipc::Json> ask(const DaemonOption& option, const std::string& cmd,
                             const ipc::Json& args, int& code) {
  auto client = require_daemon(option);
  if (!client) {
    code = base::exit_code::unreachable;
    return std::nullopt;
  }
  auto reply = client->call(cmd, args);
  if (!reply) {
    code = report(reply.error());
    return std::nullopt;
  }
  if (!reply->ok()) {
    code = report(*reply);
    return std::nullopt;
  }
  return std::move(reply->result);
}

} // namespace jobsctl
