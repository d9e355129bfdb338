#pragma once

#include <jobs/diagnostics.hpp>
#include <jobs/model.hpp>
#include <tz/zone.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobs {

struct LoadOptions {
  const tz::Zone* default_zone = nullptr; // zone of jobs without `timezone`; null: UTC
  bool daemon_is_root = false;            // run_as is only a warning otherwise
};

// One job file: the job when it has no errors, and every finding either way.
struct LoadedFile {
  std::string path;
  std::optional<JobDefinition> job;
  std::vector<Diagnostic> diagnostics;

  bool has_errors() const;
};

// Loads one job file from its text; the format follows the extension (.json, else YAML).
LoadedFile load_job_text(const std::string& path, std::string_view text,
                         const LoadOptions& options);

// Reads and loads one job file.
LoadedFile load_job_file(const std::string& path, const LoadOptions& options);

// Whether `id` is a valid job or step id: [A-Za-z0-9][A-Za-z0-9_.-]*
bool is_valid_id(std::string_view id);

} // namespace jobs
