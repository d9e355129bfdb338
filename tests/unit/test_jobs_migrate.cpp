#include <jobs/migrate.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using jobs::migrate::Finding;

// "line:col: note|error: message" for each finding.
std::vector<std::string> findings(const jobs::migrate::Result& r) {
  std::vector<std::string> out;
  for (const auto& f : r.findings) {
    out.push_back(std::to_string(f.line) + ":" + std::to_string(f.column) + ": " +
                  (f.kind == Finding::Kind::unconverted ? "error" : "note") + ": " + f.message);
  }
  return out;
}

bool said(const jobs::migrate::Result& r, const std::string& part) {
  for (const auto& f : findings(r)) {
    if (f.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

jobs::migrate::Options utc() {
  jobs::migrate::Options o;
  o.timezone = "UTC";
  return o;
}

} // namespace

TEST_SUITE("migrate") {
  TEST_CASE("a crontab command is split at its first unescaped percent sign") {
    auto c = jobs::migrate::split_cron_command("date +\\%F");
    CHECK(c.command == "date +%F");
    CHECK_FALSE(c.input.has_value());

    c = jobs::migrate::split_cron_command("mail -s hi root%line 1%line \\% 2%");
    CHECK(c.command == "mail -s hi root");
    REQUIRE(c.input.has_value());
    CHECK(*c.input == "line 1\nline % 2\n");

    c = jobs::migrate::split_cron_command("cat%");
    CHECK(c.command == "cat");
    CHECK(c.input == std::string());

    // Backslashes before anything else stay, as cron leaves them.
    c = jobs::migrate::split_cron_command("echo a\\tb");
    CHECK(c.command == "echo a\\tb");
  }

  TEST_CASE("ids name the program a command runs") {
    using jobs::migrate::id_from_command;
    CHECK(id_from_command("/usr/local/bin/backup.sh --full") == "backup");
    CHECK(id_from_command("cd / && run-parts --report /etc/cron.hourly") == "cron.hourly");
    CHECK(id_from_command("test -x /usr/sbin/anacron || { cd / && run-parts --report "
                          "/etc/cron.daily; }") == "cron.daily");
    CHECK(id_from_command("[ -x /etc/init.d/anacron ] && if [ ! -d /run/systemd/system ]; then "
                          "/usr/sbin/invoke-rc.d anacron start >/dev/null; fi") == "invoke-rc.d");
    CHECK(id_from_command("command -v debian-sa1 > /dev/null && debian-sa1 1 1") == "debian-sa1");
    CHECK(id_from_command("nice -n 10 flock -n /run/lock/x.lock /opt/bin/sync.sh") == "sync");
    CHECK(id_from_command("timeout 1h sudo -u app env LANG=C /srv/app/bin/export") == "export");
    CHECK(id_from_command("python3 -u scripts/cleanup_old_data.py --days 90") ==
          "cleanup_old_data");
    CHECK(id_from_command("LANG=C 'My Tool' --x") == "my-tool");
    CHECK(id_from_command("cd /tmp") == "");
    CHECK(id_from_command("nice -n") == ""); // an option missing its value (found by fuzzing)
  }

  TEST_CASE("ids from free text") {
    CHECK(jobs::migrate::id_from_text("Weekly User Data Cleanup") == "weekly-user-data-cleanup");
    CHECK(jobs::migrate::id_from_text("  --daily_data.cleanup!! ") == "daily_data.cleanup");
    CHECK(jobs::migrate::id_from_text("日本") == "");
    // A long name is cut (fuzz_migrate made an id longer than the 200 characters ids may have).
    CHECK(jobs::migrate::id_from_text(std::string(300, 'y')) == std::string(64, 'y'));
    CHECK(jobs::migrate::id_from_text(std::string(63, 'y') + "-z") == std::string(63, 'y'));
    const std::string line = "5 0 * * * /opt/" + std::string(300, 'y') + ".sh\n";
    const auto r = jobs::migrate::convert("my.crontab", line + line, utc());
    REQUIRE(r.jobs.size() == 2);
    CHECK(r.jobs[0].id == std::string(64, 'y'));
    CHECK(r.jobs[1].id == std::string(64, 'y') + "-2");
  }

  TEST_CASE("the user column comes from the path, or from the options") {
    const std::string line = "0 3 * * * root /usr/bin/true\n";
    auto r = jobs::migrate::convert("/etc/cron.d/x", line, utc());
    CHECK(r.format == "system crontab");
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["run_as"] == "root");
    CHECK(r.jobs[0].doc["command"] == "/usr/bin/true");

    r = jobs::migrate::convert("my.crontab", line, utc());
    CHECK(r.format == "crontab");
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["command"] == "root /usr/bin/true");

    auto o = utc();
    o.user_column = true;
    r = jobs::migrate::convert("my.crontab", line, o);
    CHECK(r.jobs[0].doc["run_as"] == "root");

    // A spool crontab belongs to the user it is named after.
    r = jobs::migrate::convert("/var/spool/cron/crontabs/alice", "@daily /bin/true\n", utc());
    CHECK(r.jobs[0].doc["run_as"] == "alice");

    // A file named crontab is read as a system one; the error says how to read it as a user's.
    r = jobs::migrate::convert("crontab", "5 0 * * * /opt/backup.sh\n", utc());
    CHECK(r.jobs.empty());
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].message.ends_with("(for a user's crontab, which has no user column: "
                                          "jobsctl migrate --crontab user)"));
  }

  TEST_CASE("settings apply to the lines below them") {
    const auto r = jobs::migrate::convert("c",
                                          "0 1 * * * /bin/a\n"
                                          "CRON_TZ=Asia/Tokyo\n"
                                          "MAILTO=root, dev@example.com\n"
                                          "X = 'y z'\n"
                                          "0 2 * * * /bin/b\n",
                                          utc());
    REQUIRE(r.jobs.size() == 2);
    CHECK(r.jobs[0].doc["timezone"] == "UTC");
    CHECK_FALSE(r.jobs[0].doc.contains("env"));
    CHECK_FALSE(r.jobs[0].doc.contains("notify"));
    CHECK(r.jobs[1].doc["timezone"] == "Asia/Tokyo");
    CHECK(r.jobs[1].doc["env"]["X"] == "y z");
    CHECK(r.jobs[1].doc["notify"]["on_failure"].dump() ==
          R"([{"email":"root@localhost"},{"email":"dev@example.com"}])");
    CHECK(said(r, "3:0: note: MAILTO=root is a local mailbox; the job mails root@localhost"));
    CHECK(said(r, "3:0: note: MAILTO=root@localhost,dev@example.com: cron mails any output; "
                  "the job now emails on failure"));
  }

  TEST_CASE("cron never stops a command: crontab jobs say timeout: none, with one note") {
    const auto r = jobs::migrate::convert("c", "0 1 * * * /bin/a\n0 2 * * * /bin/b\n", utc());
    REQUIRE(r.jobs.size() == 2);
    CHECK(r.jobs[0].doc["timeout"] == "none");
    CHECK(r.jobs[1].doc["timeout"] == "none");
    const std::string note = "1:0: note: cron never stops a command; these jobs say timeout: none "
                             "to keep cron's way, so a run that hangs makes them skip every later "
                             "fire (write a timeout to have jobsd stop it)";
    const auto f = findings(r);
    CHECK(std::count(f.begin(), f.end(), note) == 1);
  }

  TEST_CASE("JSON sources keep the timeout they had; without one the daemon's default applies") {
    const std::string registry =
        R"({"_id": "r", "name": "R", "template_type": "shell", "parameters": {"run": "ls"})";
    auto r = jobs::migrate::convert("r.json", registry + R"(, "timeout_seconds": 7200})", utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["timeout"] == "2h");
    r = jobs::migrate::convert("r.json", registry + "}", utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK_FALSE(r.jobs[0].doc.contains("timeout"));

    const std::string v2 = R"({"id": "v", "name": "V", "steps": [{"id": "a", "type": "shell"}])";
    r = jobs::migrate::convert("v.json", v2 + R"(, "timeout_seconds": 600})", utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["timeout"] == "10m");
    r = jobs::migrate::convert("v.json", v2 + "}", utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK_FALSE(r.jobs[0].doc.contains("timeout"));
  }

  TEST_CASE("bad crontab lines are reported at their place and the rest converts") {
    const auto r = jobs::migrate::convert("c",
                                          "CRON_TZ=Europe/Berln\n"
                                          "0 1 * * * /bin/a\n"
                                          "CRON_TZ=UTC\n"
                                          "0 1 * * 8 /bin/b\n"
                                          "0 1 * *\n"
                                          "0\t1 * * *\t /bin/c\n",
                                          utc());
    const auto f = findings(r);
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["command"] == "/bin/c");
    CHECK(said(r, "1:1: error: CRON_TZ: unknown time zone \"Europe/Berln\"; did you mean "
                  "\"Europe/Berlin\"?"));
    CHECK(said(r, "2:0: error: not converted: the CRON_TZ on line 1 names no known time zone"));
    CHECK(said(r, "4:9: error: field 5 (day of week): 8 is out of range"));
    CHECK(said(r, "5:1: error: a job line needs five time fields, then the command"));
  }

  TEST_CASE("a crontab line that is not UTF-8 is reported, not converted") {
    const auto r = jobs::migrate::convert("c", "0 1 * * * echo caf\xe9\n0 2 * * * /bin/b\n", utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK(said(r, "1:19: error: not UTF-8 text; convert the file first"));
    CHECK(r.jobs[0].line == 2);
  }

  TEST_CASE("JSON sources: syntax errors and unknown documents are reported with their line") {
    auto r = jobs::migrate::convert("x.json", "{\n  \"name\": \"a\",\n  oops\n}\n", utc());
    CHECK(r.jobs.empty());
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].line == 3);
    CHECK(r.findings[0].kind == Finding::Kind::unconverted);

    r = jobs::migrate::convert("x.json", "[\n  {\"name\": \"a\"},\n  3\n]\n", utc());
    CHECK(said(r, "2:3: error: not a job of a known format"));
    CHECK(said(r, "3:3: error: expected a job (a JSON object), got a value"));
  }

  TEST_CASE("both key styles of the EDD V2 job give the same steps") {
    const auto a =
        jobs::migrate::convert("a.json",
                               R"({"job": {"id": "j", "name": "J", "timezone": "UTC", "steps": [
             {"id": "s", "name": "S", "type": "powershell", "script": "x", "timeout": 90}]}})",
                               utc());
    const auto b = jobs::migrate::convert(
        "b.json",
        R"({"job": {"job_id": "j", "job_name": "J", "timezone": "UTC", "steps": [
             {"step_id": "s", "step_name": "S", "step_type": "powershell",
              "config": {"script": "x", "timeout": 90}}]}})",
        utc());
    REQUIRE(a.jobs.size() == 1);
    REQUIRE(b.jobs.size() == 1);
    CHECK(a.jobs[0].doc == b.jobs[0].doc);
    CHECK(a.jobs[0].doc["steps"][0]["timeout"] == "1m30s");
    CHECK(a.format == "EDD V2 JSON (id/name/type)");
    CHECK(b.format == "EDD V2 JSON (job_id/job_name/step_type/config)");
  }

  TEST_CASE("the EDD's sql keys take their new names") {
    const auto r = jobs::migrate::convert(
        "l.json",
        R"({"job_id": "r", "name": "R", "job_type": "sql", "sql_query": "SELECT 1",
            "connection_name": "main_db", "parameters": {"a": 1}, "timeout": 300})",
        utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK(
        r.jobs[0].doc["steps"][0].dump() ==
        R"({"id":"main","type":"sql","query":"SELECT 1","connection":"main_db","timeout":"5m","params":{"a":1}})");
  }
}
