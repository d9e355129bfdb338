#pragma once

// The job file `jobsctl new` writes, shared with `jobsctl edit --new`, which opens it in the
// editor before writing it.

#include "job_folder.hpp"

#include <CLI/CLI.hpp>
#include <string>

namespace jobsctl {

// What the new job is: its id and the options of `new` that shape its template.
struct NewJob {
  std::string id;
  std::string type = "shell";
  std::string format = "yaml";
  std::string timezone; // empty: none written, jobsd's default_timezone applies
};

// A new job file: where it goes in the jobs folder, and its text.
struct NewFile {
  std::string path;
  std::string text;
};

// Adds --template, --format and --timezone to `command`; when `needs` is given, each of them
// needs that option (edit's --new).
void add_new_job_options(CLI::App& command, NewJob& job, CLI::Option* needs = nullptr);

// The file `jobsctl new` writes for `job` in `folder`: a valid, commented job with one step of
// its type. A bad id, type or zone, or an id or a file that exists already, is printed as an
// error and throws Exit{2}.
NewFile new_job_file(const JobFolder& folder, const NewJob& job);

} // namespace jobsctl
