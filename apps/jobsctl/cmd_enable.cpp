// jobsctl enable|disable JOB...: sets `enabled` in the job files, changing nothing else.
#include "commands.hpp"
#include "job_folder.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>
#include <jobs/edit.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

namespace jobsctl {

namespace {

struct EnableOptions {
  JobFolder folder;
  std::vector<std::string> jobs;
  bool value = true;
};

// Edits one file; returns false (after printing why) when it could not.
bool set_in_file(const std::string& path, const EnableOptions& o) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  const auto format = path.ends_with(".json") ? jobs::FileFormat::json : jobs::FileFormat::yaml;
  auto edited = jobs::set_enabled(text, format, o.value, path);
  if (!edited) {
    print_error(edited.error());
    return false;
  }
  const char* state = o.value ? "enabled" : "disabled";
  if (*edited == text) {
    std::cout << path << ": already " << state << "\n";
    return true;
  }
  // The edit must read back as the same job with only `enabled` changed.
  const auto check = jobs::load_job_text(path, *edited, o.folder.load_options());
  if (!check.job || check.job->enabled != o.value) {
    std::cerr << "jobsctl: " << path << ": the edited file would not read back as " << state
              << "; left unchanged\n";
    return false;
  }
  auto written = jobs::write_file_atomically(path, *edited);
  if (!written) {
    print_error(written.error());
    return false;
  }
  std::cout << path << ": " << state << "\n";
  return true;
}

int run_enable(const EnableOptions& o) {
  const auto set = o.folder.load();
  bool ok = true;
  for (const auto& name : o.jobs) {
    std::string path = find_job_path(set, name);
    if (path.empty() && name.find('/') != std::string::npos) {
      path = name; // a file outside the folder
    }
    if (path.empty()) {
      std::cerr << "jobsctl: no job \"" << name << "\" in " << o.folder.dir
                << " (a file with errors can be named by its path)\n";
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
