// jobsctl migrate: what every source format shares (ids, the host's zone) and the choice of
// converter.
#include <jobs/migrate.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace jobs::migrate {

namespace {

// Shell words of `command`, split into simple commands at ; & | ( ) { } and newlines; quotes
// are removed, a command substitution ($(...), `...`) stays inside its word, other shell syntax
// is kept as text.
std::vector<std::vector<std::string>> simple_commands(std::string_view command) {
  std::vector<std::vector<std::string>> out(1);
  std::string word;
  bool in_word = false;
  const auto end_word = [&] {
    if (in_word) {
      out.back().push_back(word);
    }
    word.clear();
    in_word = false;
  };
  char quote = 0;
  int substitution = 0; // depth of $( ... ) being read
  bool backquote = false;
  for (size_t i = 0; i < command.size(); ++i) {
    const char c = command[i];
    if (substitution > 0 || backquote) {
      substitution += c == '(' ? 1 : c == ')' ? -1 : 0;
      backquote = backquote && c != '`';
      word += c;
    } else if (quote != '\'' && (command.substr(i, 2) == "$(" || c == '`')) {
      substitution = c == '$' ? 1 : 0;
      backquote = c == '`';
      word += command.substr(i, c == '$' ? 2 : 1);
      i += c == '$' ? 1 : 0;
      in_word = true;
    } else if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      end_word();
    } else if (std::string_view(";&|(){}\n").find(c) != std::string_view::npos) {
      end_word();
      if (!out.back().empty()) {
        out.emplace_back();
      }
    } else {
      word += c;
      in_word = true;
    }
  }
  end_word();
  return out;
}

bool is_assignment(const std::string& word) {
  const size_t eq = word.find('=');
  return eq != std::string::npos && eq > 0 &&
         word.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == eq;
}

// The name of a program or script: its file name without a script extension.
std::string program_name(const std::string& word) {
  std::string name = std::filesystem::path(word).filename().string();
  for (const char* ext : {".sh", ".bash", ".py", ".pl", ".rb", ".php", ".js", ".ps1"}) {
    if (name.size() > std::strlen(ext) && name.ends_with(ext)) {
      name.resize(name.size() - std::strlen(ext));
      break;
    }
  }
  return name;
}

} // namespace

std::string id_from_text(std::string_view text) {
  constexpr size_t longest = 64;
  std::string id;
  for (char c : text) {
    if (id.size() == longest) {
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '_' || c == '.') {
      id += static_cast<char>(std::tolower(u));
    } else if (!id.empty() && id.back() != '-') {
      id += '-';
    }
  }
  while (!id.empty() && (id.back() == '-' || id.back() == '.' || id.back() == '_')) {
    id.pop_back();
  }
  const size_t first = id.find_first_not_of("-._");
  return first == std::string::npos ? std::string() : id.substr(first);
}

std::string id_from_command(std::string_view command) {
  // Commands that guard or prepare rather than do the work, and wrappers that run another
  // program (with how many non-option arguments come before it).
  static const std::set<std::string> guards = {
      "cd",   "test",   "[",     "[[",  "true", "false",  ":", "sleep", "date",
      "exit", "export", "umask", "set", "fi",   "source", ".", "mkdir", "ulimit"};
  static const std::set<std::string> keywords = {"if", "then",  "else",  "elif",
                                                 "do", "while", "until", "!"};
  // Wrappers that run another program: their short options that take a value, and whether
  // one argument (a duration, a lock file, a user) comes before the program.
  struct Wrapper {
    std::string_view options_with_value;
    bool takes_argument;
  };
  static const std::map<std::string, Wrapper, std::less<>> wrappers = {
      {"nice", {"n", false}},    {"ionice", {"cnp", false}},     {"nohup", {"", false}},
      {"sudo", {"ugCh", false}}, {"env", {"uSC", false}},        {"exec", {"a", false}},
      {"command", {"", false}},  {"time", {"fo", false}},        {"chronic", {"", false}},
      {"cronic", {"", false}},   {"systemd-cat", {"tp", false}}, {"timeout", {"sk", true}},
      {"flock", {"wEc", true}},  {"setlock", {"", true}},        {"su", {"cgs", true}}};
  static const std::set<std::string> interpreters = {
      "sh", "bash", "dash", "zsh", "python", "python3", "perl", "ruby", "php", "node", "pwsh"};
  for (const auto& words : simple_commands(command)) {
    size_t i = 0;
    while (i < words.size() && (is_assignment(words[i]) || keywords.count(words[i]))) {
      ++i;
    }
    if (i == words.size() || guards.count(words[i])) {
      continue;
    }
    // Unwrap: nice -n 10 ionice -c3 flock -n /run/x.lock /usr/bin/task
    while (i < words.size()) {
      const auto wrapper = wrappers.find(std::filesystem::path(words[i]).filename().string());
      if (wrapper == wrappers.end()) {
        break;
      }
      ++i;
      while (i < words.size() && (words[i].starts_with("-") || is_assignment(words[i]))) {
        const bool value_follows =
            words[i].size() == 2 && words[i][0] == '-' &&
            wrapper->second.options_with_value.find(words[i][1]) != std::string_view::npos;
        i = std::min(i + (value_follows ? 2 : 1), words.size());
      }
      if (wrapper->second.takes_argument && i < words.size()) {
        ++i;
      }
    }
    if (i == words.size()) {
      continue;
    }
    std::string program = std::filesystem::path(words[i]).filename().string();
    if (program == "run-parts") {
      return id_from_text(program_name(words.back()));
    }
    if (interpreters.count(program)) {
      // The script an interpreter runs, when it is named; inline code that only waits or
      // checks (perl -e 'sleep int(rand(43200))') is a preamble.
      bool preamble = false;
      for (size_t j = i + 1; j < words.size(); ++j) {
        if (words[j] == "-c" || words[j] == "-e" || words[j] == "-m") {
          preamble = words[j] != "-m" && j + 1 < words.size() &&
                     guards.count(words[j + 1].substr(0, words[j + 1].find(' ')));
          break;
        }
        if (!words[j].starts_with("-")) {
          return id_from_text(program_name(words[j]));
        }
      }
      if (preamble) {
        continue;
      }
    }
    return id_from_text(program_name(words[i]));
  }
  return {};
}

Result convert(const std::string& path, std::string_view text, const Options& options) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
    return convert_json(path, text, options);
  }
  return convert_crontab(path, text, options);
}

void disable(nlohmann::ordered_json& doc) {
  if (doc.contains("enabled")) {
    doc["enabled"] = false;
    return;
  }
  auto out = nlohmann::ordered_json::object();
  for (const char* key : {"id", "name", "description"}) {
    if (doc.contains(key)) {
      out[key] = doc[key];
    }
  }
  out["enabled"] = false;
  for (const auto& [key, value] : doc.items()) {
    out[key] = value; // the keys above keep their place
  }
  doc = std::move(out);
}

} // namespace jobs::migrate
