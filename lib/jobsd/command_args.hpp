#pragma once

// What the files of the control socket's commands share (commands.cpp, commands_api.cpp): the
// reply a command makes, the error it throws for an expected failure, and its arguments read
// from the request with the error texts of man/jobsd.8 (PROTOCOL).

#include <jobsd/daemon.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace jobsd {

// The page size of paged lists (list, history, audit) when no limit is given, and their largest.
inline constexpr int default_page = 50;
inline constexpr int max_page = 500;

struct Daemon::Reply {
  ipc::Json result;
  std::string code; // non-empty: an error
  std::string message;
  std::string target;    // what the command acted on, for the audit log
  bool deferred = false; // a follower sends the reply later
};

// An expected failure of a command: the error reply's code and message.
struct CommandError {
  std::string code;
  std::string message;
};

// The string argument `key`; "" when absent (or null) and not required. Throws an invalid
// CommandError when it is required and absent, or not a string.
std::string string_arg(const ipc::Request& r, const char* key, bool required = true);

// The boolean argument `key`: nothing when absent or null; throws when not a boolean.
std::optional<bool> optional_bool_arg(const ipc::Request& r, const char* key);

// The same, false when absent or null.
bool bool_arg(const ipc::Request& r, const char* key);

// The integer argument `key`: nothing when absent or null; throws when not an integer.
std::optional<std::int64_t> int_arg(const ipc::Request& r, const char* key);

// The integer argument `key` between 1 and `max`, `fallback` when absent; throws otherwise.
int count_arg(const ipc::Request& r, const char* key, int fallback, int max);

// UTC seconds as ISO 8601, or null.
ipc::Json iso_or_null(std::optional<std::int64_t> seconds);

// The store's job states by job id.
std::map<std::string, store::JobState> by_job(std::vector<store::JobState> states);

} // namespace jobsd
