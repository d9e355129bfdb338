#pragma once

#include <jobs/loader.hpp>

#include <filesystem>
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
// exist is reported as an error of its own. Under root (options.daemon_is_root), owners and
// modes are checked as list_job_files does.
// The checks across files also see the job files among `context` (a jobs folder, or files), so
// that the files of `paths` may name jobs defined there: the context's files are loaded for
// these checks only, and are not in the set. A file that `paths` also names (by another
// spelling, or inside a folder of `paths`) is loaded once, as `paths` names it.
JobSet load_paths(const std::vector<std::string>& paths, const LoadOptions& options,
                  const std::vector<std::string>& context = {});

// Whether jobsd takes the file for a job file: *.json, *.yaml or *.yml, neither hidden nor an
// editor backup.
bool is_job_file(const std::filesystem::path& p);

// The pieces of load_paths, for the daemon's reload, which re-reads only the files that
// changed:
// The job files among `paths`, sorted; a folder that cannot be read adds a file with its error
// to `problems`. Links are never followed: a link with a job file's name is listed (the loader
// refuses it), a link to a folder is a problem. With `check_trust` (root), a folder or job file
// that others than root or its folder's owner could have written is a problem, and what it
// holds is not listed (jobs/trust.hpp).
std::vector<std::string> list_job_files(const std::vector<std::string>& paths,
                                        std::vector<LoadedFile>& problems, bool check_trust);
// Loads the files, on all cores.
std::vector<LoadedFile> load_files(const std::vector<std::string>& paths,
                                   const LoadOptions& options);
// The findings of the checks across files (duplicate ids, unknown or cyclic `after`), one list
// per file of `files`, in the same order. A file with such an error must not load its job.
std::vector<std::vector<Diagnostic>> check_across(const std::vector<const LoadedFile*>& files);

} // namespace jobs
