#include <jobs/trust.hpp>

#include <grp.h>
#include <pwd.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <vector>

namespace jobs {

namespace {

std::string group_name(gid_t gid) {
  struct group g {};
  struct group* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getgrgid_r(gid, &g, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return found->gr_name;
  }
  return "gid " + std::to_string(gid);
}

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// "writable by group "jobs"", "writable by everyone" or both; empty when neither.
std::string writable_by_others(const struct stat& st) {
  const bool group = (st.st_mode & S_IWGRP) != 0;
  const bool others = (st.st_mode & S_IWOTH) != 0;
  if (!group && !others) {
    return {};
  }
  return std::string("writable by ") + (group ? "group \"" + group_name(st.st_gid) + "\"" : "") +
         (group && others ? " and by " : "") + (others ? "everyone" : "") + " (mode " +
         mode_text(st.st_mode) + ")";
}

} // namespace

std::optional<std::string> account_of(uid_t uid) {
  struct passwd p {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwuid_r(uid, &p, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return std::nullopt;
}

std::string user_name(uid_t uid) {
  return account_of(uid).value_or("uid " + std::to_string(uid));
}

bool account_exists(const std::string& name) {
  struct passwd p {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  return ::getpwnam_r(name.c_str(), &p, buffer.data(), buffer.size(), &found) == 0 &&
         found != nullptr;
}

std::string file_kind(mode_t mode) {
  switch (mode & S_IFMT) {
  case S_IFREG:
    return "a regular file";
  case S_IFDIR:
    return "a folder";
  case S_IFLNK:
    return "a symbolic link";
  case S_IFIFO:
    return "a FIFO";
  case S_IFSOCK:
    return "a socket";
  case S_IFCHR:
    return "a character device";
  case S_IFBLK:
    return "a block device";
  default:
    return "not a regular file";
  }
}

std::string trust_problem(const struct stat& st, uid_t holder, const std::string& path) {
  const bool folder = S_ISDIR(st.st_mode);
  const std::string what = folder ? "the folder" : "the file";
  if (const auto writable = writable_by_others(st); !writable.empty()) {
    return "refused: " + what + " is " + writable +
           ", so others could make root run anything; chmod go-w " + path;
  }
  if (holder != 0 && st.st_uid != holder && !(folder && st.st_uid == 0)) {
    // A root-owned folder inside a user's folder is harmless: the user could replace it, but
    // only with a folder of their own. A file of anyone but the holder could have been put
    // there by the holder (a hard link), so it is not taken as its owner's.
    return "refused: " + what + " is owned by " + user_name(st.st_uid) +
           " inside a folder owned by " + user_name(holder) + ", who could have put it there; " +
           "chown " + user_name(holder) + " " + path + " (its jobs then run as " +
           user_name(holder) + "), or move it to a folder of its owner's";
  }
  return {};
}

std::string root_file_problem(const struct stat& st, const std::string& path, bool secret) {
  // /dev/null (JOBS_CONFIG=/dev/null: the defaults) reads as nothing, whoever may write it.
  if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) {
    return {};
  }
  const std::string fix =
      std::string("; chown root ") + path + " && chmod " + (secret ? "600 " : "644 ") + path;
  if (st.st_uid != 0) {
    return path + " is owned by " + user_name(st.st_uid) +
           ", who could make root run anything through it; jobsd running as root reads only "
           "files of root's" +
           fix;
  }
  if (const auto writable = writable_by_others(st); !writable.empty()) {
    return path + " is " + writable + ", so others could make root run anything through it" + fix;
  }
  if (secret && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    return path + " is readable by others than root (mode " + mode_text(st.st_mode) +
           "), and it holds secrets" + fix;
  }
  return {};
}

} // namespace jobs
