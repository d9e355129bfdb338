#pragma once

// Converting other schedulers' job definitions into job files (jobsctl migrate, man/jobsctl.1):
// crontabs (user and system), the production-jobs flat JSON, the multi-step EDD's legacy and
// V2 API JSON, and the dynamic-registry job documents.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobs::migrate {

// A finding about the source, at its line (and column; 0 when the whole line or file), about
// the entry (a crontab line, a JSON job) that starts at line `entry`: what "not converted"
// counts.
struct Finding {
  enum class Kind { difference, unconverted };
  Kind kind;
  int line = 0;
  int column = 0;
  std::string message;
  int entry = 0;
};

// One converted job: its id (the file stem; unique within the source), where it was defined
// (the line its entry starts at), and the job file's content.
struct Job {
  std::string id;
  int line = 0;
  nlohmann::ordered_json doc;
};

struct Result {
  std::string format; // what the source was read as: "crontab", "system crontab", ...
  std::vector<Job> jobs;
  std::vector<Finding> findings; // in line order
};

struct Options {
  // The zone the old scheduler read local times in (its host's zone), for sources that name
  // none.
  std::string timezone = "UTC";
  // Whether a crontab has the user column (/etc/crontab, /etc/cron.d); nullopt: from the path.
  std::optional<bool> user_column;
};

// Converts one source file: JSON when its text starts with '{' or '[', else a crontab.
Result convert(const std::string& path, std::string_view text, const Options& options);

Result convert_crontab(const std::string& path, std::string_view text, const Options& options);
Result convert_json(const std::string& path, std::string_view text, const Options& options);

// A job id made from free text ("Weekly User Cleanup" -> "weekly-user-cleanup"), of at most 64
// characters (a file name to type, room for a "-2" that makes it unique); empty when the text
// has no letter or digit.
std::string id_from_text(std::string_view text);

// A job id naming what a shell command runs: the first program that is not a wrapper, a guard
// or a preamble that waits or checks (sleep, test, [ ... ], date, perl -e 'sleep ...')
// ("cd / && run-parts --report /etc/cron.daily" -> "cron.daily",
// "/usr/local/bin/backup.sh --full" -> "backup"); empty when every command is one of those.
std::string id_from_command(std::string_view command);

// Splits a crontab command at its first unescaped '%': the command (with "\%" made '%') and
// the standard input cron fed it (each further '%' a newline, "\%" a '%'), as cron does.
struct CronCommand {
  std::string command;
  std::optional<std::string> input;
};
CronCommand split_cron_command(std::string_view text);

// Makes the job disabled: `enabled: false` in place, or after its id, name and description.
void disable(nlohmann::ordered_json& doc);

} // namespace jobs::migrate
