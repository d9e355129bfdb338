#pragma once

#include <jobs/folder.hpp>

#include <CLI/CLI.hpp>
#include <string>

namespace jobsctl {

// The --jobs-dir option every verb that works on job files shares: the flag, else JOBS_DIR,
// else ./jobs.
struct JobFolder {
  std::string dir = "jobs";

  void add_option(CLI::App& command);
  jobs::LoadOptions load_options() const;
  // Loads the whole folder.
  jobs::JobSet load() const;
};

// Prints "jobsctl: N files have errors; run jobsctl validate" when some do (for verbs that
// show the good jobs anyway).
void report_bad_files(const jobs::JobSet& set);

} // namespace jobsctl
