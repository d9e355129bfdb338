// jobsctl schema, new and delete: the format's schema, new job files, and removing them.
#include "commands.hpp"
#include "job_folder.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>
#include <jobs/edit.hpp>
#include <jobs/schema.hpp>

#include <filesystem>
#include <iostream>

namespace jobsctl {

namespace {

std::string known_types() {
  std::string out;
  for (const auto& t : jobs::step_types()) {
    out += (out.empty() ? "" : ", ") + std::string(t.name);
  }
  return out;
}

struct SchemaOptions {
  std::string type;
};

int run_schema(const SchemaOptions& o) {
  if (o.type.empty()) {
    std::cout << jobs::job_schema().dump(2) << "\n";
    return base::exit_code::ok;
  }
  const auto* type = jobs::find_step_type(o.type);
  if (type == nullptr) {
    std::cerr << "jobsctl: unknown step type \"" << o.type << "\" (known types: " << known_types()
              << ")\n";
    return base::exit_code::usage;
  }
  std::cout << jobs::step_schema(*type).dump(2) << "\n";
  return base::exit_code::ok;
}

struct NewOptions {
  JobFolder folder;
  std::string id;
  std::string type = "shell";
  std::string format = "yaml";
};

// The step of a new job of each type: its required keys with a working example value.
nlohmann::ordered_json example_step(std::string_view type) {
  nlohmann::ordered_json step = {{"id", "main"}, {"type", type}};
  if (type == "command") {
    step["argv"] = {"echo", "hello"};
  } else if (type == "powershell") {
    step["script"] = "Write-Output 'hello'";
  } else {
    step["run"] = "echo hello";
  }
  return step;
}

std::string new_yaml(const NewOptions& o) {
  std::string step_keys;
  if (o.type == "command") {
    step_keys = "    argv: [echo, hello]        # program and arguments, no shell\n";
  } else if (o.type == "powershell") {
    step_keys = "    script: Write-Output 'hello'   # or script_path: ./task.ps1\n";
  } else {
    step_keys = "    run: echo hello            # runs with sh -c\n";
  }
  return "# " + o.id + ": made by jobsctl new; every key is described in jobs(5).\n" +
         "# Editors can complete keys from: jobsctl schema > jobs.schema.json\n"
         "name: " +
         o.id +
         "\n"
         "description: What this job does\n"
         "enabled: true\n"
         "timezone: UTC                  # IANA zone the schedule is read in\n"
         "schedule: \"0 2 * * *\"          # minute hour day-of-month month day-of-week\n"
         "concurrency: forbid            # a fire while running: allow, forbid or replace\n"
         "timeout: 1h\n"
         "retries: { max: 0, delay: 30s }\n"
         "steps:\n"
         "  - id: main\n"
         "    type: " +
         o.type + "\n" + step_keys;
}

int run_new(const NewOptions& o) {
  if (!jobs::is_valid_id(o.id)) {
    std::cerr << "jobsctl: \"" << o.id
              << "\" is not a valid job id (letters, digits, '_', '.' and '-', not first)\n";
    return base::exit_code::usage;
  }
  if (jobs::find_step_type(o.type) == nullptr) {
    std::cerr << "jobsctl: unknown step type \"" << o.type << "\" (known types: " << known_types()
              << ")\n";
    return base::exit_code::usage;
  }
  const auto set = o.folder.load();
  if (const auto* existing = set.find(o.id)) {
    std::cerr << "jobsctl: a job \"" << o.id << "\" exists already: " << existing->path << "\n";
    return base::exit_code::usage;
  }
  const std::string path = o.folder.dir + "/" + o.id + (o.format == "json" ? ".json" : ".yaml");
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::cerr << "jobsctl: " << path << " exists already; not overwritten\n";
    return base::exit_code::usage;
  }
  std::string text;
  if (o.format == "json") {
    nlohmann::ordered_json job = {{"name", o.id},
                                  {"description", "What this job does"},
                                  {"enabled", true},
                                  {"timezone", "UTC"},
                                  {"schedule", "0 2 * * *"},
                                  {"concurrency", "forbid"},
                                  {"timeout", "1h"},
                                  {"retries", {{"max", 0}, {"delay", "30s"}}},
                                  {"steps", {example_step(o.type)}}};
    text = job.dump(2) + "\n";
  } else {
    text = new_yaml(o);
  }
  // What we write must load.
  const auto check = jobs::load_job_text(path, text, o.folder.load_options());
  if (!check.job) {
    std::cerr << "jobsctl: internal error: the new file does not validate\n";
    return base::exit_code::internal;
  }
  std::filesystem::create_directories(o.folder.dir, ec);
  auto written = jobs::write_file_atomically(path, text);
  if (!written) {
    print_error(written.error());
    return base::exit_code::usage;
  }
  std::cout << path << "\n";
  return base::exit_code::ok;
}

struct DeleteOptions {
  JobFolder folder;
  std::string job;
  bool yes = false;
};

int run_delete(const DeleteOptions& o) {
  const auto set = o.folder.load();
  const std::string path = find_job_path(set, o.job);
  if (path.empty()) {
    std::cerr << "jobsctl: no job \"" << o.job << "\" in " << o.folder.dir << "\n";
    return base::exit_code::usage;
  }
  if (!o.yes) {
    if (!stdin_is_terminal()) {
      std::cerr << "jobsctl: deleting " << path << " needs --yes when not on a terminal\n";
      return base::exit_code::usage;
    }
    std::cerr << "Delete " << path << "? [y/N] ";
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") {
      std::cerr << "jobsctl: not deleted\n";
      return base::exit_code::usage;
    }
  }
  std::error_code ec;
  if (!std::filesystem::remove(path, ec)) {
    std::cerr << "jobsctl: " << path << ": " << ec.message() << "\n";
    return base::exit_code::usage;
  }
  std::cout << "deleted " << path << "\n";
  return base::exit_code::ok;
}

} // namespace

Run setup_schema(CLI::App& command) {
  auto o = std::make_shared<SchemaOptions>();
  command.add_option("type", o->type, "A step type: print the schema of its steps only");
  return [o] { return run_schema(*o); };
}

Run setup_new(CLI::App& command) {
  auto o = std::make_shared<NewOptions>();
  command.add_option("id", o->id, "The new job's id (also its file name)")->required();
  command.add_option("--template", o->type, "Step type of its first step")->capture_default_str();
  command.add_option("--format", o->format, "yaml or json")
      ->check(CLI::IsMember({"yaml", "json"}))
      ->capture_default_str();
  o->folder.add_option(command);
  return [o] { return run_new(*o); };
}

Run setup_delete(CLI::App& command) {
  auto o = std::make_shared<DeleteOptions>();
  command.add_option("job", o->job, "Job id or file")->required();
  command.add_flag("--yes", o->yes, "Do not ask (needed when not on a terminal)");
  o->folder.add_option(command);
  return [o] { return run_delete(*o); };
}

} // namespace jobsctl
