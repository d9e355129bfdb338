#pragma once

#include <jobs/folder.hpp>

#include <CLI/CLI.hpp>
#include <string>

namespace jobsctl {

// The --jobs-dir option every verb that works on job files shares: the folder jobsd uses (the
// flag, JOBS_DIR, the configuration's jobs_dir, the default; daemon_config.hpp).
struct JobFolder {
  // --jobs-dir and --config.
  void add_option(CLI::App& command);
  const std::string& dir() const;
  // Whether the folder is `other` (a running daemon's folder), or was not named (flag or
  // environment) at all.
  bool is(const std::string& other) const;
  // The daemon's: its default zone for jobs without `timezone`, and whether it runs as root.
  jobs::LoadOptions load_options() const;
  // Loads the whole folder. One that does not exist is printed as an error (with where its name
  // came from) and throws Exit{2}.
  jobs::JobSet load() const;
};

// The file of the job named by `name`: its id, the path of one of the set's files, or the name
// of a file with errors. Empty when none matches.
std::string find_job_path(const jobs::JobSet& set, const std::string& name);

// The names `find_job_path` knows: the jobs' ids and the names of the files with errors.
std::vector<std::string> job_names(const jobs::JobSet& set);

// What to say of a name that `find_job_path` finds no file for: `no job "nightly-reprot" in DIR;
// did you mean "nightly-report"?` (the nearest of the folder's ids and of the names of its files
// with errors), else `no job "x" in DIR` and `otherwise`.
std::string no_job(const JobFolder& folder, const jobs::JobSet& set, const std::string& name,
                   std::string_view otherwise = {});

// Prints "jobsctl: N files have errors; run jobsctl validate" when some do (for verbs that
// show the good jobs anyway).
void report_bad_files(const jobs::JobSet& set);

} // namespace jobsctl
