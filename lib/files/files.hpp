#pragma once

// File steps: copy, move, delete and archive files matched by globs, confined to allowed
// folders. Every path is checked after resolving its symlinks; a symlink is acted on as a link,
// never followed out of the allowed folders.

#include <base/error.hpp>
#include <exec/process.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace files {

enum class Action { copy, move, remove, archive };

// One file step. Globs match within one name: * ? [abc] (shell rules: a leading '.' is matched
// only by a pattern that starts with '.'); ** matches any number of folders (not hidden ones,
// never through a symlink) and is only allowed with `recursive`.
struct Request {
  Action action = Action::copy;
  // Absolute paths or globs: * ? [abc] within a name; ** (any depth) only with recursive.
  std::vector<std::string> sources;
  // copy/move: a folder (created when missing) or, for exactly one source file, a file path;
  // archive: the .tar.gz file.
  std::string destination;
  // Seconds: only files whose mtime is older than now - older_than.
  std::optional<std::int64_t> older_than;
  // Folders matched are copied/moved/removed/archived with their contents; ** descends.
  bool recursive = false;
  // Report what would happen, change nothing.
  bool dry_run = false;
  // copy/move (and archive) onto an existing file; without it that file is an error.
  bool overwrite = false;
  // archive: delete the archived files (and, with recursive, folders) once the archive is in
  // place.
  bool remove_sources = false;
  // Absolute folders; every source, match and destination must be inside one of them.
  std::vector<std::string> allowed_paths;
  // UTC seconds for older_than (0: the real clock).
  std::int64_t now = 0;
};

// What a step did (or, in a dry run, would do).
struct Outcome {
  // For the log, one per file: "copied /a/x.csv -> /b/x.csv (1.2 KiB)", "would delete
  // /a/old.log (3 B)", "deleted folder /a/d", "added /a/x.log as x.log (3 B)", "archived 3
  // files (4.5 KiB) into /b/x.tar.gz", "skipped folder /a/d (recursive is off)".
  std::vector<std::string> lines;
  // The files (and symlinks) acted on: their source paths.
  std::vector<std::string> paths;
  // Files and symlinks acted on, folders not counted.
  std::int64_t files = 0;
  // Their sizes (symlinks count 0); for archive, before compression.
  std::int64_t bytes = 0;
};

// Runs the request. Nothing matched is not an error (files = 0, a line "no file matched ...").
// Every match is checked before anything changes, so a refusal or a conflict changes nothing;
// an error while acting stops the step, leaving what was done so far. Matched folders without
// `recursive` are an error when named literally and skipped (with a line) when globbed. With
// `older_than`, only files are acted on: folders are created at a destination as needed and
// left in place at the source. The destination of copy/move is a file path only when there is
// one literal source, it is a file, and the destination is not an existing folder and does not
// end in '/'. The cancel token (may be null) is checked between files.
base::Result<Outcome> run(const Request& request, exec::CancelToken* cancel);

// `path` made absolute and lexically normal, with every symlink in it resolved, when it lies
// inside one of `allowed` (themselves resolved); else an error: "/etc/passwd is outside
// allowed_paths (/srv/data, /tmp/x)", "/srv/data/../etc escapes allowed_paths through ..",
// "/srv/data/link -> /etc is a symlink out of allowed_paths". A path that does not exist yet is
// checked through its nearest existing parent. Relative paths are refused.
base::Result<std::string> confine(const std::string& path, const std::vector<std::string>& allowed);

// Writes `content` to `path` atomically: a temporary file in the same folder, fsync, rename,
// fsync of the folder; `path` confined as above. An existing file keeps its mode.
std::optional<base::Error> write_atomically(const std::string& path, std::string_view content,
                                            const std::vector<std::string>& allowed);

} // namespace files
