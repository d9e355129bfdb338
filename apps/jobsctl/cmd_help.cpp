// jobsctl help [VERB...] and jobsctl version, and what jobsctl says of a command line it cannot
// parse: one line, "jobsctl: ...", with the nearest command or option. All of it is read from the
// CLI11 tree the verb table (commands.hpp) built, so a new verb needs nothing here.
#include "commands.hpp"

#include <base/exit_codes.hpp>
#include <base/text.hpp>

#include <iostream>

namespace jobsctl {

namespace {

// The verbs of `command` that --help shows (a hidden one has no group).
std::vector<CLI::App*> visible_verbs(CLI::App& command) {
  return command.get_subcommands([](CLI::App* s) { return !s->get_group().empty(); });
}

// "connections test": the words after "jobsctl" that name `command`; "" for jobsctl itself.
std::string words_of(const CLI::App& command) {
  std::string words;
  for (const CLI::App* c = &command; c->get_parent() != nullptr; c = c->get_parent()) {
    words = c->get_name() + (words.empty() ? "" : " " + words);
  }
  return words;
}

// "jobsctl help connections": the command that describes `command`.
std::string help_of(const CLI::App& command) {
  const std::string words = words_of(command);
  return "jobsctl help" + (words.empty() ? "" : " " + words);
}

// 'unknown command "connections tset"; did you mean "connections test"?'
std::string unknown_command(CLI::App& parent, const std::string& word) {
  const std::string prefix = words_of(parent).empty() ? "" : words_of(parent) + " ";
  std::vector<std::string> names;
  for (const CLI::App* verb : visible_verbs(parent)) {
    names.push_back(prefix + verb->get_name());
  }
  return "unknown command " + base::quoted(prefix + word) +
         base::did_you_mean(prefix + word, names, " (" + help_of(parent) + " lists them)");
}

// "unknown option --jsno; did you mean --json?", else "unknown option --zz of list (jobsctl help
// list lists them)". The nearest long name is suggested for a long option; a short one is too
// short to guess from.
std::string unknown_option(const CLI::App& command, const std::string& argument) {
  const std::string name = argument.substr(0, argument.find('='));
  std::vector<std::string> names;
  for (const CLI::Option* option : command.get_options()) {
    for (const auto& long_name : option->get_lnames()) {
      names.push_back("--" + long_name);
    }
  }
  const auto near =
      name.starts_with("--") ? base::suggest(name, names, 1) : std::vector<std::string>{};
  if (!near.empty()) {
    return "unknown option " + name + "; did you mean " + near.front() + "?";
  }
  const std::string words = words_of(command);
  return "unknown option " + name + (words.empty() ? "" : " of " + words) + " (" +
         help_of(command) + " lists them)";
}

// What is wrong with the words CLI11 could not place under `command`, if any: a mistyped verb,
// an option the command does not have, or one argument too many.
std::string misplaced(CLI::App& command) {
  std::vector<std::string> words;
  for (const auto& word : command.remaining()) {
    if (word != "--") {
      words.push_back(word);
    }
  }
  if (words.empty()) {
    return {};
  }
  const auto is_option = [](const std::string& w) { return w.size() > 1 && w[0] == '-'; };
  // An option cannot be judged before its verb is known.
  if (!visible_verbs(command).empty() && command.get_subcommands().empty()) {
    for (const auto& word : words) {
      if (!is_option(word)) {
        return unknown_command(command, word);
      }
    }
  }
  for (const auto& word : words) {
    if (is_option(word)) {
      return unknown_option(command, word);
    }
  }
  return "unexpected argument " + base::quoted(words.front()) + " (" + help_of(command) +
         " shows the usage)";
}

std::string describe(CLI::App& root, const CLI::ParseError& error) {
  // From jobsctl down to the verb the command line chose.
  CLI::App* command = &root;
  for (;;) {
    if (const std::string message = misplaced(*command); !message.empty()) {
      return message;
    }
    const auto chosen = command->get_subcommands();
    if (chosen.empty()) {
      break;
    }
    command = chosen.front();
  }
  if (!visible_verbs(*command).empty()) {
    return "no command given (" + help_of(*command) + " lists them)";
  }
  const std::string words = words_of(*command);
  return (words.empty() ? "" : words + ": ") + error.what() + " (" + help_of(*command) +
         " shows the usage)";
}

struct HelpOptions {
  CLI::App* root = nullptr;
  std::vector<std::string> words;
};

int run_help(const HelpOptions& o) {
  CLI::App* command = o.root;
  for (const auto& word : o.words) {
    if (visible_verbs(*command).empty()) {
      std::cerr << "jobsctl: " << words_of(*command) << " has no subcommands, so no "
                << base::quoted(word) << " (" << help_of(*command) << " shows its usage)\n";
      return base::exit_code::usage;
    }
    CLI::App* verb = nullptr;
    for (CLI::App* v : visible_verbs(*command)) {
      if (v->get_name() == word) {
        verb = v;
      }
    }
    if (verb == nullptr) {
      std::cerr << "jobsctl: " << unknown_command(*command, word) << "\n";
      return base::exit_code::usage;
    }
    command = verb;
  }
  const std::string words = words_of(*command);
  // The formatter itself: App::help would describe the verb chosen, help.
  std::cout << command->get_formatter()->make_help(
      command, "jobsctl" + (words.empty() ? "" : " " + words), CLI::AppFormatMode::Normal);
  return base::exit_code::ok;
}

} // namespace

int report_parse_error(CLI::App& root, const CLI::ParseError& error) {
  std::cerr << "jobsctl: " << describe(root, error) << "\n";
  return base::exit_code::usage;
}

Run setup_help(CLI::App& command) {
  auto o = std::make_shared<HelpOptions>();
  o->root = command.get_parent();
  command.add_option("verb", o->words, "The verb to describe (connections test: a verb's own)");
  return [o] { return run_help(*o); };
}

Run setup_version(CLI::App&) {
  return [] {
    std::cout << version_text << "\n";
    return base::exit_code::ok;
  };
}

} // namespace jobsctl
