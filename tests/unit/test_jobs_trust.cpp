#include <jobs/trust.hpp>

#include <doctest/doctest.h>
#include <sys/sysmacros.h>

#include <string>

namespace {

struct stat status(mode_t mode, uid_t uid, gid_t gid = 0) {
  struct stat st {};
  st.st_mode = mode;
  st.st_uid = uid;
  st.st_gid = gid;
  return st;
}

} // namespace

TEST_SUITE("jobs::trust") {
  TEST_CASE("trust_problem: who could have written a folder or job file") {
    const uid_t u = 65534; // nobody
    const uid_t v = 65533;
    const std::string nobody = jobs::user_name(u);
    struct Case {
      mode_t mode;
      uid_t owner;
      uid_t holder;
      std::string problem;
    };
    const Case cases[] = {
        {S_IFDIR | 0755, 0, 0, ""},
        {S_IFREG | 0644, 0, 0, ""},
        {S_IFREG | 0600, u, 0, ""}, // a user's file in root's folder: runs as the user
        {S_IFDIR | 0700, u, 0, ""},
        {S_IFREG | 0644, u, u, ""},
        {S_IFDIR | 0755, 0, u, ""}, // root's folder in a user's: the user could only replace it
        {S_IFDIR | 0775, 0, 0,
         "refused: the folder is writable by group \"root\" (mode 0775), so others could make "
         "root run anything; chmod go-w p"},
        {S_IFREG | 0646, 0, 0,
         "refused: the file is writable by everyone (mode 0646), so others could make root run "
         "anything; chmod go-w p"},
        {S_IFDIR | 01777, 0, 0,
         "refused: the folder is writable by group \"root\" and by everyone (mode 1777), so others "
         "could make root run anything; chmod go-w p"},
        {S_IFREG | 0644, 0, u,
         "refused: the file is owned by root inside a folder owned by " + nobody +
             ", who could have put it there; chown " + nobody + " p (its jobs then run as " +
             nobody + "), or move it to a folder of its owner's"},
        {S_IFDIR | 0755, v, u,
         "refused: the folder is owned by " + jobs::user_name(v) + " inside a folder owned by " +
             nobody + ", who could have put it there; chown " + nobody +
             " p (its jobs then run as " + nobody + "), or move it to a folder of its owner's"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.mode);
      CAPTURE(c.owner);
      CAPTURE(c.holder);
      CHECK(jobs::trust_problem(status(c.mode, c.owner), c.holder, "p") == c.problem);
    }
    CHECK(jobs::holder_below(status(S_IFDIR | 0755, 0), 0) == 0);
    CHECK(jobs::holder_below(status(S_IFDIR | 0755, u), 0) == u);
    CHECK(jobs::holder_below(status(S_IFDIR | 0755, 0), u) == u);
  }

  TEST_CASE("root_file_problem: the configuration and secrets files") {
    CHECK(jobs::root_file_problem(status(S_IFREG | 0644, 0), "c", false) == "");
    CHECK(jobs::root_file_problem(status(S_IFREG | 0600, 0), "s", true) == "");
    CHECK(jobs::root_file_problem(status(S_IFREG | 0644, 0), "s", true) ==
          "s is readable by others than root (mode 0644), and it holds secrets; chown root s && "
          "chmod 600 s");
    CHECK(jobs::root_file_problem(status(S_IFREG | 0664, 0), "c", false) ==
          "c is writable by group \"root\" (mode 0664), so others could make root run anything "
          "through it; chown root c && chmod 644 c");
    CHECK(jobs::root_file_problem(status(S_IFREG | 0600, 65534), "c", false) ==
          "c is owned by " + jobs::user_name(65534) +
              ", who could make root run anything through it; jobsd running as root reads only "
              "files of root's; chown root c && chmod 644 c");
    auto null = status(S_IFCHR | 0666, 0);
    null.st_rdev = makedev(1, 3);
    CHECK(jobs::root_file_problem(null, "/dev/null", false) == ""); // JOBS_CONFIG=/dev/null
    auto zero = status(S_IFCHR | 0666, 0);
    zero.st_rdev = makedev(1, 5);
    CHECK(jobs::root_file_problem(zero, "/dev/zero", false) != "");
  }

  TEST_CASE("names of accounts and file kinds") {
    CHECK(jobs::account_of(0) == "root");
    CHECK(jobs::user_name(4000000000u) == "uid 4000000000");
    CHECK(jobs::account_exists("root"));
    CHECK(!jobs::account_exists("no-such-account-here"));
    CHECK(jobs::file_kind(S_IFIFO) == "a FIFO");
    CHECK(jobs::file_kind(S_IFCHR) == "a character device");
  }
}
