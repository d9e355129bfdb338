#pragma once

#include <jobs/loader.hpp>

#include <string>
#include <vector>

namespace jobs {

// Job files loaded together, with the checks that span files: duplicate ids (both files
// named), `after` references that do not exist, and `after` cycles.
struct JobSet {
  std::vector<LoadedFile> files; // sorted by path; a file with errors has no job

  size_t job_count() const;
  size_t error_count() const;
  size_t warning_count() const;
  // The loaded job with this id, or nullptr.
  const JobDefinition* find(std::string_view id) const;
};

// Loads the job files among `paths`: files as given, folders searched recursively for
// *.json, *.yaml and *.yml (hidden entries and editor backups skipped). A path that does not
// exist is reported as an error of its own.
JobSet load_paths(const std::vector<std::string>& paths, const LoadOptions& options);

} // namespace jobs
