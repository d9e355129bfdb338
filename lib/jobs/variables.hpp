#pragma once

// Variables in job files: ${job.id}, ${execution.scheduled_time}, ${steps.extract.output},
// ${env.HOME}, ${secret.DB_PASSWORD} (man/jobs.5): a name, a dot and more. Other ${...} text,
// such as the shell's ${HOME}, is not a variable and stays as written; "$${" writes a literal
// "${".

#include <jobs/doc.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace jobs {

// One ${...} in a text: where it is and the name inside the braces.
struct VariableRef {
  size_t begin = 0; // offset of '$'
  size_t end = 0;   // offset after '}'
  std::string name; // "steps.extract.output"
};

// The references of `text`, in order.
std::vector<VariableRef> find_variables(std::string_view text);

// Calls `visit` with each reference in the scalars of `n` and below (not in keys), in order, and
// the scalar that holds it.
void for_each_variable(
    const Node& n, const std::function<void(const Node& scalar, const VariableRef& ref)>& visit);

// The place of `ref` in `scalar`: its own on a scalar written on one line, else the scalar's.
Mark place_of(const Node& scalar, const VariableRef& ref);

// Empty when `name` is a variable a step can use, given the ids of the steps before it; else
// what is wrong ("unknown variable \"job.nmae\"; did you mean \"job.name\"?").
std::string check_variable(std::string_view name, const std::vector<std::string>& earlier_steps);

// The environment variable that carries a variable's value to a process step:
// job.id -> JOB_ID, execution.id -> JOB_EXECUTION_ID, steps.extract.output ->
// STEP_EXTRACT_OUTPUT, env.HOME -> HOME, secret.DB_PASSWORD -> JOBS_SECRET_DB_PASSWORD.
std::string variable_env_name(std::string_view name);

// `text` with every reference replaced by what `replace` returns for its name, and "$${" by
// "${".
std::string substitute_variables(std::string_view text,
                                 const std::function<std::string(const std::string&)>& replace);

// The names every variable can take: job.*, execution.*, and the fields of steps.<id>.
const std::vector<std::string>& job_variable_names();
const std::vector<std::string>& execution_variable_names();
const std::vector<std::string>& step_variable_fields();

} // namespace jobs
