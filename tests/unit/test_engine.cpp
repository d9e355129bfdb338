#include <engine/executor.hpp>
#include <engine/integrations.hpp>
#include <engine/notify.hpp>
#include <jobs/loader.hpp>

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <support/temp_dir.hpp>
#include <vector>

namespace {

using namespace std::chrono_literals;

jobs::JobDefinition job(const std::string& yaml, const std::string& path = "/tmp/job.yaml",
                        std::optional<std::int64_t> default_timeout = jobs::default_job_timeout) {
  jobs::LoadOptions options;
  options.daemon_is_root = true;
  options.default_timeout = default_timeout;
  auto file = jobs::load_job_text(path, yaml, options);
  std::string errors;
  for (const auto& d : file.diagnostics) {
    errors += jobs::render(d) + "\n";
  }
  INFO(errors);
  REQUIRE(file.job.has_value());
  return *file.job;
}

// Retry waits pass at once and are written down.
struct FakeClock : engine::Clock {
  engine::TimePoint t = engine::TimePoint(std::chrono::seconds(1'800'000'000));
  std::vector<std::chrono::milliseconds> sleeps;
  engine::TimePoint now() override { return t; }
  bool sleep_for(std::chrono::milliseconds d, exec::CancelToken*) override {
    sleeps.push_back(d);
    t += d;
    return true;
  }
};

struct Recorder : engine::Events {
  std::vector<std::string> events;
  std::vector<std::string> lines;
  std::function<void(std::string_view)> on_line;
  void execution_started(const engine::JobResult& r) override {
    events.push_back("start " + r.execution_id.substr(0, 0) + r.trigger);
  }
  void step_started(const engine::JobResult&, const engine::StepResult& s) override {
    events.push_back("step " + s.step_id + " #" + std::to_string(s.attempt));
  }
  void output(const engine::JobResult&, const engine::StepResult& s, exec::Stream stream,
              std::string_view line) override {
    lines.push_back(s.step_id + (stream == exec::Stream::out ? " out: " : " err: ") +
                    std::string(line));
    if (on_line) {
      on_line(line);
    }
  }
  void step_finished(const engine::JobResult&, const engine::StepResult& s) override {
    events.push_back("end " + s.step_id + " " + engine::to_string(s.status));
  }
  void retrying(const engine::JobResult&, const engine::StepResult* s,
                std::chrono::milliseconds d) override {
    events.push_back("retry " + (s ? s->step_id : std::string("job")) + " in " +
                     std::to_string(d.count()) + "ms");
  }
  void execution_finished(const engine::JobResult& r) override {
    events.push_back(std::string("finish ") + engine::to_string(r.status));
  }
};

engine::RunOptions options(FakeClock& clock) {
  engine::RunOptions o;
  o.clock = &clock;
  o.random = [] { return 0.0; };
  o.environment = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
  return o;
}

} // namespace

TEST_SUITE("engine") {
  TEST_CASE("shell, command, a failing step that continues, and an always step") {
    FakeClock clock;
    Recorder rec;
    const auto j = job(R"(
name: Three steps
steps:
  - id: hello
    type: shell
    run: echo "hello from ${job.id}"; echo warn >&2
  - id: list
    type: command
    argv: [printf, "%s|", "${steps.hello.output}", "${steps.hello.exit_code}"]
  - id: broken
    type: shell
    run: exit 3
    continue_on_failure: true
  - id: after
    type: shell
    run: echo after
  - id: tidy
    type: shell
    when: always
    run: echo "broken ended ${steps.broken.status} with ${steps.broken.exit_code}"
)");
    const auto r = engine::run_job(j, options(clock), rec);
    CHECK(r.status == engine::Status::partial_success);
    CHECK(r.execution_id.size() == 26);
    CHECK(r.trigger == "manual");
    REQUIRE(r.steps.size() == 5);
    CHECK(r.steps[0].output == "hello from job\n");
    CHECK(r.steps[0].error_output == "warn\n");
    CHECK(r.steps[1].output == "hello from job|0|");
    CHECK(r.steps[2].status == engine::Status::failed);
    CHECK(r.steps[2].exit_code == 3);
    CHECK(r.steps[2].error_message == "exit code 3");
    CHECK(r.steps[3].status == engine::Status::success);
    CHECK(r.steps[4].output == "broken ended failed with 3\n");
    CHECK(rec.events.front() == "start manual");
    CHECK(rec.events.back() == "finish partial_success");
    CHECK(std::find(rec.lines.begin(), rec.lines.end(), "hello err: warn") != rec.lines.end());
  }

  TEST_CASE("when and continue_on_failure after a failure") {
    FakeClock clock;
    Recorder rec;
    const auto j = job(R"(
steps:
  - {id: a, type: shell, run: "echo a"}
  - {id: b, type: shell, run: "exit 1"}
  - {id: c, type: shell, run: "echo c"}
  - {id: d, type: shell, run: "echo d", when: on_failure}
  - {id: e, type: shell, run: "echo e", when: always}
  - {id: f, type: shell, run: "echo f", when: on_success}
)");
    const auto r = engine::run_job(j, options(clock), rec);
    CHECK(r.status == engine::Status::failed);
    CHECK(r.error_message == "step \"b\": exit code 1");
    std::vector<std::string> statuses;
    for (const auto& s : r.steps) {
      statuses.push_back(engine::to_string(s.status));
    }
    CHECK(statuses == std::vector<std::string>{"success", "failed", "skipped", "success", "success",
                                               "skipped"});

    // Without a failure, on_failure steps are the ones skipped.
    const auto ok = job(R"(
steps:
  - {id: a, type: shell, run: "true"}
  - {id: d, type: shell, run: "echo d", when: on_failure}
  - {id: e, type: shell, run: "echo e", when: always}
)");
    const auto r2 = engine::run_job(ok, options(clock), rec);
    CHECK(r2.status == engine::Status::success);
    CHECK(r2.steps[1].status == engine::Status::skipped);
    CHECK(r2.steps[2].status == engine::Status::success);
  }

  TEST_CASE("step retries back off exponentially up to the cap") {
    test::TempDir dir("jobs-engine");
    FakeClock clock;
    Recorder rec;
    const auto counter = (dir.path / "n").string();
    const auto j = job(R"(
steps:
  - id: flaky
    type: shell
    run: n=$(cat )" + counter +
                       R"( 2>/dev/null || echo 0); n=$((n+1)); echo $n > )" + counter +
                       R"(; [ $n -ge 4 ]
    retries: {max: 5, delay: 10s, backoff: 2, max_delay: 25s}
)");
    const auto r = engine::run_job(j, options(clock), rec);
    CHECK(r.status == engine::Status::success);
    CHECK(r.steps[0].attempt == 4);
    CHECK(clock.sleeps == std::vector<std::chrono::milliseconds>{10s, 20s, 25s});

    // Jitter adds up to a tenth.
    jobs::RetryPolicy p;
    p.delay = 10;
    p.backoff = 3;
    p.max_delay = 3600;
    CHECK(engine::retry_delay(p, 1, 0.0) == 10s);
    CHECK(engine::retry_delay(p, 3, 0.0) == 90s);
    CHECK(engine::retry_delay(p, 3, 0.5) == 94500ms);
  }

  TEST_CASE("job retries: each attempt is its own execution") {
    FakeClock clock;
    Recorder rec;
    const auto j = job(R"(
retries: {max: 2, delay: 30s}
steps:
  - {id: a, type: shell, run: "exit 1"}
)");
    const auto attempts = engine::run_with_retries(j, options(clock), rec);
    REQUIRE(attempts.size() == 3);
    CHECK(attempts[0].trigger == "manual");
    CHECK(attempts[1].trigger == "retry");
    CHECK(attempts[2].attempt == 3);
    CHECK(attempts[0].execution_id != attempts[1].execution_id);
    CHECK(attempts[0].execution_id < attempts[1].execution_id);
    CHECK(clock.sleeps == std::vector<std::chrono::milliseconds>{30s, 60s});
    CHECK(std::count(rec.events.begin(), rec.events.end(), "retry job in 30000ms") == 1);
  }

  TEST_CASE("step and job timeouts") {
    FakeClock clock;
    Recorder rec;
    auto r = engine::run_job(job(R"(
steps:
  - {id: slow, type: shell, run: "sleep 30", timeout: 1s}
  - {id: next, type: shell, run: "echo next"}
)"),
                             options(clock), rec);
    CHECK(r.status == engine::Status::timeout);
    CHECK(r.steps[0].status == engine::Status::timeout);
    CHECK(r.steps[0].error_message == "timed out after 1s");
    CHECK(r.steps[1].status == engine::Status::skipped);

    r = engine::run_job(job(R"(
timeout: 1s
steps:
  - {id: slow, type: shell, run: "sleep 30"}
  - {id: tidy, type: shell, run: "echo tidy", when: always}
)"),
                        options(clock), rec);
    CHECK(r.status == engine::Status::timeout);
    CHECK(r.steps[0].error_message == "the job's timeout of 1s ran out");
    CHECK(r.steps[1].status == engine::Status::skipped);
    CHECK(r.steps[1].error_message == "the job timed out");
    CHECK(r.error_message == "the job's timeout of 1s ran out during step \"slow\"");
  }

  TEST_CASE("the daemon's default_timeout stops a job without timeout, and says so") {
    FakeClock clock;
    Recorder rec;
    const std::string steps = R"(
steps:
  - {id: slow, type: shell, run: "sleep 30"}
  - {id: tidy, type: shell, run: "echo tidy", when: always}
)";
    auto r = engine::run_job(job(steps, "/tmp/job.yaml", 1), options(clock), rec);
    CHECK(r.status == engine::Status::timeout);
    CHECK(r.steps[0].status == engine::Status::timeout);
    CHECK(r.steps[0].error_message == "the default_timeout of 1s ran out");
    CHECK(r.steps[1].status == engine::Status::skipped);
    CHECK(r.error_message == "the default_timeout of 1s ran out during step \"slow\"");

    // timeout: none opts out: the job outlives the default.
    r = engine::run_job(job("timeout: none\ncommand: sleep 1.5", "/tmp/job.yaml", 1),
                        options(clock), rec);
    CHECK(r.status == engine::Status::success);
    CHECK(r.error_message == "");
  }

  TEST_CASE("cancelling a running job stops its process and skips the rest") {
    FakeClock clock;
    Recorder rec;
    exec::CancelToken token;
    rec.on_line = [&](std::string_view line) {
      if (line == "ready") {
        token.cancel();
      }
    };
    auto o = options(clock);
    o.cancel = &token;
    const auto r = engine::run_job(job(R"(
steps:
  - {id: wait, type: shell, run: "echo ready; sleep 30"}
  - {id: tidy, type: shell, run: "echo tidy", when: always}
)"),
                                   o, rec);
    CHECK(r.status == engine::Status::cancelled);
    CHECK(r.steps[0].status == engine::Status::cancelled);
    CHECK(r.steps[1].status == engine::Status::skipped);
  }

  TEST_CASE("variables are inert in shell, command and powershell steps") {
    test::TempDir dir("jobs-engine");
    const auto marker = dir.path / "pwned";
    const std::string nasty = "'; touch " + marker.string() + "; echo '$(touch " + marker.string() +
                              ")`touch " + marker.string() + "`";
    // A fake pwsh that prints its arguments, one per line.
    const auto bin = dir.path / "bin";
    std::filesystem::create_directories(bin);
    std::ofstream(bin / "pwsh") << "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n";
    std::filesystem::permissions(bin / "pwsh", std::filesystem::perms::owner_all);

    FakeClock clock;
    Recorder rec;
    auto o = options(clock);
    o.environment = {{"PATH", bin.string() + ":/usr/bin:/bin"}, {"NASTY", nasty}};
    const auto r = engine::run_job(job(R"(
steps:
  - {id: src, type: shell, run: "printf '%s' \"$NASTY\""}
  - {id: sh1, type: shell, run: "echo ${steps.src.output}"}
  - {id: sh2, type: shell, run: "echo \"${env.NASTY}\""}
  - {id: cmd, type: command, argv: [echo, "${steps.src.output}"]}
  - id: ps
    type: powershell
    script_path: ./task.ps1
    parameters: {Input: "${steps.src.output}"}
)"),
                                   o, rec);
    CHECK(r.status == engine::Status::success);
    CHECK(r.steps[0].output == nasty);
    CHECK(r.steps[1].output == nasty + "\n");
    CHECK(r.steps[2].output == nasty + "\n");
    CHECK(r.steps[3].output == nasty + "\n");
    CHECK(r.steps[4].output ==
          "-NoProfile\n-NonInteractive\n-File\n./task.ps1\n-Input\n" + nasty + "\n");
    CHECK_FALSE(std::filesystem::exists(marker));
  }

  TEST_CASE("every process step gets the job's variables in its environment") {
    FakeClock clock;
    Recorder rec;
    auto o = options(clock);
    o.trigger = "schedule";
    o.scheduled_time = 1'800'000'000; // 2027-01-15T08:00:00Z
    const auto j = job(R"(
name: Env check
timezone: Asia/Tokyo
env: {GREETING: "hi ${job.name}"}
steps:
  - {id: first, type: shell, run: "echo one; exit 0"}
  - id: second
    type: shell
    env: {LOCAL: "${execution.scheduled_date}"}
    run: echo "$JOB_ID|$JOB_TRIGGER|$JOB_SCHEDULED_TIME|$JOB_SCHEDULED_DATE|$STEP_FIRST_OUTPUT|$STEP_FIRST_EXIT_CODE|$GREETING|$LOCAL|${#JOB_EXECUTION_ID}"
)",
                       "/tmp/env-check.yaml");
    auto r = engine::run_job(j, o, rec);
    CHECK(r.steps[1].output == "env-check|schedule|2027-01-15T08:00:00.000Z|2027-01-15|one|0|hi "
                               "Env check|2027-01-15|26\n");

    // A run by hand has no scheduled time, as its record; its date is the day it started in
    // the job's zone (2027-01-14T23:00Z is the 15th in Tokyo).
    o.trigger = "manual";
    o.scheduled_time.reset();
    clock.t -= std::chrono::hours(9);
    r = engine::run_job(j, o, rec);
    CHECK(r.steps[1].output == "env-check|manual||2027-01-15|one|0|hi Env check|2027-01-15|26\n");
  }

  TEST_CASE("the failed step is the one that failed the job, else the first that failed") {
    FakeClock clock;
    Recorder rec;
    const auto failed_step = [](const engine::JobResult& r) {
      return engine::notification_payload(engine::NotifyEvent::failure, r)["failed_step"];
    };
    // b may fail; d fails the job; e, which always runs, fails after it.
    auto r = engine::run_job(job(R"(
steps:
  - {id: a, type: shell, run: "true"}
  - {id: b, type: shell, run: "exit 3", continue_on_failure: true}
  - {id: c, type: shell, run: "true"}
  - {id: d, type: shell, run: "echo d >&2; exit 4"}
  - {id: e, type: shell, run: "exit 5", when: always}
)"),
                             options(clock), rec);
    CHECK(r.status == engine::Status::failed);
    CHECK(r.error_message == "step \"d\": exit code 4");
    REQUIRE(r.failed_step() != nullptr);
    CHECK(r.failed_step()->step_id == "d");
    CHECK(failed_step(r)["step_id"] == "d");
    CHECK(failed_step(r)["exit_code"] == 4);
    CHECK(failed_step(r)["error_output_tail"] == "d\n");

    // Only b failed: a partial success, and b is the step to show.
    r = engine::run_job(job(R"(
steps:
  - {id: a, type: shell, run: "true"}
  - {id: b, type: shell, run: "exit 3", continue_on_failure: true}
  - {id: c, type: shell, run: "true"}
)"),
                        options(clock), rec);
    CHECK(r.status == engine::Status::partial_success);
    REQUIRE(r.failed_step() != nullptr);
    CHECK(failed_step(r)["step_id"] == "b");

    // The job's timeout ran out during a step that may fail: that step ended the job.
    r = engine::run_job(job(R"(
timeout: 1s
steps:
  - {id: a, type: shell, run: "exit 3", continue_on_failure: true}
  - {id: b, type: shell, run: "sleep 30", continue_on_failure: true}
)"),
                        options(clock), rec);
    CHECK(r.status == engine::Status::timeout);
    CHECK(failed_step(r)["step_id"] == "b");

    r = engine::run_job(job("steps:\n  - {id: a, type: shell, run: \"true\"}\n"), options(clock),
                        rec);
    CHECK(r.failed_step() == nullptr);
    CHECK(failed_step(r).is_null());
  }

  TEST_CASE("secrets reach the process and nothing else") {
    FakeClock clock;
    Recorder rec;
    auto o = options(clock);
    o.secrets = {{"TOKEN", "s3cr3t-value"}};
    const auto r = engine::run_job(job(R"(
steps:
  - {id: use, type: shell, run: "echo token=${secret.TOKEN}; echo ${secret.TOKEN} >&2; exit 1"}
)"),
                                   o, rec);
    CHECK(r.steps[0].output == "token=***\n");
    CHECK(r.steps[0].error_output == "***\n");
    for (const auto& line : rec.lines) {
      CHECK(line.find("s3cr3t") == std::string::npos);
    }
    o.secrets.clear();
    const auto missing = engine::run_job(job(R"(
steps:
  - {id: use, type: shell, run: "echo ${secret.TOKEN}"}
)"),
                                         o, rec);
    CHECK(missing.status == engine::Status::failed);
    CHECK(missing.steps[0].error_message ==
          "secret \"TOKEN\" is not set (give it in the environment or the secrets file)");
  }

  TEST_CASE("a powershell step without pwsh fails with a clear message") {
    FakeClock clock;
    Recorder rec;
    auto o = options(clock);
    o.environment = {{"PATH", "/nonexistent"}};
    const auto r = engine::run_job(job(R"(
steps:
  - {id: ps, type: powershell, script: "Write-Output hi"}
)"),
                                   o, rec);
    CHECK(r.status == engine::Status::failed);
    CHECK(r.steps[0].error_message == "pwsh not found in PATH");
  }

  TEST_CASE("execution ids sort by time and never repeat") {
    std::vector<std::string> ids;
    const auto t = std::chrono::system_clock::now();
    for (int i = 0; i < 2000; ++i) {
      ids.push_back(engine::new_execution_id(t + std::chrono::milliseconds(i / 100)));
    }
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
    CHECK(ids[0].size() == 26);
  }

  TEST_CASE("secrets files and redaction") {
    const auto s = engine::parse_secrets("# db\nDB_PASSWORD=hunter22\nTOKEN = \"a b\"\n\n", "s");
    REQUIRE(s.ok());
    CHECK(s->at("DB_PASSWORD") == "hunter22");
    const auto bad = engine::parse_secrets("ok=1\nnot a line\n", "secrets.env");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().location.line == 2);
    CHECK(engine::redact("pw hunter22 and hunter22", *s) == "pw *** and ***");
    CHECK(engine::redact("ab cab", {{"X", "ab"}}) == "*** c***"); // short ones too
  }

  TEST_CASE("notifications: on_retry per failed attempt, on_failure once, with the summary") {
    test::TempDir dir;
    FakeClock clock;
    struct Notes : Recorder {
      std::vector<engine::Notified> sent;
      void notified(const engine::JobResult&, const engine::Notified& n) override {
        sent.push_back(n);
      }
    } notes;
    const std::string out = (dir.path / "payloads").string();
    const auto j = job(R"(
env: { WHERE: )" + out +
                       R"( }
retries: {max: 1, delay: 5s}
notify:
  on_retry: [ { command: 'cat >> "$WHERE"; echo >> "$WHERE"' } ]
  on_failure: [ { command: [sh, -c, 'cat >> "$0"; echo >> "$0"; exit 3', )" +
                       out + R"(] } ]
  on_success: [ { command: "echo never >> )" +
                       out + R"(" } ]
steps:
  - {id: a, type: shell, run: "echo one; echo the cause >&2; exit 2"}
)");
    const auto attempts = engine::run_with_retries(j, options(clock), notes);
    REQUIRE(attempts.size() == 2);
    REQUIRE(notes.sent.size() == 2);
    CHECK(notes.sent[0].event == engine::NotifyEvent::retry);
    CHECK(notes.sent[0].error.empty());
    CHECK(notes.sent[1].event == engine::NotifyEvent::failure);
    // A failing notification is reported; the execution's status is the job's.
    CHECK(notes.sent[1].error == "exited with 3");
    CHECK(attempts.back().status == engine::Status::failed);

    std::ifstream in(out);
    std::vector<nlohmann::json> payloads;
    for (std::string line; std::getline(in, line);) {
      payloads.push_back(nlohmann::json::parse(line));
    }
    REQUIRE(payloads.size() == 2);
    CHECK(payloads[0]["event"] == "on_retry");
    CHECK(payloads[0]["retry_in_seconds"] == 5.0);
    CHECK(payloads[0]["execution_id"] == attempts[0].execution_id);
    CHECK(payloads[1]["event"] == "on_failure");
    CHECK(payloads[1]["attempt"] == 2);
    CHECK(payloads[1]["status"] == "failed");
    CHECK(payloads[1]["failed_step"]["step_id"] == "a");
    CHECK(payloads[1]["failed_step"]["exit_code"] == 2);
    CHECK(payloads[1]["failed_step"]["output_tail"] == "one\n");
    CHECK(payloads[1]["failed_step"]["error_output_tail"] == "the cause\n");
  }

  TEST_CASE("notifications: none for a cancelled run; secrets in a target are redacted") {
    FakeClock clock;
    struct Notes : Recorder {
      std::vector<engine::Notified> sent;
      void notified(const engine::JobResult&, const engine::Notified& n) override {
        sent.push_back(n);
      }
    } notes;
    auto o = options(clock);
    o.secrets = {{"HOOK", "s3cr3t/token"}};
    const auto j = job(R"(
notify:
  on_success: [ { webhook: "http://127.0.0.1:1/hook/${secret.HOOK}" } ]
  on_failure: [ { command: "exit 0" } ]
steps:
  - {id: a, type: shell, run: "true"}
)");
    CHECK(engine::secrets_used(j) == std::set<std::string>{"HOOK"});
    engine::run_with_retries(j, o, notes);
    REQUIRE(notes.sent.size() == 1);
    CHECK(notes.sent[0].target == "http://127.0.0.1:1/hook/***"); // sent as s3cr3t%2Ftoken
    CHECK(notes.sent[0].error.find("s3cr3t") == std::string::npos);
    CHECK_FALSE(notes.sent[0].error.empty()); // nothing listens on port 1

    exec::CancelToken cancel;
    cancel.cancel();
    o.cancel = &cancel;
    notes.sent.clear();
    engine::run_with_retries(j, o, notes);
    CHECK(notes.sent.empty());
  }

  TEST_CASE("url_with_variables encodes each value, unless the URL is one variable") {
    const auto value = [](const std::string& name) {
      return name == "env.SEG" ? std::string("../admin") : std::string("a&b=1 c");
    };
    CHECK(engine::url_with_variables("http://h/hook/${env.SEG}?q=${env.Q}&fixed=1", value) ==
          "http://h/hook/..%2Fadmin?q=a%26b%3D1%20c&fixed=1");
    CHECK(engine::url_with_variables("${env.SEG}", value) == "../admin");
    CHECK(engine::url_with_variables(" ${env.SEG}", value) == " ..%2Fadmin");
    CHECK(engine::url_with_variables("http://h/$${x}", value) == "http://h/${x}");
  }

  TEST_CASE("tail_lines keeps the last lines within a byte limit") {
    CHECK(engine::tail_lines("a\nb\nc\n", 2) == "b\nc\n");
    CHECK(engine::tail_lines("a\nb\nc", 2) == "b\nc");
    CHECK(engine::tail_lines("a\nb\n", 5) == "a\nb\n");
    CHECK(engine::tail_lines("", 5).empty());
    CHECK(engine::tail_lines(std::string(100, 'x'), 5, 10) == std::string(10, 'x'));
  }
}
