#pragma once

#include <base/error.hpp>
#include <jobs/loader.hpp>
#include <jobs/model.hpp>

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace jobs {

// Returns `text` with the job's top-level "enabled" key set to `value`, edited in place: every
// byte outside the changed value (comments, key order, indentation, quoting, line endings) is
// kept.
//
// - An existing value (true/false/yes/no/on/off, quoted or not, any case) is replaced by plain
//   `true` or `false`. When it is unquoted and already means `value`, `text` is returned
//   unchanged; the caller compares to see whether anything changed.
// - When the key is absent the job is enabled (the loader's default), so `true` changes nothing
//   and `false` inserts a member as the first key of the top-level map, after leading comments,
//   directives and `---`, with the indentation of the existing first key and the line ending of
//   its line (LF or CRLF): the line `enabled: false` in YAML, `"enabled": false,` in JSON. A map
//   written on one line (JSON, or a YAML flow map `{a: 1}`) gets the member inline after '{':
//   `{"enabled": false, "a": 1}`.
// - Only the top level counts: an "enabled" inside steps, inside a block scalar or inside a
//   string is not touched. A YAML file with several documents edits only the first.
//
// Errors carry `path`, the line and the column: the top level is not a map (JSON: object);
// "enabled" is not a boolean scalar (a list, a map, "maybe", empty); "enabled" appears twice;
// the text is too broken to edit safely (an unterminated string or bracket).
base::Result<std::string> set_enabled(std::string_view text, FileFormat format, bool value,
                                      const std::string& path);

// Sets `enabled` in the job file at `path` with set_enabled(), checks that the edited text
// still loads as a job with that value, and replaces the file atomically. Returns whether the
// file changed (false: it had that value already). Errors name the file and its place.
base::Result<bool> set_enabled_in_file(const std::string& path, bool value,
                                       const LoadOptions& options);

// Replaces the file `path` with `content` atomically: writes a temporary file in the same
// folder, fsyncs it, gives it the original's owner and mode (when the original exists; else the
// mode 0666 less the umask) or `mode` when given (the writer's file then), renames it over the
// original and fsyncs the folder. A symbolic link at `path` is refused, never followed. On
// failure the original is untouched and the temporary file removed; the error names the path
// and the system error. Returns true.
base::Result<bool> write_file_atomically(const std::string& path, std::string_view content,
                                         std::optional<mode_t> mode = std::nullopt);

} // namespace jobs
