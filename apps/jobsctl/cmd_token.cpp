// jobsctl token create|list|revoke: the HTTP API's bearer tokens, kept by jobsd (admins only).
#include "commands.hpp"
#include "daemon.hpp"
#include "output.hpp"
#include "state.hpp"

#include <base/exit_codes.hpp>

#include <iostream>

namespace jobsctl {

namespace {

struct TokenOptions {
  StateOption state;
  DaemonOption daemon;
  bool json = false;
  std::string name;
  std::string role;
  std::string jobs;
};

int create(const TokenOptions& o) {
  int code = base::exit_code::ok;
  ipc::Json args = {{"name", o.name}, {"role", o.role}};
  if (!o.jobs.empty()) {
    args["jobs"] = o.jobs;
  }
  const auto r = ask(o.daemon, "token_create", args, code);
  if (!r) {
    return code;
  }
  if (o.json) {
    print_json(*r);
  } else {
    std::cout << (*r)["token"].get<std::string>() << "\n";
    std::cerr << "jobsctl: token " << o.name << " (" << (*r)["role"].get<std::string>() << ", jobs "
              << (*r)["jobs"].get<std::string>() << ") made; it is shown this once, keep it now\n";
  }
  return code;
}

int list(const TokenOptions& o) {
  int code = base::exit_code::ok;
  const auto r = ask(o.daemon, "token_list", ipc::Json::object(), code);
  if (!r) {
    return code;
  }
  if (o.json) {
    print_json(*r);
    return code;
  }
  for (const auto& t : (*r)["tokens"]) {
    std::cout << t["name"].get<std::string>() << "\t" << t["role"].get<std::string>() << "\t"
              << t["jobs"].get<std::string>() << "\t" << t["created"].get<std::string>() << "\n";
  }
  return code;
}

int revoke(const TokenOptions& o) {
  int code = base::exit_code::ok;
  const auto r = ask(o.daemon, "token_revoke", {{"name", o.name}}, code);
  if (!r) {
    return code;
  }
  if (o.json) {
    print_json(*r);
  } else {
    std::cout << "token " << o.name << " revoked\n";
  }
  return code;
}

std::shared_ptr<TokenOptions> common(CLI::App& command) {
  auto o = std::make_shared<TokenOptions>();
  command.add_flag("--json", o->json, "Print JSON");
  o->state.add_option(command);
  o->daemon.add_option(command);
  return o;
}

} // namespace

Run setup_token(CLI::App& command) {
  command.require_subcommand(1);
  auto run = std::make_shared<Run>();

  auto* make = command.add_subcommand("create", "Make a token; print it once");
  auto made = common(*make);
  make->add_option("name", made->name, "Its name (letters, digits, '.', '_', '-')")->required();
  make->add_option("--role", made->role, "viewer, operator or admin")
      ->required()
      ->check(CLI::IsMember({"viewer", "operator", "admin"}));
  make->add_option("--jobs", made->jobs, "Glob of the job ids an operator may act on (default *)");
  make->callback([run, made] { *run = [made] { return create(*made); }; });

  auto* show = command.add_subcommand("list", "List the tokens (names, roles, globs; no texts)");
  auto listed = common(*show);
  show->callback([run, listed] { *run = [listed] { return list(*listed); }; });

  auto* remove = command.add_subcommand("revoke", "Remove a token");
  auto removed = common(*remove);
  remove->add_option("name", removed->name, "Its name")->required();
  remove->callback([run, removed] { *run = [removed] { return revoke(*removed); }; });

  return [run] { return (*run)(); };
}

} // namespace jobsctl
