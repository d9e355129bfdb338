#pragma once

// Whom a root jobsd trusts with its job files, as cron and OpenSSH's StrictModes do
// (man/jobsd.8, SECURITY): a job file and every folder from the jobs folder down to it are
// written by root, or by one user U alone, whose files then run as U.

#include <sys/stat.h>

#include <optional>
#include <string>

namespace jobs {

// Why root must not load what a folder or job file holds, given its status (from lstat or
// fstat) and `holder`, the one non-root owner of the folders above it (0 when they are all
// root's); empty when root may. `path` is named in the fix.
std::string trust_problem(const struct stat& st, uid_t holder, const std::string& path);

// The holder of what lies below a folder of status `st` inside folders held by `holder`.
inline uid_t holder_below(const struct stat& st, uid_t holder) {
  return st.st_uid != 0 ? st.st_uid : holder;
}

// Why root must not read a file of its own (the configuration, the secrets file) of status
// `st`: owned by someone else, or writable by others; when `secret`, also readable by others.
// Empty when root may; else names the file, its owner and mode and the fix.
std::string root_file_problem(const struct stat& st, const std::string& path, bool secret);

// The account name of `uid`, if it has one.
std::optional<std::string> account_of(uid_t uid);
// The account name of `uid`, or "uid N" when it has none.
std::string user_name(uid_t uid);
// Whether an account of this name exists.
bool account_exists(const std::string& name);

// What a file of this type is, for "is a FIFO, not a regular file".
std::string file_kind(mode_t mode);

} // namespace jobs
