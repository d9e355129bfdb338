#include <jobs/loader.hpp>
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

    // A doubled backslash escapes itself, so the '%' after it still starts the input, as in
    // cron's loop.
    c = jobs::migrate::split_cron_command("echo a\\\\%x");
    CHECK(c.command == "echo a\\\\");
    CHECK(c.input == "x");

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
    CHECK(id_from_command("sleep 30; date") == "");
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
    CHECK_FALSE(r.jobs[0].doc["env"].contains("X"));
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

  TEST_CASE("ids of real Debian cron.d lines skip their guards and preambles") {
    struct Case {
      const char* line; // after the user column
      const char* id;
    };
    const Case cases[] = {
        // certbot
        {"test -x /usr/bin/certbot -a \\! -d /run/systemd/system && perl -e 'sleep "
         "int(rand(43200))' && certbot -q renew",
         "certbot"},
        // mdadm (bookworm, and the older form)
        {"if [ -x /usr/share/mdadm/checkarray ] && [ $(date +\\%d) -le 7 ]; then "
         "/usr/share/mdadm/checkarray --cron --all --idle --quiet; fi",
         "checkarray"},
        {"[ -x /usr/share/mdadm/checkarray ] && [ $(date +\\%d) -le 7 ] && "
         "/usr/share/mdadm/checkarray --cron --all --idle --quiet",
         "checkarray"},
        // e2fsprogs
        {"test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r", "e2scrub_all"},
        // php
        {"[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then "
         "/usr/lib/php/sessionclean; fi",
         "sessionclean"},
        // popularity-contest
        {"test -x /etc/cron.daily/popularity-contest && /etc/cron.daily/popularity-contest "
         "--crond",
         "popularity-contest"},
        // a date stamp in backquotes
        {"sleep 10 && tar czf /var/backups/etc-`date +\\%F`.tgz /etc", "tar"},
    };
    for (const auto& c : cases) {
      CAPTURE(std::string(c.line));
      const auto r = jobs::migrate::convert("/etc/cron.d/x",
                                            std::string("0 1 * * * root ") + c.line + "\n", utc());
      REQUIRE(r.jobs.size() == 1);
      CHECK(r.jobs[0].id == c.id);
    }
  }

  TEST_CASE("lines cron refused convert disabled, and so does the rest of their file") {
    // Debian's cron (3.0pl1) and cronie read numbers, names in any case, ranges, steps after a
    // range or '*', and lower-case macros; anything else makes them ignore the whole file.
    struct Case {
      const char* line;
      const char* why;
    };
    const Case refused[] = {
        {"0 0 L * *", "day of month: cron has no \"L\""},
        {"0 0 LW * *", "day of month: cron has no \"LW\""},
        {"0 0 15W * *", "day of month: cron has no \"15W\""},
        {"0 0 * * 5L", "day of week: cron has no \"5L\""},
        {"0 0 ? * 1", "day of month: cron has no \"?\""},
        {"5/10 * * * *", "minute: cron takes a step only after a range or * (5/10)"},
        {"@REBOOT", "cron has no @REBOOT"},
        {"@Daily", "cron has no @Daily"},
    };
    for (const auto& c : refused) {
      CAPTURE(std::string(c.line));
      const auto r = jobs::migrate::convert(
          "c", std::string("0 1 * * MON /bin/a\n") + c.line + " /bin/b\n", utc());
      REQUIRE(r.jobs.size() == 2);
      CHECK(r.jobs[1].doc["enabled"] == false);
      CHECK(said(r, "2:0: note: cron refused this line (" + std::string(c.why)));
      CHECK(said(r, ") and never ran it; the job is written with enabled: false"));
      // Cron ignored the whole file: the good line never ran either.
      CHECK(r.jobs[0].doc["enabled"] == false);
      CHECK(said(r, "2:0: note: cron ignores a whole crontab when one of its lines is not "
                    "cron's syntax (line 2): no job of this file ever ran"));
    }

    // What cron reads: names in any case, lower-case macros, ranges and steps.
    for (const char* line : {"0 0 * * MON-fri", "0 0 * JAN,jul *", "@reboot", "*/5 1-5/2 * * *",
                             "0 0 * * 7", "@midnight"}) {
      CAPTURE(line);
      const auto r = jobs::migrate::convert("c", std::string(line) + " /bin/a\n", utc());
      REQUIRE(r.jobs.size() == 1);
      CHECK_FALSE(r.jobs[0].doc.contains("enabled"));
      CHECK_FALSE(said(r, "refused"));
    }

    // A reversed day-of-week range is no day for cron: never, with any day of month...
    auto r = jobs::migrate::convert("c", "0 0 * * FRI-SUN /bin/a\n", utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["enabled"] == false);
    CHECK(said(r, "1:0: note: cron never ran this line: day of week FRI-SUN is a reversed range, "
                  "which cron reads as no day; the job is written with enabled: false"));
    CHECK_FALSE(said(r, "whole crontab"));
    // ... the days of month alone otherwise.
    r = jobs::migrate::convert("c", "0 0 1 * FRI-SUN /bin/a\n", utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK_FALSE(r.jobs[0].doc.contains("enabled"));
    CHECK(r.jobs[0].doc["schedule"] == "0 0 1 * *");

    // Cron skips what follows a field's list: 1#2 ran every Monday.
    r = jobs::migrate::convert("c", "0 0 * * 1#2 /bin/a\n", utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["schedule"] == "0 0 * * 1");
    CHECK_FALSE(r.jobs[0].doc.contains("enabled"));
    CHECK(said(r, "1:0: note: day of week 1#2: cron skipped \"#2\" unread and ran this line with "
                  "1; so does the job"));
  }

  TEST_CASE("a crontab cron ignored whole: no final newline, or a line it cannot read") {
    auto r = jobs::migrate::convert("c", "0 1 * * * /bin/a\n0 2 * * * /bin/b", utc());
    REQUIRE(r.jobs.size() == 2);
    CHECK(r.jobs[0].doc["enabled"] == false);
    CHECK(r.jobs[1].doc["enabled"] == false);
    CHECK(said(r, "2:0: note: cron ignores a whole crontab when it does not end in a newline: no "
                  "job of this file ever ran, and all are written with enabled: false (jobsctl "
                  "enable ID once checked)"));

    r = jobs::migrate::convert("c", "0 1 * * * /bin/a\nnot a line\n", utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["enabled"] == false);
    CHECK(said(r, "2:0: note: cron ignores a whole crontab when a line is neither a job nor a "
                  "setting (line 2)"));
  }

  TEST_CASE("CR LF line ends and a home that does not exist are said") {
    auto r = jobs::migrate::convert("c", "0 1 * * * /bin/a\r\n0 2 * * * /bin/b\r\n", utc());
    REQUIRE(r.jobs.size() == 2);
    CHECK(r.jobs[0].doc["command"] == "/bin/a");
    CHECK(said(r, "1:0: note: lines end in CR LF (a Windows file): cron kept the CR as the last "
                  "character of each command; the jobs run the commands without it"));

    r = jobs::migrate::convert("/etc/cron.d/x", "HOME=/nonexistent\n0 1 * * * nobody /bin/a\n",
                               utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["working_directory"] == "/nonexistent");
    CHECK(said(r, "2:0: note: working_directory /nonexistent does not exist on this machine: cron "
                  "ran the command in its own directory then; the job fails to start until it "
                  "exists (set working_directory)"));
  }

  TEST_CASE("the job's environment is cron's: every setting, then cron's defaults") {
    auto r = jobs::migrate::convert("/etc/cron.d/x", "0 1 * * * root /bin/a\n", utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["env"].dump() ==
          R"({"SHELL":"/bin/sh","HOME":"/root","PATH":"/usr/bin:/bin","LOGNAME":"root"})");

    r = jobs::migrate::convert("/etc/cron.d/x",
                               "SHELL=/bin/bash\nMAILTO=ops@example.com\nPATH=/sbin:/bin\n"
                               "LOGNAME=other\nCRON_TZ=UTC\n0 1 * * * root /bin/a\n",
                               utc());
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["env"].dump() ==
          R"({"SHELL":"/bin/bash","MAILTO":"ops@example.com","PATH":"/sbin:/bin",)"
          R"("LOGNAME":"root","CRON_TZ":"UTC","HOME":"/root"})");
    CHECK(r.jobs[0].doc["steps"][0]["shell"] == "bash");
  }

  TEST_CASE("a scheduled_time with Z or an offset keeps its instant") {
    const auto job_at = [](const std::string& time) {
      const auto r = jobs::migrate::convert(
          "v2.json",
          R"({"job": {"id": "j", "timezone": "America/New_York", "steps": [{"id": "s",
              "type": "shell", "run": "true"}]}, "scheduled_time": ")" +
              time + "\"}",
          utc());
      REQUIRE(r.jobs.size() == 1);
      return r.jobs[0].doc;
    };
    // 06:30Z is 01:30 EST, in the hour that America/New_York's clocks show twice on 2025-11-02:
    // the local time alone would name 05:30Z.
    const auto doc = job_at("2025-11-02T06:30:00Z");
    CHECK(doc["schedule"]["at"] == "2025-11-02T01:30:00-05:00");
    const auto file = jobs::load_job_text("j.json", doc.dump(), {});
    REQUIRE(file.job.has_value());
    CHECK(file.job->schedule.at == 1762065000); // 2025-11-02T06:30:00Z

    // Without an offset the time is the job zone's, as written.
    CHECK(job_at("2025-11-02T01:30:00")["schedule"]["at"] == "2025-11-02T01:30:00");
  }

  TEST_CASE("the registry's retry delay over 10 minutes is kept by max_delay") {
    const auto convert = [](int seconds) {
      return jobs::migrate::convert(
          "r.json",
          R"({"_id": "r", "template_type": "shell", "parameters": {"run": "true"},
              "retry_policy": {"max_retries": 2, "retry_delay_seconds": )" +
              std::to_string(seconds) + R"(}, "created_by": "ann", "version": 3})",
          utc());
    };
    auto r = convert(1800);
    REQUIRE(r.jobs.size() == 1);
    CHECK(r.jobs[0].doc["retries"].dump() ==
          R"({"max":2,"delay":"30m","backoff":1.0,"max_delay":"30m"})");
    const auto file = jobs::load_job_text("r.json", r.jobs[0].doc.dump(), {});
    REQUIRE(file.job.has_value());
    CHECK(file.job->retries.max_delay == 1800);
    CHECK(said(r, "note: created_by, version: the registry's bookkeeping, which job files have "
                  "no key for; kept under metadata"));

    r = convert(600);
    CHECK_FALSE(r.jobs[0].doc["retries"].contains("max_delay"));
  }
}
