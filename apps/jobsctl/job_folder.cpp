#include "job_folder.hpp"

#include "daemon_config.hpp"

#include <base/exit_codes.hpp>
#include <base/text.hpp>

#include <filesystem>
#include <iostream>

namespace jobsctl {

void JobFolder::add_option(CLI::App& command) {
  command.add_option("--jobs-dir", flags().jobs_dir,
                     "Folder of job files (default: JOBS_DIR, the config's jobs_dir, " +
                         jobsd::default_jobs_dir(jobsd::Environment::of_process()) + ")");
  add_config_option(command);
}

const std::string& JobFolder::dir() const {
  return settings().jobs_dir.value;
}

bool JobFolder::is(const std::string& other) const {
  std::error_code ec;
  return !settings().jobs_dir.named() || std::filesystem::equivalent(dir(), other, ec);
}

jobs::LoadOptions JobFolder::load_options() const {
  return jobsd::load_options(settings().loaded.config);
}

jobs::JobSet JobFolder::load() const {
  std::error_code ec;
  if (!std::filesystem::exists(dir(), ec)) {
    const auto& setting = settings().jobs_dir;
    std::cerr << "jobsctl: the jobs folder " << dir() << " does not exist";
    if (setting.origin == jobsd::Origin::built_in) {
      std::cerr << " (the default; --jobs-dir, JOBS_DIR or the configuration's jobs_dir names "
                   "another"
                << (std::filesystem::is_directory("jobs", ec) ? ", such as --jobs-dir jobs)" : ")");
    } else {
      std::cerr << " (from " << origin_text(setting) << ")";
    }
    std::cerr << "\n";
    throw Exit{base::exit_code::usage};
  }
  return jobs::load_paths({dir()}, load_options());
}

std::string find_job_path(const jobs::JobSet& set, const std::string& name) {
  if (const auto* job = set.find(name)) {
    return job->path;
  }
  for (const auto& f : set.files) {
    if (f.path == name) {
      return f.path;
    }
  }
  // A file with errors has no job: its name stands for the id it would have.
  for (const auto& f : set.files) {
    if (!f.job && std::filesystem::path(f.path).stem() == name) {
      return f.path;
    }
  }
  return {};
}

std::vector<std::string> job_names(const jobs::JobSet& set) {
  std::vector<std::string> names;
  for (const auto& f : set.files) {
    names.push_back(f.job ? f.job->id : std::filesystem::path(f.path).stem().string());
  }
  return names;
}

std::string no_job(const JobFolder& folder, const jobs::JobSet& set, const std::string& name,
                   std::string_view otherwise) {
  return "no job " + base::quoted(name) + " in " + folder.dir() +
         base::did_you_mean(name, job_names(set), otherwise);
}

void report_bad_files(const jobs::JobSet& set) {
  size_t bad = 0;
  for (const auto& f : set.files) {
    bad += f.has_errors();
  }
  if (bad > 0) {
    std::cerr << "jobsctl: " << bad << (bad == 1 ? " file has" : " files have") << " errors and "
              << (bad == 1 ? "is" : "are") << " not shown; run jobsctl validate\n";
  }
}

} // namespace jobsctl
