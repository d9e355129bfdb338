#include <jobsd/settings.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <support/temp_dir.hpp>

namespace {

// An environment of `variables`, for root or another user.
jobsd::Environment environment(bool root, std::map<std::string, std::string> variables) {
  jobsd::Environment env;
  env.root = root;
  env.get = [variables = std::move(variables)](const char* name) {
    const auto it = variables.find(name);
    return it != variables.end() ? it->second : std::string();
  };
  return env;
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

} // namespace

TEST_SUITE("jobsd settings") {
  TEST_CASE("without flags, variables or file: the built-in defaults, for root and others") {
    const test::TempDir home;
    auto s = jobsd::resolve_settings({}, environment(false, {{"HOME", home.path.string()}}));
    CHECK(s.config_file.value == "");
    CHECK(s.config_file.where == home.path.string() + "/.config/jobs/jobsd.yaml does not exist");
    CHECK(s.jobs_dir.value == home.path.string() + "/.config/jobs/jobs.d");
    CHECK(s.jobs_dir.origin == jobsd::Origin::built_in);
    CHECK(s.state_dir.value == home.path.string() + "/.local/state/jobs");
    CHECK(s.log_dir.value == home.path.string() + "/.local/state/jobs/logs");
    CHECK(s.log_dir.where == "STATE_DIR/logs");
    CHECK(s.socket.value == home.path.string() + "/.local/state/jobs/jobsd.sock");
    CHECK(s.default_timezone.value == "UTC");
    CHECK(s.default_timeout.value == "1h");
    CHECK(s.default_timeout.origin == jobsd::Origin::built_in);
    CHECK(s.loaded.ok());

    s = jobsd::resolve_settings({}, environment(false, {{"HOME", home.path.string()},
                                                        {"XDG_CONFIG_HOME", "/x/config"},
                                                        {"XDG_STATE_HOME", "/x/state"}}));
    CHECK(s.config_file.where == "/x/config/jobs/jobsd.yaml does not exist");
    CHECK(s.jobs_dir.value == "/x/config/jobs/jobs.d");
    CHECK(s.state_dir.value == "/x/state/jobs");

    // Root's: the system's folders. /etc/jobs/jobsd.yaml is read only when it exists, which it
    // may on this machine; the other values do not depend on it when it names none of them.
    s = jobsd::resolve_settings({.config = "/dev/null"}, environment(true, {}));
    CHECK(jobsd::default_config_file(environment(true, {})) == "/etc/jobs/jobsd.yaml");
    CHECK(s.jobs_dir.value == "/etc/jobs/jobs.d");
    CHECK(s.state_dir.value == "/var/lib/jobs");
    CHECK(s.log_dir.value == "/var/lib/jobs/logs");
    CHECK(s.socket.value == "/var/lib/jobs/jobsd.sock");
  }

  TEST_CASE("the order: flag, then variable, then the file's key, then the default") {
    const test::TempDir dir;
    const std::string file = dir.path.string() + "/jobsd.yaml";
    write(file, "# paths\njobs_dir: j\nstate_dir: /s\nlog_dir: /l\nsocket: /run/x.sock\n"
                "default_timezone: Europe/Berlin\ndefault_timeout: none\n");
    const auto env = environment(false, {{"HOME", dir.path.string()}, {"JOBS_CONFIG", file}});

    auto s = jobsd::resolve_settings({}, env);
    CHECK(s.config_file.value == file);
    CHECK(s.config_file.origin == jobsd::Origin::environment);
    CHECK(s.config_file.where == "JOBS_CONFIG");
    CHECK(s.jobs_dir.value == dir.path.string() + "/j"); // relative to the file's folder
    CHECK(s.jobs_dir.origin == jobsd::Origin::file);
    CHECK(s.jobs_dir.where == file + ":2");
    CHECK(s.state_dir.where == file + ":3");
    CHECK(s.log_dir.value == "/l");
    CHECK(s.socket.value == "/run/x.sock");
    CHECK(s.socket.where == file + ":5");
    CHECK(s.default_timezone.value == "Europe/Berlin");
    CHECK(s.default_timezone.where == file + ":6");
    REQUIRE(s.loaded.config.default_zone != nullptr);
    CHECK(s.default_timeout.value == "none");
    CHECK(s.default_timeout.origin == jobsd::Origin::file);
    CHECK(s.default_timeout.where == file + ":7");

    s = jobsd::resolve_settings({}, environment(false, {{"HOME", dir.path.string()},
                                                        {"JOBS_CONFIG", file},
                                                        {"JOBS_DIR", "envjobs"},
                                                        {"JOBS_STATE_DIR", "/envstate"},
                                                        {"JOBS_LOG_DIR", "/envlogs"},
                                                        {"JOBS_SOCKET", "/env.sock"}}));
    CHECK(s.jobs_dir.value == "envjobs");
    CHECK(s.jobs_dir.origin == jobsd::Origin::environment);
    CHECK(s.jobs_dir.where == "JOBS_DIR");
    CHECK(s.state_dir.value == "/envstate");
    CHECK(s.log_dir.value == "/envlogs");
    CHECK(s.socket.value == "/env.sock");

    s = jobsd::resolve_settings({.config = file,
                                 .jobs_dir = "flagjobs",
                                 .state_dir = "/flagstate",
                                 .log_dir = "/flaglogs",
                                 .socket = "/flag.sock"},
                                environment(false, {{"JOBS_CONFIG", "/nonexistent"},
                                                    {"JOBS_DIR", "envjobs"},
                                                    {"JOBS_SOCKET", "/env.sock"}}));
    CHECK(s.config_file.origin == jobsd::Origin::flag);
    CHECK(s.config_file.where == "--config");
    CHECK(s.jobs_dir.value == "flagjobs");
    CHECK(s.jobs_dir.where == "--jobs-dir");
    CHECK(s.state_dir.value == "/flagstate");
    CHECK(s.log_dir.value == "/flaglogs");
    CHECK(s.socket.value == "/flag.sock");
    CHECK(s.socket.named());
    CHECK(s.loaded.ok());
  }

  TEST_CASE("the log folder and socket follow a state folder named anywhere") {
    const test::TempDir dir;
    const std::string file = dir.path.string() + "/jobsd.yaml";
    write(file, "state_dir: /from-file\n");
    auto s = jobsd::resolve_settings({.config = file},
                                     environment(false, {{"HOME", dir.path.string()}}));
    CHECK(s.log_dir.value == "/from-file/logs");
    CHECK(s.socket.value == "/from-file/jobsd.sock");
    CHECK(s.socket.origin == jobsd::Origin::built_in);
    s = jobsd::resolve_settings({.config = file, .state_dir = "/flag"}, environment(false, {}));
    CHECK(s.socket.value == "/flag/jobsd.sock");
  }

  TEST_CASE("the default file is read when it exists; a named one that is missing is an error") {
    const test::TempDir home;
    std::filesystem::create_directories(home.path.string() + "/.config/jobs");
    write(home.path.string() + "/.config/jobs/jobsd.yaml", "default_timezone: Asia/Tokyo\n");
    auto s = jobsd::resolve_settings({}, environment(false, {{"HOME", home.path.string()}}));
    CHECK(s.config_file.value == home.path.string() + "/.config/jobs/jobsd.yaml");
    CHECK(s.config_file.origin == jobsd::Origin::built_in);
    CHECK(s.default_timezone.value == "Asia/Tokyo");

    s = jobsd::resolve_settings(
        {}, environment(false, {{"HOME", home.path.string()},
                                {"JOBS_CONFIG", home.path.string() + "/none.yaml"}}));
    REQUIRE(s.loaded.errors.size() == 1);
    CHECK(s.loaded.errors[0].message ==
          "cannot read " + home.path.string() + "/none.yaml: No such file or directory");
  }
}
