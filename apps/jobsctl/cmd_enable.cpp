// jobsctl enable|disable JOB...: sets `enabled` in the job files, changing nothing else.
#include "commands.hpp"
#include "daemon.hpp"
#include "job_folder.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>
#include <jobs/edit.hpp>

#include <iostream>

namespace jobsctl {

namespace {

struct EnableOptions {
  JobFolder folder;
  StateOption state;
  DaemonOption daemon;
  std::vector<std::string> jobs;
  bool value = true;
};

// Edits one file; returns false (after printing why) when it could not.
bool set_in_file(const std::string& path, const EnableOptions& o) {
  auto changed = jobs::set_enabled_in_file(path, o.value, o.folder.load_options());
  if (!changed) {
    print_error(changed.error());
    return false;
  }
  std::cout << path << ": " << (*changed ? "" : "already ") << (o.value ? "enabled" : "disabled")
            << "\n";
  return true;
}

// Through jobsd: the same edit, then a reload, audited. nullopt: the daemon does not use the
// folder, edit the files.
std::optional<int> enable_through_daemon(const EnableOptions& o) {
  auto d = connect(o.daemon);
  if (!d.client) {
    return std::nullopt;
  }
  auto status = d.client->call("status");
  if (!status || !status->ok() || !o.folder.is(status->result.value("jobs_dir", ""))) {
    return std::nullopt;
  }
  bool ok = true;
  for (const auto& name : o.jobs) {
    auto reply = d.client->call(o.value ? "enable" : "disable", {{"job", name}});
    if (!reply) {
      return report(reply.error());
    }
    if (!reply->ok()) {
      const int code = report(*reply);
      if (code == base::exit_code::denied) {
        return code;
      }
      ok = false;
      continue;
    }
    std::cout << reply->result["path"].get<std::string>() << ": "
              << (reply->result["changed"].get<bool>() ? "" : "already ")
              << (o.value ? "enabled" : "disabled") << "\n";
  }
  return ok ? base::exit_code::ok : base::exit_code::usage;
}

int run_enable(const EnableOptions& o) {
  if (const auto done = enable_through_daemon(o)) {
    return *done;
  }
  const auto set = o.folder.load();
  bool ok = true;
  for (const auto& name : o.jobs) {
    std::string path = find_job_path(set, name);
    if (path.empty() && name.find('/') != std::string::npos) {
      path = name; // a file outside the folder
    }
    if (path.empty()) {
      std::cerr << "jobsctl: "
                << no_job(o.folder, set, name, " (a file with errors can be named by its path)")
                << "\n";
      ok = false;
      continue;
    }
    ok &= set_in_file(path, o);
  }
  return ok ? base::exit_code::ok : base::exit_code::usage;
}

Run setup(CLI::App& command, bool value) {
  auto o = std::make_shared<EnableOptions>();
  o->value = value;
  command.add_option("jobs", o->jobs, "Job ids or files")->required();
  o->folder.add_option(command);
  o->state.add_option(command);
  o->daemon.add_option(command);
  return [o] { return run_enable(*o); };
}

} // namespace

Run setup_enable(CLI::App& command) {
  return setup(command, true);
}
Run setup_disable(CLI::App& command) {
  return setup(command, false);
}

} // namespace jobsctl
