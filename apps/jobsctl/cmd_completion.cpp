// jobsctl completion SHELL: a completion script for bash, zsh or fish, made from the command
// line's one definition, the CLI11 tree that the verb table (commands.hpp) built, walked at run
// time: the verbs, their options, which take a value, their descriptions, and each verb's operand
// as the table says. jobsctl __complete KIND (hidden) prints what the scripts cannot know in
// advance, one a line: the jobs folder's ids, jobsd's recent executions, the time zones.
#include "commands.hpp"
#include "daemon.hpp"
#include "job_folder.hpp"
#include "output.hpp"
#include "state.hpp"

#include <base/exit_codes.hpp>
#include <engine/result.hpp>
#include <jobs/folder.hpp>
#include <jobs/step_types.hpp>
#include <tz/zone.hpp>

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace jobsctl {

namespace {

constexpr const char* complete_verb = "__complete";

// What a script offers for a value: a fixed list, files, folders, or what __complete prints.
enum class Values { none, choices, file, dir, zone, job, execution, job_or_execution };

struct Choice {
  std::string value;
  std::string description;
};

// An option (with names) or an operand (without).
struct Arg {
  std::vector<std::string> names; // "-n", "--count"
  std::string label;              // "count", "job": what zsh says it expects
  std::string description;
  bool takes_value = false;
  bool repeats = false; // an operand that takes more than one word
  Values values = Values::none;
  std::vector<Choice> choices;
};

// A verb (or the root, or a verb's own verb such as connections test).
struct Command {
  std::vector<std::string> path; // {} for jobsctl itself, {"connections", "test"}
  std::string description;
  std::vector<Arg> options;
  std::optional<Arg> operand;
  std::vector<Command> subcommands;
};

// What the scripts offer for the options whose values are of one kind in every verb that has
// them (most come from the shared option structs: JobFolder, StateOption, DaemonOption,
// ConfigOption). An option not named here offers the set of its CLI11 check (IsMember), if any.
enum class Named { dir, file, zone, job, status, step_type };
const std::map<std::string, Named, std::less<>> named_values = {
    {"--jobs-dir", Named::dir},  {"--state-dir", Named::dir},      {"--out", Named::dir},
    {"--config", Named::file},   {"--secrets", Named::file},       {"--socket", Named::file},
    {"--tz", Named::zone},       {"--timezone", Named::zone},      {"--id", Named::job},
    {"--status", Named::status}, {"--template", Named::step_type},
};

std::vector<Choice> step_type_choices() {
  std::vector<Choice> out;
  for (const auto& t : jobs::step_types()) {
    out.push_back({std::string(t.name), std::string(t.description)});
  }
  return out;
}

// The verbs --help lists, with their summaries.
std::vector<Choice> verb_choices() {
  std::vector<Choice> out;
  for (const auto& v : verbs) {
    if (*v.summary != '\0') {
      out.push_back({v.name, v.summary});
    }
  }
  return out;
}

std::vector<Choice> status_choices() {
  std::vector<Choice> out;
  for (const auto name : engine::status_names()) {
    out.push_back({std::string(name), {}});
  }
  return out;
}

// The set an IsMember check allows ("{yaml,json}" is how CLI11 describes it), or none.
std::vector<Choice> check_choices(CLI::Option& option) {
  for (int i = 0;; ++i) {
    CLI::Validator* check = nullptr;
    try {
      check = option.get_validator(i);
    } catch (const CLI::OptionNotFound&) {
      return {};
    }
    const std::string text = check->get_description();
    if (text.size() < 2 || text.front() != '{' || text.back() != '}') {
      continue;
    }
    std::vector<Choice> out;
    std::istringstream items(text.substr(1, text.size() - 2));
    for (std::string item; std::getline(items, item, ',');) {
      out.push_back({item, {}});
    }
    return out;
  }
}

void set_values(Arg& arg, Values values, std::vector<Choice> choices = {}) {
  arg.values = values;
  arg.choices = std::move(choices);
}

Arg describe_option(CLI::Option& option) {
  Arg arg;
  for (const auto& name : option.get_snames()) {
    arg.names.push_back("-" + name);
  }
  for (const auto& name : option.get_lnames()) {
    arg.names.push_back("--" + name);
  }
  arg.label = option.get_lnames().empty() ? option.get_name() : option.get_lnames().front();
  arg.description = option.get_description();
  arg.takes_value = option.get_expected_max() > 0;
  if (!arg.takes_value) {
    return arg;
  }
  if (auto choices = check_choices(option); !choices.empty()) {
    set_values(arg, Values::choices, std::move(choices));
    return arg;
  }
  for (const auto& name : arg.names) {
    const auto named = named_values.find(name);
    if (named == named_values.end()) {
      continue;
    }
    switch (named->second) {
    case Named::dir:
      set_values(arg, Values::dir);
      break;
    case Named::file:
      set_values(arg, Values::file);
      break;
    case Named::zone:
      set_values(arg, Values::zone);
      break;
    case Named::job:
      set_values(arg, Values::job);
      break;
    case Named::status:
      set_values(arg, Values::choices, status_choices());
      break;
    case Named::step_type:
      set_values(arg, Values::choices, step_type_choices());
      break;
    }
    break;
  }
  return arg;
}

Arg describe_operand(CLI::Option& option, Operand operand) {
  Arg arg;
  arg.label = option.get_name();
  arg.description = option.get_description();
  arg.takes_value = true;
  arg.repeats = option.get_items_expected_max() > 1;
  if (auto choices = check_choices(option); !choices.empty()) {
    set_values(arg, Values::choices, std::move(choices));
    return arg;
  }
  switch (operand) {
  case Operand::other:
    break;
  case Operand::job:
    set_values(arg, Values::job);
    break;
  case Operand::execution:
    set_values(arg, Values::execution);
    break;
  case Operand::job_or_execution:
    set_values(arg, Values::job_or_execution);
    break;
  case Operand::path:
    set_values(arg, Values::file);
    break;
  case Operand::step_type:
    set_values(arg, Values::choices, step_type_choices());
    break;
  case Operand::verb:
    set_values(arg, Values::choices, verb_choices());
    break;
  }
  return arg;
}

Operand operand_of(const std::string& verb) {
  for (const auto& v : verbs) {
    if (verb == v.name) {
      return v.operand;
    }
  }
  return Operand::other;
}

// The command and the ones under it that --help shows (hidden ones have no group).
Command describe(CLI::App& app, std::vector<std::string> path) {
  Command command;
  command.path = std::move(path);
  command.description = app.get_description();
  const Operand operand = command.path.size() == 1 ? operand_of(command.path[0]) : Operand::other;
  for (CLI::Option* option : app.get_options()) {
    if (option->get_positional()) {
      if (!command.operand) {
        command.operand = describe_operand(*option, operand);
      }
    } else {
      command.options.push_back(describe_option(*option));
    }
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App* s) { return !s->get_group().empty(); })) {
    auto sub_path = command.path;
    sub_path.push_back(sub->get_name());
    command.subcommands.push_back(describe(*sub, std::move(sub_path)));
  }
  return command;
}

// The options __complete takes with a value (the folders, the socket): a script passes on the
// ones the command line being completed gives, so that the values come from the same places.
std::vector<std::string> forwarded_options(CLI::App& root) {
  std::vector<std::string> out;
  CLI::App* complete = root.get_subcommand(complete_verb);
  for (CLI::Option* option : complete->get_options()) {
    if (!option->get_positional() && option->get_expected_max() > 0) {
      for (const auto& name : option->get_lnames()) {
        out.push_back("--" + name);
      }
    }
  }
  return out;
}

// Every command of the tree, the root first, each before the ones under it.
void flatten(const Command& command, std::vector<const Command*>& out) {
  out.push_back(&command);
  for (const auto& sub : command.subcommands) {
    flatten(sub, out);
  }
}

std::string join(const std::vector<std::string>& words, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    out += (i == 0 ? "" : separator) + words[i];
  }
  return out;
}

std::vector<std::string> choice_values(const Arg& arg) {
  std::vector<std::string> out;
  for (const auto& c : arg.choices) {
    out.push_back(c.value);
  }
  return out;
}

std::string header(const char* shell, const std::string& load) {
  return std::string("# ") + shell +
         " completion for jobsctl " JOBS_VERSION ", made by `jobsctl completion " + shell +
         "` from its own\n# definition of its verbs and options.\n# " + load + "\n";
}

// What the bash script calls a kind of values.
const char* kind_name(Values values) {
  switch (values) {
  case Values::none:
    break;
  case Values::choices:
    return "choices";
  case Values::file:
    return "file";
  case Values::dir:
    return "dir";
  case Values::zone:
    return "zone";
  case Values::job:
    return "job";
  case Values::execution:
    return "execution";
  case Values::job_or_execution:
    return "job_or_execution";
  }
  return "none";
}

// bash: one function for `complete -F`. The command line is read word by word (COMP_WORDS up
// to COMP_CWORD) to find the verb, skip the values of the options that take one and count the
// operands; the word under the cursor is then an option's value, an option, a verb or an
// operand, and compgen offers what fits.
std::string bash_script(const Command& root, const std::vector<std::string>& forward) {
  std::vector<const Command*> all;
  flatten(root, all);
  std::ostringstream out;
  out << header("bash", "Load it with: source <(jobsctl completion bash)");
  out << R"sh(
# Adds to COMPREPLY the values of `jobsctl __complete KIND` that begin with $cur (the part of
# each line before a tab; after it is a description).
_jobsctl_dynamic() {
  local line value
  while IFS= read -r line; do
    value=${line%%$'\t'*}
    [[ $value == "$cur"* ]] && COMPREPLY+=("$prefix$value")
  done < <("$_jobsctl_cmd" __complete "$1" "${_jobsctl_forward[@]}" 2>/dev/null)
}

# Adds to COMPREPLY what `compgen ARG...` prints, one a line.
_jobsctl_compgen() {
  local line
  while IFS= read -r line; do
    COMPREPLY+=("$prefix$line")
  done < <(compgen "$@" 2>/dev/null)
}

# Offers the values of kind $1 (for choices, the words $2).
_jobsctl_values() {
  case $1 in
  choices) _jobsctl_compgen -W "$2" -- "$cur" ;;
  file)
    compopt -o filenames 2>/dev/null
    _jobsctl_compgen -f -- "$cur"
    ;;
  dir)
    compopt -o filenames 2>/dev/null
    _jobsctl_compgen -d -- "$cur"
    ;;
  zone) _jobsctl_dynamic zones ;;
  job) _jobsctl_dynamic jobs ;;
  execution) _jobsctl_dynamic executions ;;
  job_or_execution)
    _jobsctl_dynamic jobs
    _jobsctl_dynamic executions
    ;;
  esac
}

# Sets what the command at path $1 has: subs (its verbs), opts (its options), valued (those of
# them that take a value, between spaces), operand and operand_choices (what its operand
# offers) and repeats (1: the operand may be given more than once).
_jobsctl_command() {
  subs='' opts='' valued=' ' operand=none operand_choices='' repeats=0
  case $1 in
)sh";
  for (const Command* c : all) {
    std::vector<std::string> subs, opts, valued;
    for (const auto& s : c->subcommands) {
      subs.push_back(s.path.back());
    }
    for (const auto& o : c->options) {
      for (const auto& n : o.names) {
        opts.push_back(n);
        if (o.takes_value) {
          valued.push_back(n);
        }
      }
    }
    out << "  " << sh_quoted(join(c->path, " ")) << ")\n";
    out << "    subs=" << sh_quoted(join(subs, " ")) << " opts=" << sh_quoted(join(opts, " "))
        << " valued=" << sh_quoted(" " + join(valued, " ") + " ") << "\n";
    if (c->operand && c->operand->values != Values::none) {
      const Arg& a = *c->operand;
      out << "    operand=" << kind_name(a.values)
          << " operand_choices=" << sh_quoted(join(choice_values(a), " "))
          << " repeats=" << (a.repeats ? 1 : 0) << "\n";
    }
    out << "    ;;\n";
  }
  out << R"sh(  esac
}

# Offers the values of option $2 of the command at path $1.
_jobsctl_option() {
  case "$1 $2" in
)sh";
  // One pattern per kind of value, with every command and option that has it.
  std::map<std::pair<Values, std::string>, std::vector<std::string>> patterns;
  for (const Command* c : all) {
    for (const auto& o : c->options) {
      if (o.values == Values::none) {
        continue;
      }
      for (const auto& n : o.names) {
        patterns[{o.values, join(choice_values(o), " ")}].push_back(
            sh_quoted(join(c->path, " ") + " " + n));
      }
    }
  }
  for (const auto& [kind, cases] : patterns) {
    out << "  " << join(cases, " | ") << ")\n    _jobsctl_values " << kind_name(kind.first);
    if (!kind.second.empty()) {
      out << " " << sh_quoted(kind.second);
    }
    out << " ;;\n";
  }
  out << R"sh(  esac
}

# Keeps the options that say where the values come from (the jobs folder, the state folder,
# the socket), for __complete.
_jobsctl_remember() {
  case $1 in
)sh";
  out << "  " << join(forward, " | ") << ")\n";
  out << R"sh(    local value=$2
    [[ $value == '~/'* ]] && value=$HOME/${value#'~/'}
    _jobsctl_forward+=("$1" "$value")
    ;;
  esac
}

_jobsctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} prefix='' path='' word expect='' operands=0 i
  local subs opts valued operand operand_choices repeats
  local _jobsctl_cmd=${COMP_WORDS[0]}
  local -a _jobsctl_forward=()
  [[ $_jobsctl_cmd == '~/'* ]] && _jobsctl_cmd=$HOME/${_jobsctl_cmd#'~/'}
  COMPREPLY=()
  _jobsctl_command ''
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ -n $expect ]]; then
      # bash splits --option=value at the '=' (COMP_WORDBREAKS): the value is the word after it.
      [[ $word == = ]] && continue
      _jobsctl_remember "$expect" "$word"
      expect=''
      continue
    fi
    case $word in
    --*=*) _jobsctl_remember "${word%%=*}" "${word#*=}" ;;
    -*) [[ $valued == *" $word "* ]] && expect=$word ;;
    *)
      if ((operands == 0)) && [[ " $subs " == *" $word "* ]]; then
        path=${path:+$path }$word
        _jobsctl_command "$path"
      else
        operands=$((operands + 1))
      fi
      ;;
    esac
  done
  if [[ -n $expect && $cur == = ]]; then
    cur=''
  elif [[ -z $expect && $cur == --*=* && $valued == *" ${cur%%=*} "* ]]; then
    # --option=value in one word (COMP_WORDBREAKS without '='): the value, after its option.
    expect=${cur%%=*} prefix=${cur%%=*}= cur=${cur#*=}
  fi
  if [[ -n $expect ]]; then
    _jobsctl_option "$path" "$expect"
  elif [[ $cur == -* ]]; then
    _jobsctl_compgen -W "$opts" -- "$cur"
  elif [[ -n $subs ]] && ((operands == 0)); then
    _jobsctl_compgen -W "$subs" -- "$cur"
  elif [[ $operand != none ]]; then
    ((operands == 0 || repeats)) && _jobsctl_values "$operand" "$operand_choices"
  elif [[ -z $subs ]]; then
    _jobsctl_compgen -W "$opts" -- "$cur"
  fi
}

complete -F _jobsctl jobsctl
)sh";
  return out.str();
}

// zsh: one function per command with _arguments (options and operand with their descriptions),
// the verbs with _describe; the dynamic values through __complete.
std::string zsh_escape(const std::string& description) {
  std::string out;
  for (const char c : description) {
    if (c == '[' || c == ']' || c == ':' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

std::string zsh_function(const std::vector<std::string>& path) {
  return path.empty() ? "_jobsctl" : "_jobsctl_" + join(path, "_");
}

std::string zsh_action(const Arg& a) {
  switch (a.values) {
  case Values::none:
    break;
  case Values::choices:
    return "(" + join(choice_values(a), " ") + ")";
  case Values::file:
    return "_files";
  case Values::dir:
    return "_files -/";
  case Values::zone:
    return "__jobsctl_zones";
  case Values::job:
    return "__jobsctl_jobs";
  case Values::execution:
    return "__jobsctl_executions";
  case Values::job_or_execution:
    return "__jobsctl_jobs_or_executions";
  }
  return " ";
}

void zsh_command(std::ostream& out, const Command& c) {
  out << "\n" << zsh_function(c.path) << "() {\n";
  if (c.path.empty()) {
    // The command being completed, as typed: __complete is asked through it.
    out << "  local _jobsctl_cmd=$words[1]\n";
  }
  if (!c.subcommands.empty()) {
    out << "  local curcontext=$curcontext state line ret=1\n  typeset -A opt_args\n";
  }
  out << "  _arguments -s -S";
  if (!c.subcommands.empty()) {
    out << " -C";
  }
  for (const auto& o : c.options) {
    const std::string exclusive = o.names.size() > 1 ? "(" + join(o.names, " ") + ")" : "";
    for (const auto& n : o.names) {
      std::string spec = exclusive + n;
      if (o.takes_value) {
        spec += n.starts_with("--") ? "=" : "+";
      }
      spec += "[" + zsh_escape(o.description) + "]";
      if (o.takes_value) {
        spec += ":" + o.label + ":" + zsh_action(o);
      }
      out << " \\\n    " << sh_quoted(spec);
    }
  }
  if (c.subcommands.empty()) {
    if (c.operand) {
      const Arg& a = *c.operand;
      out << " \\\n    "
          << sh_quoted(std::string(a.repeats ? "*" : "1") + ":" + a.label + ":" + zsh_action(a));
    }
    out << "\n}\n";
    return;
  }
  std::string context = "jobsctl";
  for (const auto& word : c.path) {
    context += "-" + word;
  }
  out << " \\\n    " << sh_quoted("1: :->verb") << " \\\n    " << sh_quoted("*:: :->args")
      << " && ret=0\n";
  out << "  case $state in\n  verb)\n    local -a verbs=(\n";
  for (const auto& s : c.subcommands) {
    out << "      " << sh_quoted(s.path.back() + ":" + s.description) << "\n";
  }
  out << "    )\n    _describe -t commands 'jobsctl verb' verbs && ret=0\n    ;;\n";
  out << "  args)\n    curcontext=${curcontext%:*:*}:" << context
      << "-$words[1]:\n    case $words[1] in\n";
  for (const auto& s : c.subcommands) {
    out << "    " << s.path.back() << ") " << zsh_function(s.path) << " && ret=0 ;;\n";
  }
  out << "    esac\n    ;;\n  esac\n  return ret\n}\n";
}

std::string zsh_script(const Command& root, const std::vector<std::string>& forward) {
  std::vector<const Command*> all;
  flatten(root, all);
  std::ostringstream out;
  out << "#compdef jobsctl\n";
  out << header("zsh", "Install it as _jobsctl in a folder of $fpath, or load it with: "
                       "source <(jobsctl completion zsh)");
  out << R"sh(
# The lines of `jobsctl __complete KIND` in $reply, asked with the options of the command line
# that say where they come from (the jobs folder, the state folder, the socket).
__jobsctl_lines() {
  local option
  local -a forward
  for option in )sh"
      << join(forward, " ") << R"sh(; do
    (( ${+opt_args[$option]} )) && forward+=("$option" ${~${(Q)opt_args[$option]}})
  done
  reply=(${(f)"$(${~_jobsctl_cmd:-jobsctl} __complete $1 "${forward[@]}" 2>/dev/null)"})
}

# Offers the values of `__complete $1` as tag $2, each described ("value<TAB>description") as $3.
__jobsctl_describe() {
  local line
  local -a reply items
  __jobsctl_lines $1
  for line in $reply; do
    if [[ $line == *$'\t'* ]]; then
      items+=("${${line%%$'\t'*}//:/\\:}:${line#*$'\t'}")
    else
      items+=("${line//:/\\:}")
    fi
  done
  _describe -t $2 $3 items
}

__jobsctl_jobs() { __jobsctl_describe jobs jobs job }
__jobsctl_executions() { __jobsctl_describe executions executions execution }
__jobsctl_jobs_or_executions() {
  _alternative 'jobs:job:__jobsctl_jobs' 'executions:execution:__jobsctl_executions'
}
__jobsctl_zones() {
  local -a reply
  __jobsctl_lines zones
  _multi_parts -i / reply
}
)sh";
  for (const Command* c : all) {
    zsh_command(out, *c);
  }
  // Autoloaded from $fpath, this file is _jobsctl's body: it defines the functions, then
  // completes; sourced, it registers _jobsctl.
  out << R"sh(
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _jobsctl "$@"
else
  compdef _jobsctl jobsctl
fi
)sh";
  return out.str();
}

// fish: complete lines under the conditions __fish_use_subcommand (no verb yet) and
// __fish_seen_subcommand_from (this verb); the dynamic values through __complete.
std::string fish_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "'";
}

// The condition under which the words of command `c` are offered.
std::string fish_condition(const Command& c, const Command& root) {
  if (c.path.empty()) {
    return "__fish_use_subcommand";
  }
  std::vector<std::string> parts;
  for (const auto& word : c.path) {
    parts.push_back("__fish_seen_subcommand_from " + word);
  }
  if (c.path.size() == 1) {
    // A verb's name that is also the name of another verb's verb (list, and connections list)
    // is that one after the other verb.
    for (const auto& verb : root.subcommands) {
      for (const auto& sub : verb.subcommands) {
        if (sub.path.back() == c.path[0]) {
          parts.push_back("not __fish_seen_subcommand_from " + verb.path[0]);
        }
      }
    }
  }
  if (!c.subcommands.empty()) {
    std::vector<std::string> subs;
    for (const auto& s : c.subcommands) {
      subs.push_back(s.path.back());
    }
    parts.push_back("not __fish_seen_subcommand_from " + join(subs, " "));
  }
  return join(parts, "; and ");
}

// The arguments of `complete` that offer the values of `a`.
std::string fish_values(const Arg& a) {
  switch (a.values) {
  case Values::none:
    break;
  case Values::choices:
    return " -x -a " + fish_quoted(join(choice_values(a), " "));
  case Values::file:
    return a.names.empty() ? " -F" : " -r -F";
  case Values::dir:
    return " -x -a '(__fish_complete_directories)'";
  case Values::zone:
    return " -x -a '(__jobsctl_complete zones)'";
  case Values::job:
    return " -x -a '(__jobsctl_complete jobs)'";
  case Values::execution:
    return " -x -a '(__jobsctl_complete executions)'";
  case Values::job_or_execution:
    return " -x -a '(__jobsctl_complete jobs; __jobsctl_complete executions)'";
  }
  return a.names.empty() ? "" : " -x";
}

std::string fish_script(const Command& root, const std::vector<std::string>& forward) {
  std::vector<const Command*> all;
  flatten(root, all);
  std::ostringstream out;
  out << header("fish", "Install it as jobsctl.fish in ~/.config/fish/completions, or load it "
                        "with: jobsctl completion fish | source");
  std::vector<std::string> with_equals;
  for (const auto& f : forward) {
    with_equals.push_back(fish_quoted(f + "=*"));
  }
  out << R"sh(
# The lines of `jobsctl __complete KIND` ("value<TAB>description"), asked with the options of
# the command line that say where they come from (the jobs folder, the state folder, the socket).
function __jobsctl_complete
    set -l tokens (commandline -opc)
    set -l forward
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case )sh"
      << join(forward, " ") << R"sh(
                if test $i -lt (count $tokens)
                    set -a forward $tokens[$i] $tokens[(math $i + 1)]
                end
                set i (math $i + 1)
            case )sh"
      << join(with_equals, " ") << R"sh(
                set -a forward $tokens[$i]
        end
        set i (math $i + 1)
    end
    command $tokens[1] __complete $argv $forward 2>/dev/null
end

complete -c jobsctl -f
)sh";
  for (const Command* c : all) {
    const std::string condition = " -n " + fish_quoted(fish_condition(*c, root));
    out << "\n";
    for (const auto& s : c->subcommands) {
      out << "complete -c jobsctl" << condition << " -a " << s.path.back() << " -d "
          << fish_quoted(s.description) << "\n";
    }
    for (const auto& o : c->options) {
      out << "complete -c jobsctl" << condition;
      for (const auto& n : o.names) {
        out << (n.starts_with("--") ? " -l " + n.substr(2) : " -s " + n.substr(1));
      }
      if (o.takes_value) {
        out << fish_values(o);
      }
      out << " -d " << fish_quoted(o.description) << "\n";
    }
    if (c->operand && c->operand->values != Values::none) {
      const Arg& a = *c->operand;
      if (a.values == Values::choices && !a.choices.front().description.empty()) {
        for (const auto& choice : a.choices) {
          out << "complete -c jobsctl" << condition << " -a " << fish_quoted(choice.value) << " -d "
              << fish_quoted(choice.description) << "\n";
        }
      } else {
        out << "complete -c jobsctl" << condition << fish_values(a) << "\n";
      }
    }
  }
  return out.str();
}

struct CompletionOptions {
  std::string shell;
};

int print_script(CLI::App& root, const CompletionOptions& o) {
  const Command tree = describe(root, {});
  const auto forward = forwarded_options(root);
  if (o.shell == "bash") {
    std::cout << bash_script(tree, forward);
  } else if (o.shell == "zsh") {
    std::cout << zsh_script(tree, forward);
  } else {
    std::cout << fish_script(tree, forward);
  }
  return base::exit_code::ok;
}

struct CompleteOptions {
  JobFolder folder;
  StateOption state;
  DaemonOption daemon;
  std::string kind;
};

// How long __complete may wait for jobsd in all (connecting, its hello, the reply): the shell
// waits for it at each Tab.
constexpr std::chrono::milliseconds daemon_budget{1000};

void print_jobs(const CompleteOptions& o) {
  // A job's id is its file's name: listing the folder is enough (no file is parsed), and a file
  // with errors still names the job the verbs find by it.
  std::error_code ec;
  if (!std::filesystem::is_directory(o.folder.dir(), ec)) {
    return; // list_job_files would name it as a file of its own
  }
  std::vector<jobs::LoadedFile> problems;
  std::set<std::string> ids;
  for (const auto& path : jobs::list_job_files({o.folder.dir()}, problems, false)) {
    ids.insert(std::filesystem::path(path).stem().string());
  }
  for (const auto& id : ids) {
    std::cout << id << "\n";
  }
}

void print_executions(const CompleteOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  auto client = ipc::Client::connect(o.daemon.path(), daemon_budget);
  if (!client) {
    return;
  }
  const auto left = daemon_budget - std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - start);
  if (left <= std::chrono::milliseconds(0)) {
    return;
  }
  auto reply = client->call("history", {{"limit", 20}}, {}, left);
  if (!reply || !reply->ok() || !reply->result.is_array()) {
    return;
  }
  for (const auto& e : reply->result) {
    std::cout << e.value("execution_id", "") << "\t" << e.value("job_id", "") << " "
              << e.value("status", "") << "\n";
  }
}

int complete(const CompleteOptions& o) {
  // Whatever goes wrong, the shell gets no message and no long wait: the daemon's budget bounds
  // the usual case, the alarm the rest (a connect to a daemon whose backlog is full blocks).
  std::cerr.setstate(std::ios::failbit);
  std::signal(SIGALRM, [](int) { _exit(0); });
  alarm(2);
  try {
    if (o.kind == "jobs") {
      print_jobs(o);
    } else if (o.kind == "executions") {
      print_executions(o);
    } else if (o.kind == "zones") {
      for (const auto& name : tz::zone_names()) {
        std::cout << name << "\n";
      }
    } else {
      return base::exit_code::usage;
    }
  } catch (const std::exception&) {
    return base::exit_code::internal;
  }
  return base::exit_code::ok;
}

} // namespace

Run setup_completion(CLI::App& command) {
  auto o = std::make_shared<CompletionOptions>();
  command.add_option("shell", o->shell, "The shell: bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  // The whole tree, walked when it runs: by then every verb has been declared.
  CLI::App& root = *command.get_parent();
  return [o, &root] { return print_script(root, *o); };
}

Run setup_complete(CLI::App& command) {
  command.group(""); // hidden from --help: the scripts call it, people do not
  auto o = std::make_shared<CompleteOptions>();
  command.add_option("kind", o->kind, "jobs, executions or zones")->required();
  o->folder.add_option(command);
  o->state.add_option(command);
  o->daemon.add_option(command);
  return [o] { return complete(*o); };
}

} // namespace jobsctl
