#pragma once

#include <jobs/diagnostics.hpp>
#include <jobs/model.hpp>
#include <tz/zone.hpp>

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobs {

struct LoadOptions {
  const tz::Zone* default_zone = nullptr; // zone of jobs without `timezone`; null: UTC
  // The time limit of jobs without `timeout`, in seconds; none: no limit (default_timeout: none).
  std::optional<std::int64_t> default_timeout = default_job_timeout;
  // Root checks who may have written a file (jobs/trust.hpp); run_as is only a warning
  // otherwise.
  bool daemon_is_root = false;
  std::int64_t max_file_size = 1 << 20; // a larger job file is refused unread
  // The file's owner (load_job_file sets it): under root, a file of user U runs as U only.
  std::optional<uid_t> owner;
};

// One job file: the job when it has no errors, and every finding either way.
struct LoadedFile {
  std::string path;
  std::optional<JobDefinition> job;
  std::vector<Diagnostic> diagnostics;
  bool untrusted = false; // refused for whom it would run as: its last good version must not run

  bool has_errors() const;
};

// Loads one job file from its text; the format follows the extension (.json, else YAML).
LoadedFile load_job_text(const std::string& path, std::string_view text,
                         const LoadOptions& options);

// The text of a job file: a regular file, not a symbolic link (also not one put there since it
// was looked at), of at most `max_size` bytes; `owner`, if given, gets its owner.
base::Result<std::string> read_job_file(const std::string& path, std::int64_t max_size,
                                        uid_t* owner = nullptr);

// Reads and loads one job file: read_job_file, then load_job_text.
LoadedFile load_job_file(const std::string& path, const LoadOptions& options);

// Whether `id` is a valid job or step id: [A-Za-z0-9][A-Za-z0-9_.-]*
bool is_valid_id(std::string_view id);

} // namespace jobs
