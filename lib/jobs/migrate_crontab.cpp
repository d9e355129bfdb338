// jobsctl migrate for crontabs: user crontabs, /etc/crontab and /etc/cron.d files (with the
// user column), as cron (Vixie cron, cronie) reads them.
#include <base/duration.hpp>
#include <base/text.hpp>
#include <base/utf8.hpp>
#include <cron/schedule.hpp>
#include <jobs/loader.hpp>
#include <jobs/migrate.hpp>
#include <tz/zone.hpp>

#include <pwd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace jobs::migrate {

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// A whitespace-separated field of a line and its column (1-based).
struct Field {
  std::string text;
  int column = 0;
};

// Splits `count` fields off the front of `line`; `rest` receives what follows them, without
// leading blanks. Fewer fields when the line is shorter.
std::vector<Field> split_fields(std::string_view line, size_t count, std::string_view& rest) {
  std::vector<Field> fields;
  size_t i = 0;
  while (fields.size() < count) {
    while (i < line.size() && is_blank(line[i])) {
      ++i;
    }
    if (i == line.size()) {
      break;
    }
    const size_t start = i;
    while (i < line.size() && !is_blank(line[i])) {
      ++i;
    }
    fields.push_back({std::string(line.substr(start, i - start)), static_cast<int>(start) + 1});
  }
  while (i < line.size() && is_blank(line[i])) {
    ++i;
  }
  rest = line.substr(i);
  return fields;
}

bool is_env_name(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

std::string unquote(std::string s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

// A comment block describes the job below it unless it is a syntax diagram or commented-out
// crontab lines (Debian's "# m h dom mon dow command", "#PATH=...").
bool is_description(const std::vector<std::string>& comments) {
  if (comments.empty()) {
    return false;
  }
  for (const auto& c : comments) {
    if (c.empty()) {
      continue;
    }
    const char first = c.front();
    if (std::string_view("0123456789*@|.-").find(first) != std::string_view::npos ||
        c.find('=') != std::string::npos) {
      return false;
    }
  }
  return true;
}

// The user a spool crontab belongs to: /var/spool/cron/crontabs/USER (Debian) or
// /var/spool/cron/USER (Red Hat).
std::string spool_owner(const std::string& path) {
  const std::filesystem::path p(path);
  const std::string parent = p.parent_path().filename().string();
  if (parent == "crontabs" ||
      (parent == "cron" && p.parent_path().parent_path().filename() == "spool")) {
    return p.filename().string();
  }
  return {};
}

bool has_user_column(const std::string& path) {
  const std::filesystem::path p(path);
  return p.parent_path().filename() == "cron.d" || p.filename() == "crontab";
}

// How cron reads a job line's time fields (Vixie cron's entry.c, as Debian's cron and cronie
// have it): where jobs reads more (L, W, ?, a/n, a macro in capitals), cron refused the line;
// what follows a field's list ("#2" of "1#2") it skipped unread; a reversed range (FRI-SUN) it
// read as no value at all.
struct CronReading {
  std::string refused;             // why cron refused the line; empty when it read it
  std::vector<std::string> fields; // each field as cron read it
  std::string skipped;             // what cron skipped unread, said as a note
  std::string never;               // why the line, read by cron, matches no time
};

struct CronField {
  const char* name;
  int low;
  int high;
  std::vector<std::string_view> names; // names[i] is low + i
};

const CronField cron_fields[] = {
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day of month", 1, 31, {}},
    {"month",
     1,
     12,
     {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
    {"day of week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"}}};

// One number or name of a field at `i` (letters and digits, as cron collects them); nullopt
// with `why` set when cron refuses it.
std::optional<int> cron_number(const CronField& f, std::string_view text, size_t& i,
                               std::string& why) {
  const size_t start = i;
  while (i < text.size() && std::isalnum(static_cast<unsigned char>(text[i]))) {
    ++i;
  }
  const std::string_view word = text.substr(start, i - start);
  for (size_t n = 0; n < f.names.size(); ++n) {
    if (base::to_lower(word) == f.names[n]) {
      return f.low + static_cast<int>(n);
    }
  }
  if (word.empty() || word.find_first_not_of("0123456789") != std::string::npos ||
      word.size() > 4) {
    why = std::string(f.name) + ": cron has no \"" +
          std::string(word.empty() ? text.substr(start, 1) : word) + "\" (it reads numbers" +
          (f.names.empty() ? "" : ", names") + ", ranges, steps and *)";
    return std::nullopt;
  }
  return std::stoi(std::string(word));
}

CronReading read_as_cron(const std::vector<Field>& fields, bool macro) {
  CronReading r;
  if (macro) {
    static const std::set<std::string, std::less<>> known = {
        "@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"};
    if (!known.count(fields[0].text)) {
      r.refused = "cron has no " + fields[0].text + " (its macros are lower case: " +
                  "@reboot @yearly @annually @monthly @weekly @daily @midnight @hourly)";
    }
    return r;
  }
  bool empty_dow = false;
  for (size_t k = 0; k < 5; ++k) {
    const CronField& f = cron_fields[k];
    const std::string_view text = fields[k].text;
    size_t i = 0;
    std::string kept; // the items cron set something from
    while (true) {
      const size_t item = i;
      int low = f.low;
      int high = f.high;
      if (i < text.size() && text[i] == '*') {
        ++i;
      } else {
        const auto first = cron_number(f, text, i, r.refused);
        if (!first) {
          return r;
        }
        low = high = *first;
        if (i < text.size() && text[i] == '/') {
          r.refused = std::string(f.name) + ": cron takes a step only after a range or * (" +
                      std::string(text) + ")";
          return r;
        }
        if (i < text.size() && text[i] == '-') {
          ++i;
          const auto last = cron_number(f, text, i, r.refused);
          if (!last) {
            return r;
          }
          high = *last;
        }
      }
      if (i < text.size() && text[i] == '/') {
        ++i;
        const size_t start = i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
          ++i;
        }
        if (i == start || i - start > 4 || std::stoi(std::string(text.substr(start))) == 0) {
          r.refused = std::string(f.name) + ": cron needs a step of at least 1 after '/'";
          return r;
        }
      }
      if (low < f.low || high > f.high) {
        r.refused = std::string(f.name) + ": " + std::string(text.substr(item, i - item)) +
                    " is out of range for cron";
        return r;
      }
      if (low <= high) {
        kept += (kept.empty() ? "" : ",") + std::string(text.substr(item, i - item));
      }
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    if (i < text.size()) {
      r.skipped = std::string(f.name) + " " + std::string(text) + ": cron skipped \"" +
                  std::string(text.substr(i)) + "\" unread and ran this line with " + kept;
    }
    if (kept.empty()) { // reversed ranges alone, which jobs refuses outside the day of week
      empty_dow = k == 4;
      kept = "*";
    }
    r.fields.push_back(kept);
  }
  // An empty day of week: with day of month '*', no day at all; else the days of month alone,
  // which '*' there gives.
  if (empty_dow && fields[2].text.front() == '*') {
    r.never = "day of week " + fields[4].text + " is a reversed range, which cron reads as no day";
  } else if (empty_dow) {
    r.skipped = "day of week " + fields[4].text +
                ": a reversed range, which cron reads as no day; cron ran this line on the "
                "days of month alone";
  }
  return r;
}

std::string home_of(const std::string& user) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found) == 0 &&
      found != nullptr && pw.pw_dir != nullptr) {
    return pw.pw_dir;
  }
  return {};
}

// A shell command that reads `input` on its standard input: a here-document, after the command
// itself or, for a compound command, after a group around it.
std::string with_input(const std::string& command, std::string input) {
  std::string marker = "CRON_INPUT";
  while (("\n" + input + "\n").find("\n" + marker + "\n") != std::string::npos) {
    marker += "_";
  }
  if (input.empty() || input.back() != '\n') {
    input += '\n';
  }
  const bool simple = command.find_first_of("|;&<>(){}#`\n") == std::string::npos;
  const std::string head = simple ? command : "{\n" + command + "\n}";
  return head + " <<'" + marker + "'\n" + input + marker + "\n";
}

// What the converter knows at a line: the settings of the lines above it.
struct Settings {
  nlohmann::ordered_json env = nlohmann::ordered_json::object();
  std::string zone;      // from CRON_TZ; empty: the host's
  int bad_zone_line = 0; // a CRON_TZ with an unknown zone
  std::vector<std::string> mailto;
  bool mailto_set = false;
  int mailto_line = 0;
  std::string shell;       // sh, bash, dash or zsh; empty: sh
  std::string home;        // from HOME
  std::int64_t jitter = 0; // from RANDOM_DELAY (minutes)
};

class CrontabConverter {
public:
  CrontabConverter(const std::string& path, const Options& options)
      : options_(options), user_column_(options.user_column.value_or(has_user_column(path))),
        owner_(user_column_ ? std::string() : spool_owner(path)) {
    result_.format = user_column_ ? "system crontab" : "crontab";
  }

  Result run(std::string_view text) {
    if (!text.empty() && text.back() != '\n') {
      refused_why_ = "it does not end in a newline";
    }
    int number = 0;
    while (!text.empty()) {
      const size_t end = text.find('\n');
      const std::string_view line = text.substr(0, end);
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
      ++number;
      read_line(number, line);
    }
    if (refused_line_ == 0 && !refused_why_.empty()) {
      refused_line_ = number;
    }
    if (refused_line_ != 0 && !result_.jobs.empty()) {
      for (auto& job : result_.jobs) {
        disable(job.doc);
      }
      difference(refused_line_, 0,
                 "cron ignores a whole crontab when " + refused_why_ +
                     ": no job of this file ever ran, and all are written with enabled: false "
                     "(jobsctl enable ID once checked)");
    }
    for (const auto& [line, mail] : mailto_used_) {
      difference(line, 0,
                 "MAILTO=" + mail + ": cron mails any output; the job now emails on failure");
    }
    std::stable_sort(result_.findings.begin(), result_.findings.end(),
                     [](const Finding& a, const Finding& b) { return a.line < b.line; });
    return std::move(result_);
  }

private:
  void difference(int line, int column, std::string message) {
    result_.findings.push_back({Finding::Kind::difference, line, column, std::move(message), line});
  }
  void unconverted(int line, int column, std::string message) {
    result_.findings.push_back(
        {Finding::Kind::unconverted, line, column, std::move(message), line});
  }
  // Cron refuses the whole file for this line (the first such line is said).
  void refuse_file(int line, std::string why) {
    if (refused_line_ == 0) {
      refused_line_ = line;
      refused_why_ = std::move(why);
    }
  }
  // A difference said once per file, at the first job it concerns.
  void once(const std::string& key, int line, std::string message) {
    if (said_.insert(key).second) {
      difference(line, 0, std::move(message));
    }
  }

  void read_line(int number, std::string_view raw) {
    for (size_t i = 0; i < raw.size();) {
      const size_t n = base::utf8::utf8_length(raw, i);
      if (n == 0) {
        unconverted(number, static_cast<int>(i) + 1,
                    "not UTF-8 text; convert the file first (iconv -f latin1 -t utf-8)");
        comments_.clear();
        return;
      }
      i += n;
    }
    const std::string line = trim(raw);
    if (line.empty()) {
      comments_.clear();
      return;
    }
    if (line.front() == '#') {
      comments_.push_back(trim(std::string_view(line).substr(1)));
      return;
    }
    const int indent = static_cast<int>(raw.find_first_not_of(" \t")) + 1;
    const char first = line.front();
    if (std::isdigit(static_cast<unsigned char>(first)) || first == '*' || first == '@' ||
        first == '-') {
      read_job(number, raw);
    } else if (line.find('=') != std::string::npos) {
      read_setting(number, indent, line);
    } else {
      unconverted(number, indent,
                  "not a job (five time fields, " + std::string(user_column_ ? "a user, " : "") +
                      "then the command) nor an environment setting (NAME=value)");
      refuse_file(number,
                  "a line is neither a job nor a setting (line " + std::to_string(number) + ")");
    }
    comments_.clear();
  }

  void read_setting(int number, int column, const std::string& line) {
    const size_t eq = line.find('=');
    const std::string name = unquote(trim(std::string_view(line).substr(0, eq)));
    const std::string value = unquote(trim(std::string_view(line).substr(eq + 1)));
    if (!is_env_name(name)) {
      unconverted(number, column,
                  "\"" + name + "\" is not an environment variable name (letters, digits, '_')");
      return;
    }
    // Cron puts every setting in the job's environment; some also mean more.
    s_.env[name] = value;
    if (name == "MAILTO") {
      s_.mailto.clear();
      s_.mailto_set = true;
      s_.mailto_line = number;
      std::string address;
      for (char c : value + ",") {
        if (c == ',' || is_blank(c)) {
          if (!address.empty()) {
            if (address.find('@') == std::string::npos) {
              difference(number, 0,
                         "MAILTO=" + address + " is a local mailbox; the job mails " + address +
                             "@localhost");
              address += "@localhost";
            }
            s_.mailto.push_back(address);
          }
          address.clear();
        } else {
          address += c;
        }
      }
    } else if (name == "CRON_TZ") {
      if (auto zone = tz::find_zone(value)) {
        s_.zone = value;
        s_.bad_zone_line = 0;
      } else {
        unconverted(number, column, "CRON_TZ: " + zone.error().message);
        s_.bad_zone_line = number;
      }
    } else if (name == "SHELL") {
      const std::string shell = std::filesystem::path(value).filename().string();
      if (shell == "bash" || shell == "dash" || shell == "zsh") {
        s_.shell = shell;
      } else {
        s_.shell.clear();
        if (shell != "sh") {
          difference(number, 0,
                     "SHELL=" + value +
                         ": shell steps run sh, bash, dash or zsh; the jobs below run with sh");
        }
      }
    } else if (name == "RANDOM_DELAY") {
      char* end = nullptr;
      const long minutes = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || minutes < 0) {
        unconverted(number, column,
                    "RANDOM_DELAY: expected a number of minutes, got \"" + value + "\"");
      } else {
        s_.jitter = minutes * 60;
      }
    } else if (name == "MAILFROM" || name == "CONTENT_TYPE" ||
               name == "CONTENT_TRANSFER_ENCODING") {
      difference(number, 0,
                 name + ": applies to cron's mail, which jobs does not send; only in env");
    } else if (name == "HOME") {
      s_.home = value;
    }
  }

  void read_job(int number, std::string_view raw) {
    std::string_view line = raw;
    if (line.ends_with('\r')) {
      once("crlf", number,
           "lines end in CR LF (a Windows file): cron kept the CR as the last character of each "
           "command; the jobs run the commands without it");
    }
    while (!line.empty() && (line.back() == '\r' || is_blank(line.back()))) {
      line.remove_suffix(1);
    }
    const size_t start = line.find_first_not_of(" \t");
    if (line[start] == '-') {
      // cronie: "-" before the time fields turns off syslog for the job.
      difference(number, static_cast<int>(start) + 1,
                 "'-' (no syslog for this job): jobs records every run in its history");
    }
    std::string_view rest;
    const bool macro = line[start] == '@' ||
                       (line[start] == '-' && line.size() > start + 1 && line[start + 1] == '@');
    auto fields = split_fields(line, macro ? 1 : 5, rest);
    if (!fields.empty() && fields[0].text.front() == '-') {
      fields[0].text.erase(0, 1);
      fields[0].column += 1;
    }
    if (fields.size() < (macro ? 1u : 5u) || rest.empty()) {
      refuse_file(number, "a job line lacks its command (line " + std::to_string(number) + ")");
      unconverted(number, static_cast<int>(start) + 1,
                  macro ? "a job line needs the @macro, " +
                              std::string(user_column_ ? "a user, " : "") + "then the command"
                        : "a job line needs five time fields, " +
                              std::string(user_column_ ? "a user, " : "") + "then the command");
      return;
    }
    std::string user = owner_;
    if (user_column_) {
      std::string_view command_part;
      const auto user_field = split_fields(rest, 1, command_part);
      if (user_field.empty() || command_part.empty()) {
        refuse_file(number,
                    "a job line lacks its user or command (line " + std::to_string(number) + ")");
        // A file named crontab is read as /etc/crontab is; `crontab -l > crontab` is not one.
        unconverted(number, static_cast<int>(start) + 1,
                    "a job line of a system crontab needs the time fields, a user, then the "
                    "command (for a user's crontab, which has no user column: jobsctl migrate "
                    "--crontab user)");
        return;
      }
      user = user_field[0].text;
      rest = command_part;
    }

    // The schedule, checked here so that its errors point into this line.
    std::string expression;
    std::vector<int> columns; // source column of each character of `expression`
    for (const auto& f : fields) {
      if (!expression.empty()) {
        expression += ' ';
        columns.push_back(f.column - 1);
      }
      for (size_t i = 0; i < f.text.size(); ++i) {
        expression += f.text[i];
        columns.push_back(f.column + static_cast<int>(i));
      }
    }
    const CronReading cron_reading = read_as_cron(fields, macro);
    if (!cron_reading.refused.empty()) {
      refuse_file(number,
                  "one of its lines is not cron's syntax (line " + std::to_string(number) + ")");
    }
    if (s_.bad_zone_line != 0) {
      unconverted(number, 0,
                  "not converted: the CRON_TZ on line " + std::to_string(s_.bad_zone_line) +
                      " names no known time zone");
      return;
    }
    const std::string zone = s_.zone.empty() ? options_.timezone : s_.zone;
    cron::ParseOptions parse_options;
    if (auto z = tz::find_zone(zone)) {
      parse_options.zone = *z;
    }
    auto parsed = cron::Schedule::parse(expression, parse_options);
    if (!parsed) {
      const int at = parsed.error().location.column;
      unconverted(number,
                  at >= 1 && at <= static_cast<int>(columns.size()) ? columns[at - 1]
                                                                    : fields[0].column,
                  parsed.error().message);
      return;
    }

    const CronCommand split = split_cron_command(rest);
    std::string run = split.command;
    if (split.input && !split.input->empty()) {
      run = with_input(split.command, *split.input);
      difference(number,
                 static_cast<int>(rest.data() - line.data()) + 1 + static_cast<int>(rest.find('%')),
                 "'%': cron fed the text after it, ending in a newline, to the command's "
                 "standard input; the job feeds the same bytes through a here-document");
    }

    std::string id = id_from_command(split.command);
    if (id.empty()) {
      id = "line-" + std::to_string(number);
    }
    std::string unique = id;
    for (int n = 2; ids_.count(unique); ++n) {
      unique = id + "-" + std::to_string(n);
    }
    ids_.insert(unique);

    nlohmann::ordered_json doc = nlohmann::ordered_json::object();
    if (is_description(comments_)) {
      std::string description;
      for (const auto& c : comments_) {
        if (!c.empty()) {
          description += (description.empty() ? "" : " ") + c;
        }
      }
      doc["description"] = description;
    }
    if (!cron_reading.refused.empty()) {
      doc["enabled"] = false;
      difference(number, 0,
                 "cron refused this line (" + cron_reading.refused +
                     ") and never ran it; the job is written with enabled: false");
    } else if (!cron_reading.never.empty()) {
      doc["enabled"] = false;
      difference(number, 0,
                 "cron never ran this line: " + cron_reading.never +
                     "; the job is written with enabled: false");
    } else if (!cron_reading.skipped.empty()) {
      expression.clear();
      for (const auto& f : cron_reading.fields) {
        expression += (expression.empty() ? "" : " ") + f;
      }
      difference(number, 0, cron_reading.skipped + "; so does the job");
    }
    doc["timezone"] = zone;
    if (s_.zone.empty()) {
      once("zone", number,
           "cron read the times of this file in the host's time zone; the jobs say timezone: " +
               zone + " (--timezone sets another)");
    }
    if (s_.jitter > 0) {
      doc["schedule"] = {{"cron", expression}, {"jitter", base::format_duration(s_.jitter)}};
    } else {
      doc["schedule"] = expression;
    }
    once("overlap", number,
         "cron starts a run while the previous one still runs; these jobs skip such a fire "
         "(write concurrency: allow to keep cron's way)");
    doc["timeout"] = "none";
    once("timeout", number,
         "cron never stops a command; these jobs say timeout: none to keep cron's way, so a run "
         "that hangs makes them skip every later fire (write a timeout to have jobsd stop it)");
    if (!parsed->is_reboot()) {
      once("missed", number,
           "cron never runs fires missed while the machine was down; these jobs run the latest "
           "one when jobsd starts (write missed: skip in schedule to keep cron's way)");
    }

    std::string directory = s_.home;
    if (directory.empty() && !user.empty()) {
      directory = home_of(user);
      if (directory.empty()) {
        difference(number, 0,
                   "user \"" + user +
                       "\" is not in this machine's passwd: cron started the command in that "
                       "user's home; set working_directory");
      }
    } else if (directory.empty()) {
      once("home", number,
           "cron started commands in the crontab owner's home directory; these jobs start in "
           "jobsd's working directory (set working_directory)");
    }
    if (!directory.empty()) {
      doc["working_directory"] = directory;
      std::error_code ec;
      if (!std::filesystem::is_directory(directory, ec)) {
        difference(number, 0,
                   "working_directory " + directory +
                       " does not exist on this machine: cron ran the command in its own "
                       "directory then; the job fails to start until it exists (set "
                       "working_directory)");
      }
    }
    // Cron's environment: the crontab's settings, then its defaults for those not set.
    nlohmann::ordered_json env = s_.env;
    if (!env.contains("SHELL")) {
      env["SHELL"] = "/bin/sh";
    }
    if (!env.contains("HOME") && !directory.empty()) {
      env["HOME"] = directory;
    }
    if (!env.contains("PATH")) {
      env["PATH"] = "/usr/bin:/bin";
    }
    if (!user.empty()) {
      env["LOGNAME"] = user;
    }
    doc["env"] = env;
    if (!user.empty()) {
      doc["run_as"] = user;
    } else {
      once("user", number,
           "cron ran these commands as the crontab's owner; these jobs run as jobsd's user (set "
           "run_as)");
    }
    if (!s_.mailto.empty()) {
      auto list = nlohmann::ordered_json::array();
      for (const auto& address : s_.mailto) {
        list.push_back({{"email", address}});
      }
      doc["notify"] = {{"on_failure", list}};
      mailto_used_[s_.mailto_line] = join_mailto();
    } else if (!s_.mailto_set) {
      once("mail", number,
           "cron mailed any output of these jobs to the crontab's owner; jobs keeps the output "
           "in the run history and mails nobody (set notify)");
    }
    if (s_.shell.empty()) {
      doc["command"] = run;
    } else {
      nlohmann::ordered_json step = {{"id", "main"}, {"type", "shell"}, {"shell", s_.shell}};
      step["run"] = run;
      doc["steps"] = nlohmann::ordered_json::array({step});
    }
    result_.jobs.push_back({unique, number, std::move(doc)});
  }

  std::string join_mailto() const {
    std::string out;
    for (const auto& a : s_.mailto) {
      out += (out.empty() ? "" : ",") + a;
    }
    return out;
  }

  const Options& options_;
  const bool user_column_;
  const std::string owner_;
  Settings s_;
  std::vector<std::string> comments_;
  std::set<std::string> ids_;
  std::set<std::string> said_;
  std::map<int, std::string> mailto_used_;
  int refused_line_ = 0;    // the line for which cron refused the whole file
  std::string refused_why_; // why, said after "cron ignores a whole crontab when"
  Result result_;
};

} // namespace

CronCommand split_cron_command(std::string_view text) {
  CronCommand out;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    // A backslash escapes the character after it, so a doubled backslash before '%' still
    // ends the command, as in cron's loop; only an escaped '%' loses its backslash.
    if (text[i] == '\\' && i + 1 < text.size()) {
      if (text[i + 1] != '%') {
        out.command += '\\';
      }
      out.command += text[++i];
    } else if (text[i] == '%') {
      break;
    } else {
      out.command += text[i];
    }
  }
  if (i == text.size()) {
    return out;
  }
  std::string input;
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '%') {
      input += '%';
      ++i;
    } else {
      input += text[i] == '%' ? '\n' : text[i];
    }
  }
  out.input = std::move(input);
  return out;
}

Result convert_crontab(const std::string& path, std::string_view text, const Options& options) {
  return CrontabConverter(path, options).run(text);
}

} // namespace jobs::migrate
