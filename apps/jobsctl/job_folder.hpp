#pragma once

#include <jobs/folder.hpp>

#include <CLI/CLI.hpp>
#include <string>

namespace jobsctl {

// The --jobs-dir option every verb that works on job files shares: the flag, else JOBS_DIR,
// else ./jobs.
struct JobFolder {
  std::string dir = "jobs";
  CLI::Option* option = nullptr;

  void add_option(CLI::App& command);
  // Whether the folder was named (--jobs-dir or JOBS_DIR) rather than the default.
  bool given() const { return option != nullptr && option->count() > 0; }
  // Whether the folder is `other` (a running daemon's folder), or was not named at all.
  bool is(const std::string& other) const;
  jobs::LoadOptions load_options() const;
  // Loads the whole folder.
  jobs::JobSet load() const;
};

// The file of the job named by `name`: its id, the path of one of the set's files, or the name
// of a file with errors. Empty when none matches.
std::string find_job_path(const jobs::JobSet& set, const std::string& name);

// Prints "jobsctl: N files have errors; run jobsctl validate" when some do (for verbs that
// show the good jobs anyway).
void report_bad_files(const jobs::JobSet& set);

} // namespace jobsctl
