#include <base/size.hpp>
#include <jobsd/config.hpp>
#include <tz/zone.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <support/temp_dir.hpp>
#include <vector>

namespace {

// Lines of text, which doctest shows one per line when a check fails.
struct Lines : std::vector<std::string> {
  using std::vector<std::string>::vector;
};

std::ostream& operator<<(std::ostream& out, const Lines& lines) {
  out << "{";
  for (const auto& line : lines) {
    out << "\n  " << line;
  }
  return out << "\n}";
}
using namespace std::chrono_literals;

const std::string config_path = "/etc/jobsd/jobsd.yaml";

// "line:col: message" for each error of the configuration `text`.
Lines errors_of(const std::string& text, const std::string& path = config_path) {
  Lines out;
  for (const auto& e : jobsd::parse_config(text, path).errors) {
    out.push_back(std::to_string(e.location.line) + ":" + std::to_string(e.location.column) + ": " +
                  e.message);
  }
  return out;
}

// The configuration `text`, which must have no errors.
jobsd::Config parse(const std::string& text, const std::string& path = config_path) {
  auto loaded = jobsd::parse_config(text, path);
  for (const auto& e : loaded.errors) {
    MESSAGE(e.render());
  }
  REQUIRE(loaded.ok());
  return loaded.config;
}

std::string write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

} // namespace

TEST_SUITE("jobsd.config") {
  TEST_CASE("an empty file, or one of only comments, gives the defaults") {
    for (const std::string text : {"", "\n", "# jobsd configuration\n\n# queues: {}\n"}) {
      const auto c = parse(text);
      CHECK(c.path == config_path);
      CHECK(c.jobs_dir.empty());
      CHECK(c.state_dir.empty());
      CHECK(c.log_dir.empty());
      CHECK(c.socket.empty());
      CHECK(c.default_timezone.empty());
      CHECK(c.default_zone == nullptr);
      CHECK(c.queue_limit == 4);
      CHECK(c.queue_limits.empty());
      CHECK(c.global_limit == 64);
      CHECK(c.access.admin_group.empty());
      CHECK(c.access.socket_group.empty());
      CHECK(c.access.readers == jobsd::Access::Readers::all);
      CHECK(c.access.reader_group.empty());
      CHECK(c.grace_period == 30s);
      CHECK(c.kill_grace == 10s);
      CHECK(c.reload_debounce == 25ms);
      CHECK(c.max_per_job == 1000);
      CHECK(c.max_history_age == 90 * 86400);
      CHECK(c.logs.max_size == 10 << 20);
      CHECK(c.logs.max_files == 5);
      CHECK(c.logs.max_age == 30 * 86400);
      CHECK(c.secrets_file.empty());
      CHECK(c.default_timeout == 3600);
    }
  }

  TEST_CASE("every key is read") {
    const auto c = parse(R"(jobs_dir: /srv/jobs
state_dir: /var/lib/jobs
log_dir: /var/log/jobs
socket: /run/jobsd/jobsd.sock
default_timezone: Europe/Berlin
queues:
  default_limit: 3
  global_limit: 100
  limits: { America/New_York: 2, UTC: 8 }
access:
  admin_group: root
  socket_group: daemon
  readers: group
  reader_group: daemon
grace_period: 1m30s
kill_grace: 500ms
reload_debounce: 1s
retention: { max_per_job: 0, max_age: 7d }
logs: { max_size: 512K, max_files: 9, max_age: 2d }
secrets_file: /etc/jobs/secrets
)");
    CHECK(c.jobs_dir == "/srv/jobs");
    CHECK(c.state_dir == "/var/lib/jobs");
    CHECK(c.log_dir == "/var/log/jobs");
    CHECK(c.socket == "/run/jobsd/jobsd.sock");
    CHECK(c.default_timezone == "Europe/Berlin");
    REQUIRE(c.default_zone != nullptr);
    CHECK(c.default_zone->name() == "Europe/Berlin");
    CHECK(c.queue_limit == 3);
    CHECK(c.global_limit == 100);
    CHECK(c.queue_limits == std::map<std::string, int>{{"America/New_York", 2}, {"UTC", 8}});
    CHECK(c.access.admin_group == "root");
    CHECK(c.access.socket_group == "daemon");
    CHECK(c.access.readers == jobsd::Access::Readers::group);
    CHECK(c.access.reader_group == "daemon");
    CHECK(c.grace_period == 90s);
    CHECK(c.kill_grace == 500ms);
    CHECK(c.reload_debounce == 1s);
    CHECK(c.max_per_job == 0);
    CHECK(c.max_history_age == 7 * 86400);
    CHECK(c.logs.max_size == 512 << 10);
    CHECK(c.logs.max_files == 9);
    CHECK(c.logs.max_age == 2 * 86400);
    CHECK(c.secrets_file == "/etc/jobs/secrets");
  }

  TEST_CASE("limit_of gives a zone's own limit, else the default") {
    const auto c = parse("queues: { default_limit: 6, limits: { UTC: 1 } }\n");
    CHECK(c.limit_of("UTC") == 1);
    CHECK(c.limit_of("Europe/Berlin") == 6);
  }

  TEST_CASE("readers: all and admins; durations in milliseconds or seconds") {
    CHECK(parse("access: { readers: admins }").access.readers == jobsd::Access::Readers::admins);
    CHECK(parse("access: { readers: all }").access.readers == jobsd::Access::Readers::all);
    CHECK(parse("reload_debounce: 0ms").reload_debounce == 0ms);
    CHECK(parse("reload_debounce: 10s").reload_debounce == 10s);
    CHECK(parse("kill_grace: 1h").kill_grace == 1h);
    CHECK(parse("kill_grace: 15").kill_grace == 15s);
    CHECK(parse("grace_period: 0").grace_period == 0s);
    CHECK(parse("client_idle_timeout: 2s").client_idle_timeout == 2s);
    CHECK(parse("logs: { max_size: 4096 }").logs.max_size == 4096);
  }

  TEST_CASE("default_timeout: a duration of at least 1s, or none; jobs load with it") {
    CHECK(parse("default_timeout: 2s").default_timeout == 2);
    CHECK(parse("default_timeout: 6h").default_timeout == 6 * 3600);
    CHECK(parse("default_timeout: 90").default_timeout == 90);
    CHECK(parse("default_timeout: none").default_timeout == std::nullopt);
    CHECK(parse(R"({"default_timeout": "none"})", "/etc/jobs/jobsd.json").default_timeout ==
          std::nullopt);
    const std::string valid = "a duration of at least 1s such as 30m, 1h or 6h, or none for no "
                              "limit";
    CHECK(errors_of("default_timeout: 0\n") ==
          Lines{"1:18: \"default_timeout\": expected " + valid + ", got \"0\""});
    CHECK(errors_of("default_timeout: [1h]\n") ==
          Lines{"1:18: \"default_timeout\": expected " + valid + ", got a list"});
    CHECK(errors_of("default_timeout: 1h30\n") ==
          Lines{"1:22: \"default_timeout\": invalid duration \"1h30\": missing unit after 30 "
                "(valid: 90, 90s, 15m, 1h30m, 2d), or none for no limit"});
    CHECK(errors_of("default_timeout: never\n") ==
          Lines{"1:18: \"default_timeout\": invalid duration \"never\": expected a number "
                "(valid: 90, 90s, 15m, 1h30m, 2d), or none for no limit"});
    // A wrong value keeps the default.
    CHECK(jobsd::parse_config("default_timeout: 0\n", config_path).config.default_timeout == 3600);

    // jobsd and jobsctl load job files with it.
    CHECK(jobsd::load_options(parse("default_timeout: 2s")).default_timeout == 2);
    CHECK(jobsd::load_options(parse("default_timeout: none")).default_timeout == std::nullopt);
    CHECK(jobsd::load_options(parse("")).default_timeout == 3600);
  }

  TEST_CASE("a section with all its keys commented out is empty") {
    const auto c = parse("queues:\n  # default_limit: 8\naccess:\n");
    CHECK(c.queue_limit == 4);
  }

  TEST_CASE("relative paths are relative to the configuration file's folder") {
    const test::TempDir dir("jobsd-config");
    const auto path = write(dir.path / "jobsd.yaml", R"(jobs_dir: jobs
state_dir: ./state/
log_dir: ../logs
socket: run/jobsd.sock
secrets_file: secrets
)");
    const auto loaded = jobsd::load_config(path);
    REQUIRE(loaded.ok());
    const auto& c = loaded.config;
    CHECK(c.path == path);
    CHECK(c.jobs_dir == (dir.path / "jobs").string());
    CHECK(c.state_dir == (dir.path / "state/").string());
    CHECK(c.log_dir == (dir.path.parent_path() / "logs").string());
    CHECK(c.socket == (dir.path / "run/jobsd.sock").string());
    CHECK(c.secrets_file == (dir.path / "secrets").string());

    // A relative configuration path still gives absolute paths.
    const auto relative = parse("jobs_dir: jobs\n", "conf/jobsd.yaml");
    CHECK(relative.jobs_dir == (std::filesystem::current_path() / "conf/jobs").string());
  }

  TEST_CASE("metrics.textfile: a .prom file in a folder that exists") {
    const test::TempDir dir("jobsd-config");
    const auto path = (dir.path / "jobs.prom").string();
    CHECK(parse("metrics:\n  textfile: " + path + "\n").metrics.textfile == path);
    CHECK(parse("metrics:\n").metrics.textfile.empty());
    CHECK(errors_of("metrics:\n  textfile: " + (dir.path / "jobs.txt").string() + "\n") ==
          Lines{"2:13: \"metrics.textfile\": node_exporter's textfile collector reads only "
                "files ending in .prom"});
    CHECK(errors_of("metrics:\n  textfile: " + (dir.path / "none/jobs.prom").string() + "\n") ==
          Lines{"2:13: \"metrics.textfile\": the folder " + (dir.path / "none").string() +
                " does not exist"});
    CHECK(errors_of("metrics:\n  text_file: x.prom\n") ==
          Lines{"2:3: unknown metrics key \"text_file\"; did you mean \"textfile\"?"});
  }

  TEST_CASE("connections, allowed_paths and smtp: passwords only as references") {
    const auto c = parse(R"(
connections:
  app: { type: sqlite, path: /srv/app.db }
  warehouse:
    type: postgresql
    conninfo: host=db port=5432 dbname=w user=etl
    password: ${secret.WAREHOUSE}
  mssql:
    type: odbc
    connection_string: "Driver={ODBC Driver 18 for SQL Server};Server=db;UID=etl"
    password_env: MSSQL_PASSWORD
allowed_paths: [/srv/exports]
smtp: { host: mail, port: 587, security: starttls, username: jobs, password_file: /etc/jobs/smtp,
        from: jobs@example.com }
)");
    REQUIRE(c.integrations.connections.size() == 3);
    const auto& w = c.integrations.connections.at("warehouse");
    CHECK(w.driver == sql::Driver::postgresql);
    CHECK(w.target == "host=db port=5432 dbname=w user=etl");
    CHECK(w.password.source == engine::Credential::Source::secret);
    CHECK(w.password.name == "WAREHOUSE");
    CHECK(c.integrations.connections.at("mssql").password.source ==
          engine::Credential::Source::env);
    CHECK(c.integrations.connections.at("app").target == "/srv/app.db");
    CHECK(c.integrations.allowed_paths == std::vector<std::string>{"/srv/exports"});
    REQUIRE(c.integrations.smtp);
    CHECK(c.integrations.smtp->server.port == 587);
    CHECK(c.integrations.smtp->server.security == mail::Security::starttls);
    CHECK(c.integrations.smtp->password.source == engine::Credential::Source::file);

    const std::string held = "holds a password; give it with password: ${secret.NAME}, "
                             "password_env or password_file";
    CHECK(errors_of("connections:\n  w: { type: postgresql, url: \"postgresql://etl:pw@db/w\",\n"
                    "       password_env: P }\n") == Lines{"2:31: \"connections.w.url\": " + held});
    CHECK(errors_of("connections:\n  w: { type: odbc, connection_string: \"DSN=w;PWD=x\" }\n") ==
          Lines{"2:39: \"connections.w.connection_string\": " + held});
    CHECK(
        errors_of("connections:\n  w: { type: postgresql, conninfo: \"host=db password=pw\" }\n") ==
        Lines{"2:36: \"connections.w.conninfo\": " + held});
    CHECK(
        errors_of(
            "connections:\n  w: { type: postgresql, conninfo: \"host=db password\\t = pw\" }\n") ==
        Lines{"2:36: \"connections.w.conninfo\": " + held});
    CHECK(errors_of(
              "connections:\n  w: { type: postgresql, conninfo: \"host=db passwords_file=x\" }\n")
              .empty());
    CHECK(errors_of(
              "connections:\n  w: { type: postgresql, conninfo: host=db, password: hunter2 }\n") ==
          Lines{"2:55: \"connections.w.password\": write ${secret.NAME} (or use password_env or "
                "password_file); a password is never written in the configuration"});
    CHECK(errors_of("smtp: { host: mail, password_env: A, password_file: /f }\n") ==
          Lines{"1:53: \"smtp.password_file\": give one of password, password_env and "
                "password_file, not two"});
  }

  TEST_CASE("an unknown key suggests the nearest known one, at any level") {
    CHECK(errors_of("queus:\n  default_limit: 3\n") ==
          Lines{"1:1: unknown key \"queus\"; did you mean \"queues\"?"});
    CHECK(errors_of("queues:\n  defualt_limit: 3\n") ==
          Lines{"2:3: unknown queues key \"defualt_limit\"; did you mean \"default_limit\"?"});
    CHECK(errors_of("logs: { max_sise: 1M }\n") ==
          Lines{"1:9: unknown logs key \"max_sise\"; did you mean \"max_size\"?"});
    CHECK(errors_of("retention:\n  colour: red\n") ==
          Lines{"2:3: unknown retention key \"colour\" (known keys: max_per_job, max_age)"});

    const auto loaded = jobsd::parse_config("access:\n  readrs: all\n", config_path);
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].render() ==
          "/etc/jobsd/jobsd.yaml:2:3: error: unknown access key \"readrs\"; did you mean "
          "\"readers\"?\n"
          "    readrs: all\n"
          "    ^~~~~~");
  }

  TEST_CASE("a value of the wrong type says what was expected") {
    CHECK(errors_of("jobs_dir: [a, b]\n") ==
          Lines{"1:11: \"jobs_dir\": expected a path, got a list"});
    // An empty value is reported at its key.
    CHECK(errors_of("socket:\n") == Lines{"1:1: \"socket\": expected a path, got nothing"});
    CHECK(errors_of("queues: 4\n") ==
          Lines{"1:9: \"queues\": expected a map of default_limit, global_limit, limits, got "
                "\"4\""});
    CHECK(errors_of("queues: { default_limit: four }\n") ==
          Lines{"1:26: \"queues.default_limit\": expected a whole number from 1 to 10000, got "
                "\"four\""});
    CHECK(errors_of("queues: { limits: [UTC] }\n") ==
          Lines{"1:19: \"queues.limits\": expected a map of time zone names to limits, got a "
                "list"});
    CHECK(errors_of("access: { readers: everyone }\n") ==
          Lines{"1:20: \"access.readers\": expected all, group or admins, got \"everyone\""});
    CHECK(errors_of("default_timezone: { name: UTC }\n") ==
          Lines{"1:19: \"default_timezone\": expected a string, got a map"});
    CHECK(errors_of("grace_period: [30s]\n") ==
          Lines{"1:15: \"grace_period\": expected a duration such as 90s, 15m, 1h30m or 2d, got "
                "a list"});

    const auto loaded = jobsd::parse_config("queues:\n  global_limit: \"8\"\n", config_path);
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].render() ==
          "/etc/jobsd/jobsd.yaml:2:17: error: \"queues.global_limit\": expected a whole number "
          "from 1 to 100000, got the string \"8\"\n"
          "    global_limit: \"8\"\n"
          "                  ^~~");
  }

  TEST_CASE("a value out of range says the range") {
    CHECK(errors_of("queues: { default_limit: 0 }\n") ==
          Lines{"1:26: \"queues.default_limit\": expected a whole number from 1 to 10000, got "
                "\"0\""});
    CHECK(errors_of("queues: { global_limit: 100001 }\n") ==
          Lines{"1:25: \"queues.global_limit\": expected a whole number from 1 to 100000, got "
                "\"100001\""});
    CHECK(errors_of("queues: { limits: { UTC: 10001 } }\n") ==
          Lines{"1:26: \"queues.limits.UTC\": expected a whole number from 1 to 10000, got "
                "\"10001\""});
    CHECK(errors_of("grace_period: 2d\n") ==
          Lines{"1:15: \"grace_period\": expected a duration from 0s to 1d, got \"2d\""});
    CHECK(errors_of("client_idle_timeout: 0s\n") ==
          Lines{"1:22: \"client_idle_timeout\": expected a duration from 1s to 1h, got \"0s\""});
    CHECK(errors_of("kill_grace: 1h1s\n") ==
          Lines{"1:13: \"kill_grace\": expected a duration from 0ms to 1h such as 250ms or 2s, "
                "got \"1h1s\""});
    CHECK(errors_of("reload_debounce: 25\n") ==
          Lines{"1:18: \"reload_debounce\": expected a duration from 0ms to 10s such as 250ms "
                "or 2s, got \"25\""});
    CHECK(errors_of("retention: { max_per_job: -1 }\n") ==
          Lines{"1:27: \"retention.max_per_job\": expected a whole number from 0 to 2147483647, "
                "got \"-1\""});
    CHECK(errors_of("logs: { max_files: 0, max_size: 1K }\n") ==
          Lines{"1:20: \"logs.max_files\": expected a whole number from 1 to 1000, got \"0\"",
                "1:33: \"logs.max_size\": expected a size of at least 4K, got \"1K\""});
  }

  TEST_CASE("a bad duration or size points at the offending character") {
    CHECK(errors_of("grace_period: 30x\n") ==
          Lines{"1:17: \"grace_period\": invalid duration \"30x\": unknown unit 'x' (valid: 90, "
                "90s, 15m, 1h30m, 2d)"});
    CHECK(errors_of("retention: { max_age: 1m1h }\n") ==
          Lines{"1:26: \"retention.max_age\": invalid duration \"1m1h\": units must go from "
                "largest to smallest, each once (valid: 90, 90s, 15m, 1h30m, 2d)"});
    CHECK(errors_of("reload_debounce: fast\n") ==
          Lines{"1:18: \"reload_debounce\": expected a duration from 0ms to 10s such as 250ms "
                "or 2s, got \"fast\""});
    CHECK(errors_of("logs:\n  max_size: 10X\n") ==
          Lines{"2:15: \"logs.max_size\": invalid size \"10X\": unknown unit \"X\" (valid: 4096, "
                "512K, 1M, 2G)"});
    CHECK(errors_of("logs:\n  max_size: big\n") ==
          Lines{"2:13: \"logs.max_size\": invalid size \"big\": expected a number (valid: 4096, "
                "512K, 1M, 2G)"});
  }

  TEST_CASE("an unknown time zone suggests the nearest names") {
    const auto loaded = jobsd::parse_config("default_timezone: Europe/Berln\n", config_path);
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].render() ==
          "/etc/jobsd/jobsd.yaml:1:19: error: \"default_timezone\": unknown time zone "
          "\"Europe/Berln\"; did you mean \"Europe/Berlin\"?\n"
          "  default_timezone: Europe/Berln\n"
          "                    ^~~~~~~~~~~~");
    CHECK(loaded.config.default_timezone.empty());
    CHECK(loaded.config.default_zone == nullptr);

    CHECK(errors_of("queues:\n  limits:\n    America/New_Yrok: 2\n    UTC: 3\n") ==
          Lines{"3:5: \"queues.limits\": unknown time zone \"America/New_Yrok\"; did you mean "
                "\"America/New_York\"?"});
  }

  TEST_CASE("a group must exist on this host") {
    CHECK(errors_of("access:\n  admin_group: no-such-group-here\n") ==
          Lines{"2:16: \"access.admin_group\": unknown group \"no-such-group-here\""});
    CHECK(errors_of("access:\n  socket_group: rooot\n") ==
          Lines{"2:17: \"access.socket_group\": unknown group \"rooot\"; did you mean \"root\"?"});
    CHECK(errors_of("access:\n  readers: group\n  reader_group: \"\"\n") ==
          Lines{"3:17: \"access.reader_group\": expected a group name, got the string \"\""});
  }

  TEST_CASE("readers: group needs a reader_group") {
    const auto loaded = jobsd::parse_config("access:\n  readers: group\n", config_path);
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].render() ==
          "/etc/jobsd/jobsd.yaml:2:12: error: \"access.readers\": group needs \"reader_group\", "
          "the group whose members may use read-only commands\n"
          "    readers: group\n"
          "             ^~~~~");
  }

  TEST_CASE("every error of a file is reported, in file order; good values are kept") {
    const auto loaded = jobsd::parse_config(R"(jobs_dir: /srv/jobs
queues:
  default_limit: 0
  global_limit: 10
access:
  readers: group
  admin_group: no-such-group-here
grace_period: 1x
kill_grace: 2s
loggs: {}
)",
                                            config_path);
    Lines found;
    for (const auto& e : loaded.errors) {
      found.push_back(std::to_string(e.location.line) + ":" + std::to_string(e.location.column) +
                      ": " + e.message);
    }
    CHECK(found ==
          Lines{"3:18: \"queues.default_limit\": expected a whole number from 1 to 10000, got "
                "\"0\"",
                "6:12: \"access.readers\": group needs \"reader_group\", the group whose members "
                "may use read-only commands",
                "7:16: \"access.admin_group\": unknown group \"no-such-group-here\"",
                "8:16: \"grace_period\": invalid duration \"1x\": unknown unit 'x' (valid: 90, "
                "90s, 15m, 1h30m, 2d)",
                "10:1: unknown key \"loggs\"; did you mean \"logs\"?"});
    const auto& c = loaded.config;
    CHECK(c.jobs_dir == "/srv/jobs");
    CHECK(c.queue_limit == 4);
    CHECK(c.global_limit == 10);
    CHECK(c.access.admin_group.empty());
    CHECK(c.grace_period == 30s);
    CHECK(c.kill_grace == 2s);
  }

  TEST_CASE("a syntax error or a duplicate key is one error") {
    const auto loaded =
        jobsd::parse_config("queues: { default_limit: 4\nsocket: /run/x\n", config_path);
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].render() ==
          "/etc/jobsd/jobsd.yaml:2:7: error: end of map flow not found\n"
          "  socket: /run/x\n"
          "        ^");
    CHECK(errors_of("socket: /run/a\nsocket: /run/b\n") ==
          Lines{"2:1: duplicate key \"socket\" (first at line 1)"});
  }

  TEST_CASE("the top level is a map") {
    CHECK(errors_of("- jobs_dir: /srv/jobs\n") ==
          Lines{"1:1: a configuration file holds one map of keys (jobs_dir, queues, access, "
                "...), got a list"});
    CHECK(errors_of("just words\n") ==
          Lines{"1:1: a configuration file holds one map of keys (jobs_dir, queues, access, "
                "...), got \"just words\""});
  }

  TEST_CASE("a .json file is read as JSON") {
    const auto c = parse(R"({
  "jobs_dir": "/srv/jobs",
  "queues": { "default_limit": 2, "limits": { "UTC": 3 } },
  "grace_period": "1m",
  "kill_grace": 5,
  "logs": { "max_size": "1M" }
})",
                         "/etc/jobsd/jobsd.json");
    CHECK(c.jobs_dir == "/srv/jobs");
    CHECK(c.queue_limit == 2);
    CHECK(c.limit_of("UTC") == 3);
    CHECK(c.grace_period == 60s);
    CHECK(c.kill_grace == 5s);
    CHECK(c.logs.max_size == 1 << 20);

    const auto loaded = jobsd::parse_config("{\"queus\": {}}", "/etc/jobsd/jobsd.json");
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].render() ==
          "/etc/jobsd/jobsd.json:1:2: error: unknown key \"queus\"; did you mean \"queues\"?\n"
          "  {\"queus\": {}}\n"
          "   ^~~~~~~");
    CHECK(errors_of("{\"queues\": {\"default_limit\": \"2\"}}", "/etc/jobsd/jobsd.json") ==
          Lines{"1:30: \"queues.default_limit\": expected a whole number from 1 to 10000, got "
                "the string \"2\""});
  }

  TEST_CASE("a file that cannot be read is one error") {
    const test::TempDir dir("jobsd-config");
    const auto missing = (dir.path / "missing.yaml").string();
    const auto loaded = jobsd::load_config(missing);
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].render() ==
          "error: cannot read " + missing + ": No such file or directory");
    CHECK(loaded.config.path == missing);

    const auto folder = jobsd::load_config(dir.path.string());
    REQUIRE(folder.errors.size() == 1);
    CHECK(folder.errors[0].message == "cannot read " + dir.path.string() + ": Is a directory");
  }

  TEST_CASE("load_config reports errors with the file's path and source line") {
    const test::TempDir dir("jobsd-config");
    const auto path = write(dir.path / "jobsd.yaml", "# jobsd\nqueues:\n  global_limit: 0\n");
    const auto loaded = jobsd::load_config(path);
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].render() ==
          path + ":3:17: error: \"queues.global_limit\": expected a whole number from 1 to 100000, "
                 "got \"0\"\n"
                 "    global_limit: 0\n"
                 "                  ^");
  }
}

TEST_SUITE("base.size") {
  TEST_CASE("parse_size reads bytes and binary units") {
    CHECK(*base::parse_size("4096") == 4096);
    CHECK(*base::parse_size("512K") == 512 << 10);
    CHECK(*base::parse_size("512kb") == 512 << 10);
    CHECK(*base::parse_size("1M") == 1 << 20);
    CHECK(*base::parse_size("2G") == 2LL << 30);
    CHECK(*base::parse_size("1T") == 1LL << 40);
    CHECK(*base::parse_size("100b") == 100);
    CHECK(base::parse_size("").error().message ==
          "invalid size \"\": empty (valid: 4096, 512K, 1M, 2G)");
    CHECK(base::parse_size("1.5M").error().location.column == 2);
    CHECK(base::parse_size("99999999999G").error().message ==
          "invalid size \"99999999999G\": too large (valid: 4096, 512K, 1M, 2G)");
    CHECK(!base::parse_size("-1K").ok());
  }

  TEST_CASE("format_size uses the largest exact unit") {
    CHECK(base::format_size(0) == "0");
    CHECK(base::format_size(1536) == "1536");
    CHECK(base::format_size(4096) == "4K");
    CHECK(base::format_size(10 << 20) == "10M");
    CHECK(base::format_size(3LL << 30) == "3G");
    CHECK(*base::parse_size(base::format_size(5LL << 40)) == 5LL << 40);
  }
}
