#include <jobs/variables.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

TEST_SUITE("variables") {
  TEST_CASE("only ns.name references are variables; the shell's ${...} stays") {
    const auto refs =
        jobs::find_variables("a ${job.id} ${HOME} ${f%.txt} $${job.name} ${steps.x-1.output}");
    REQUIRE(refs.size() == 2);
    CHECK(refs[0].name == "job.id");
    CHECK(refs[0].begin == 2);
    CHECK(refs[0].end == 11);
    CHECK(refs[1].name == "steps.x-1.output");
  }

  TEST_CASE("substitution, and $${ for a literal") {
    const auto out = jobs::substitute_variables(
        "${job.id}: $${job.id} ${HOME}", [](const std::string& name) { return "<" + name + ">"; });
    CHECK(out == "<job.id>: ${job.id} ${HOME}");
    // A value is never read again for references or escapes.
    CHECK(jobs::substitute_variables("${env.X}", [](const std::string&) { return "$${a.b}"; }) ==
          "$${a.b}");
  }

  TEST_CASE("checks say what is wrong and suggest") {
    CHECK(jobs::check_variable("job.name", {}) == "");
    CHECK(jobs::check_variable("execution.scheduled_date", {}) == "");
    CHECK(jobs::check_variable("env.PATH", {}) == "");
    CHECK(jobs::check_variable("secret.DB_PASSWORD", {}) == "");
    CHECK(jobs::check_variable("steps.a.output", {"a"}) == "");
    CHECK(jobs::check_variable("job.nmae", {}) ==
          "unknown variable \"job.nmae\"; did you mean \"job.name\"?");
    CHECK(jobs::check_variable("steps.load.output", {"extract"}) ==
          "variable \"steps.load.output\": no step \"load\" runs before this one");
    CHECK(jobs::check_variable("steps.extrct.output", {"extract"}) ==
          "variable \"steps.extrct.output\": no step \"extrct\" runs before this one; did you "
          "mean \"extract\"?");
    CHECK(jobs::check_variable("steps.a.rows", {"a"}).empty());
    CHECK(jobs::check_variable("steps.a.json.items.0.id", {"a"}).empty());
    CHECK(jobs::check_variable("steps.a.rowz", {"a"}) ==
          "variable \"steps.a.rowz\": a step has no \"rowz\" (it has \"output\", \"exit_code\", "
          "\"status\", \"row_count\", \"affected\", \"columns\", \"rows\", \"json\", "
          "\"status_code\", \"body\", \"headers\", \"run_id\", \"run_url\", \"run_state\", "
          "\"run_result\", \"files\" or \"bytes\")");
    CHECK(jobs::check_variable("secret.a-b", {}) ==
          "variable \"secret.a-b\": expected secret.NAME with a name of letters, digits and '_'");
  }

  TEST_CASE("the environment variable of each variable") {
    CHECK(jobs::variable_env_name("job.id") == "JOB_ID");
    CHECK(jobs::variable_env_name("execution.id") == "JOB_EXECUTION_ID");
    CHECK(jobs::variable_env_name("execution.scheduled_time") == "JOB_SCHEDULED_TIME");
    CHECK(jobs::variable_env_name("steps.extract-1.exit_code") == "STEP_EXTRACT_1_EXIT_CODE");
    CHECK(jobs::variable_env_name("env.HOME") == "HOME");
    CHECK(jobs::variable_env_name("secret.TOKEN") == "JOBS_SECRET_TOKEN");
  }
}
