#include <base/duration.hpp>
#include <base/size.hpp>
#include <base/text.hpp>
#include <jobs/doc.hpp>
#include <jobs/loader.hpp>
#include <jobs/variables.hpp>
#include <jobsd/config.hpp>
#include <tz/zone.hpp>

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jobsd {

namespace {

using jobs::Mark;
using jobs::Node;

constexpr std::int64_t hour = 60 * 60;
constexpr std::int64_t day = 24 * hour;
constexpr std::int64_t no_max = std::numeric_limits<std::int64_t>::max();

bool group_exists(const std::string& name) {
  // getgrnam_r rather than getgrnam: the daemon reloads its configuration while other threads
  // run.
  std::vector<char> buffer(4096);
  for (;;) {
    group entry{};
    group* found = nullptr;
    const int rc = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc != ERANGE) {
      return rc == 0 && found != nullptr;
    }
    buffer.resize(buffer.size() * 2);
  }
}

// Every group this host knows, for suggestions. getgrent is not thread-safe, but this runs only
// for a name that does not exist, and a lost suggestion is harmless.
std::vector<std::string> group_names() {
  std::vector<std::string> names;
  setgrent();
  while (const group* g = getgrent()) {
    names.emplace_back(g->gr_name);
  }
  endgrent();
  return names;
}

// A value being read, with its dotted key for messages ("queues.default_limit"): "max_age" is in
// two sections.
struct Value {
  const Node& node;
  std::string key;
};

class Reader;

// A key of one level of the file and how to read its value into the Config.
struct Key {
  std::string_view name;
  void (*read)(Reader& r, const Value& v, Config& c);
};

// Type and range checks, each reporting at the value's place and returning nothing for a wrong
// value, so that the caller keeps its default and reading goes on.
class Reader {
public:
  Reader(std::string_view text, const std::string& path)
      : text_(text), path_(path), folder_(folder_of(path)) {}

  void error(Mark at, std::string message, int length = 1) {
    base::Error e;
    e.message = std::move(message);
    e.location = {path_, at.line, at.column};
    e.source_line = at.line > 0 ? jobs::source_line(text_, at.line) : std::string();
    e.length = std::max(length, 1);
    errors_.push_back(std::move(e));
  }

  void expected(const Value& v, const std::string& what) {
    error(v.node.mark, "\"" + v.key + "\": expected " + what + ", got " + describe(v.node),
          written_length(v.node));
  }

  // Reads the entries of a map of known keys in file order; an unknown key suggests the nearest
  // known one. A section that is present but empty (all its keys commented out) is fine.
  void section(const Value& v, const std::vector<Key>& keys, Config& c) {
    if (v.node.is_null()) {
      return;
    }
    if (!v.node.is_map()) {
      expected(v, "a map of " + key_list(keys));
      return;
    }
    read_keys(v.node, v.key, keys, c);
  }

  void read_keys(const Node& map, const std::string& prefix, const std::vector<Key>& keys,
                 Config& c) {
    for (const auto& e : map.entries) {
      const auto known =
          std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.name == e.key; });
      if (known == keys.end()) {
        unknown_key(e, prefix, keys);
      } else {
        known->read(*this, {e.value, prefix.empty() ? e.key : prefix + "." + e.key}, c);
      }
    }
  }

  std::optional<std::string> string(const Value& v) {
    if (!v.node.is_scalar()) {
      expected(v, "a string");
      return std::nullopt;
    }
    return v.node.scalar;
  }

  // A path; a relative one is taken relative to the configuration file's folder.
  std::optional<std::string> path(const Value& v) {
    if (!v.node.is_scalar() || v.node.scalar.empty()) {
      expected(v, "a path");
      return std::nullopt;
    }
    const std::filesystem::path p = v.node.scalar;
    return p.is_absolute() ? p.string() : (folder_ / p).lexically_normal().string();
  }

  std::optional<std::string> choice(const Value& v, const std::vector<std::string_view>& choices) {
    if (v.node.is_scalar() &&
        std::find(choices.begin(), choices.end(), v.node.scalar) != choices.end()) {
      return v.node.scalar;
    }
    std::string list;
    for (size_t i = 0; i < choices.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + std::string(choices[i]);
    }
    expected(v, list);
    return std::nullopt;
  }

  std::optional<int> integer(const Value& v, int min, int max) {
    if (v.node.is_scalar() && !v.node.quoted && jobs::is_whole_number(v.node.scalar)) {
      size_t used = 0;
      try {
        const long long n = std::stoll(v.node.scalar, &used);
        if (used == v.node.scalar.size() && n >= min && n <= max) {
          return static_cast<int>(n);
        }
      } catch (const std::exception&) {
      }
    }
    expected(v, "a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  }

  // Seconds, at most `max`.
  std::optional<std::int64_t> duration(const Value& v, std::int64_t max, std::int64_t min = 0) {
    if (!v.node.is_scalar()) {
      expected(v, "a duration such as 90s, 15m, 1h30m or 2d");
      return std::nullopt;
    }
    const auto d = base::parse_duration(v.node.scalar);
    if (!d) {
      error(inside(v.node, d.error().location.column - 1),
            "\"" + v.key + "\": " + d.error().message);
      return std::nullopt;
    }
    if (*d < min || *d > max) {
      expected(v, "a duration from " + base::format_duration(min) + " to " +
                      base::format_duration(max));
      return std::nullopt;
    }
    return *d;
  }

  // Milliseconds, at most `max`: a duration, or whole milliseconds with "ms" ("250ms").
  std::optional<std::int64_t> milliseconds(const Value& v, std::int64_t max) {
    const std::string what =
        "a duration from 0ms to " + base::format_duration(max / 1000) + " such as 250ms or 2s";
    std::optional<std::int64_t> ms;
    if (v.node.is_scalar()) {
      const std::string_view s = v.node.scalar;
      const auto digits = s.substr(0, s.size() - std::min<size_t>(s.size(), 2));
      if (s.ends_with("ms") && !digits.empty() && digits.size() <= 15 &&
          std::all_of(digits.begin(), digits.end(),
                      [](char ch) { return ch >= '0' && ch <= '9'; })) {
        ms = std::stoll(std::string(digits));
      } else if (const auto d = base::parse_duration(s)) {
        ms = *d * 1000;
      }
    }
    if (!ms || *ms > max) {
      expected(v, what);
      return std::nullopt;
    }
    return ms;
  }

  // A time limit into `out`: a duration of at least 1s, or none (no limit). A wrong value is
  // reported and leaves `out` as it was.
  void limit(const Value& v, std::optional<std::int64_t>& out) {
    const std::string none = ", or none for no limit";
    if (v.node.is_scalar() && v.node.scalar == "none") {
      out.reset();
      return;
    }
    if (v.node.is_scalar()) {
      const auto d = base::parse_duration(v.node.scalar);
      if (!d) {
        error(inside(v.node, d.error().location.column - 1),
              "\"" + v.key + "\": " + d.error().message + none);
        return;
      }
      if (*d > 0) {
        out = *d;
        return;
      }
    }
    expected(v, "a duration of at least 1s such as 30m, 1h or 6h" + none);
  }

  // Bytes, at least `min`.
  std::optional<std::int64_t> size(const Value& v, std::int64_t min) {
    if (!v.node.is_scalar()) {
      expected(v, "a size such as 512K, 1M or 2G");
      return std::nullopt;
    }
    const auto s = base::parse_size(v.node.scalar);
    if (!s) {
      error(inside(v.node, s.error().location.column - 1),
            "\"" + v.key + "\": " + s.error().message);
      return std::nullopt;
    }
    if (*s < min) {
      expected(v, "a size of at least " + base::format_size(min));
      return std::nullopt;
    }
    return *s;
  }

  // The zone `name`, written at `at`; nullptr after reporting an unknown one.
  const tz::Zone* zone(const std::string& name, Mark at, int length, const std::string& key) {
    const auto zone = tz::find_zone(name);
    if (!zone) {
      error(at, "\"" + key + "\": " + zone.error().message, length);
      return nullptr;
    }
    return *zone;
  }

  // The name of a group that exists on this host.
  std::optional<std::string> group(const Value& v) {
    if (!v.node.is_scalar() || v.node.scalar.empty()) {
      expected(v, "a group name");
      return std::nullopt;
    }
    const std::string& name = v.node.scalar;
    if (group_exists(name)) {
      return name;
    }
    std::string message = "\"" + v.key + "\": unknown group \"" + name + "\"";
    const auto near = base::suggest(name, group_names(), 1);
    if (!near.empty()) {
      message += "; did you mean " + base::quoted_alternatives(near) + "?";
    }
    error(v.node.mark, message, written_length(v.node));
    return std::nullopt;
  }

  // The caret length of a scalar written on one line, quotes included; 1 for anything else.
  static int written_length(const Node& n) {
    if (!n.is_scalar() || n.scalar.find('\n') != std::string::npos) {
      return 1;
    }
    return static_cast<int>(n.scalar.size()) + (n.quoted ? 2 : 0);
  }

  // How many characters of the line the key of `e` takes, quotes included.
  int key_length(const Node::Entry& e) const {
    const std::string line = jobs::source_line(text_, e.key_mark.line);
    const auto at = static_cast<size_t>(e.key_mark.column - 1);
    const bool quoted = at < line.size() && (line[at] == '"' || line[at] == '\'');
    return static_cast<int>(e.key.size()) + (quoted ? 2 : 0);
  }

  std::vector<base::Error> take_errors() {
    // Checks that look at a whole section (readers: group needs a reader_group) report after
    // its keys; sorting restores file order.
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      return std::pair(a.location.line, a.location.column) <
             std::pair(b.location.line, b.location.column);
    });
    return std::move(errors_);
  }

private:
  static std::filesystem::path folder_of(const std::string& path) {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(path.empty() ? "." : path, ec);
    return ec ? std::filesystem::path(path).parent_path() : absolute.parent_path();
  }

  static std::string key_list(const std::vector<Key>& keys) {
    std::string out;
    for (size_t i = 0; i < keys.size(); ++i) {
      out += (i == 0 ? "" : ", ") + std::string(keys[i].name);
    }
    return out;
  }

  void unknown_key(const Node::Entry& e, const std::string& prefix, const std::vector<Key>& keys) {
    std::vector<std::string> names;
    for (const auto& k : keys) {
      names.emplace_back(k.name);
    }
    std::string message =
        "unknown " + (prefix.empty() ? std::string() : prefix + " ") + "key \"" + e.key + "\"";
    const auto near = base::suggest(e.key, names, 1);
    if (!near.empty()) {
      message += "; did you mean " + base::quoted_alternatives(near) + "?";
    } else {
      message += " (known keys: " + key_list(keys) + ")";
    }
    error(e.key_mark, message, key_length(e));
  }

  std::string_view text_;
  std::string path_;
  std::filesystem::path folder_;
  std::vector<base::Error> errors_;
};

// Assigns a value that was read correctly; a wrong one leaves the default.
template <typename T, typename U>
void set(T& out, const std::optional<U>& value) {
  if (value) {
    out = static_cast<T>(*value);
  }
}

// The keys of each level. A new section is a table here and one line in top_keys().

void read_zone_limits(Reader& r, const Value& v, Config& c) {
  if (!v.node.is_map()) {
    r.expected(v, "a map of time zone names to limits");
    return;
  }
  for (const auto& e : v.node.entries) {
    const tz::Zone* zone = r.zone(e.key, e.key_mark, r.key_length(e), v.key);
    const auto limit = r.integer({e.value, v.key + "." + e.key}, 1, 10000);
    if (zone != nullptr && limit) {
      c.queue_limits[zone->name()] = *limit;
    }
  }
}

const std::vector<Key>& queue_keys() {
  static const std::vector<Key> keys = {
      {"default_limit",
       [](Reader& r, const Value& v, Config& c) { set(c.queue_limit, r.integer(v, 1, 10000)); }},
      {"global_limit",
       [](Reader& r, const Value& v, Config& c) { set(c.global_limit, r.integer(v, 1, 100000)); }},
      {"limits", read_zone_limits},
  };
  return keys;
}

const std::vector<Key>& access_keys() {
  static const std::vector<Key> keys = {
      {"admin_group",
       [](Reader& r, const Value& v, Config& c) { set(c.access.admin_group, r.group(v)); }},
      {"socket_group",
       [](Reader& r, const Value& v, Config& c) { set(c.access.socket_group, r.group(v)); }},
      {"readers",
       [](Reader& r, const Value& v, Config& c) {
         if (const auto s = r.choice(v, {"all", "group", "admins"})) {
           c.access.readers = *s == "group"    ? Access::Readers::group
                              : *s == "admins" ? Access::Readers::admins
                                               : Access::Readers::all;
         }
       }},
      {"reader_group",
       [](Reader& r, const Value& v, Config& c) { set(c.access.reader_group, r.group(v)); }},
  };
  return keys;
}

void read_access(Reader& r, const Value& v, Config& c) {
  r.section(v, access_keys(), c);
  // An unknown reader_group has its own error; only a missing one is reported here.
  if (c.access.readers == Access::Readers::group && v.node.find("reader_group") == nullptr) {
    const Node& readers = *v.node.find("readers");
    r.error(readers.mark,
            "\"" + v.key + ".readers\": group needs \"reader_group\", " +
                "the group whose members may use read-only commands",
            Reader::written_length(readers));
  }
}

const std::vector<Key>& retention_keys() {
  static const std::vector<Key> keys = {
      {"max_per_job",
       [](Reader& r, const Value& v, Config& c) {
         set(c.max_per_job, r.integer(v, 0, std::numeric_limits<int>::max()));
       }},
      {"max_age",
       [](Reader& r, const Value& v, Config& c) { set(c.max_history_age, r.duration(v, no_max)); }},
  };
  return keys;
}

const std::vector<Key>& log_keys() {
  static const std::vector<Key> keys = {
      {"max_size",
       [](Reader& r, const Value& v, Config& c) { set(c.logs.max_size, r.size(v, 4 << 10)); }},
      {"max_files",
       [](Reader& r, const Value& v, Config& c) { set(c.logs.max_files, r.integer(v, 1, 1000)); }},
      {"max_age",
       [](Reader& r, const Value& v, Config& c) { set(c.logs.max_age, r.duration(v, no_max)); }},
  };
  return keys;
}

// --- connections, allowed_paths, smtp: credentials are references, never values.

// The connection a key of "connections.NAME.KEY" belongs to.
engine::Connection& connection_of(const Value& v, Config& c) {
  const size_t from = std::string_view("connections.").size();
  const std::string name = v.key.substr(from, v.key.rfind('.') - from);
  return c.integrations.connections[name];
}

// A password given as ${secret.NAME}: anything else would be the password itself.
std::optional<engine::Credential> secret_reference(Reader& r, const Value& v) {
  const auto s = r.string(v);
  if (!s) {
    return std::nullopt;
  }
  const auto refs = jobs::find_variables(*s);
  if (refs.size() == 1 && refs[0].begin == 0 && refs[0].end == s->size() &&
      refs[0].name.starts_with("secret.") && refs[0].name.size() > 7) {
    return engine::Credential{engine::Credential::Source::secret, refs[0].name.substr(7)};
  }
  r.error(v.node.mark,
          "\"" + v.key + "\": write ${secret.NAME} (or use password_env or password_file); " +
              "a password is never written in the configuration",
          Reader::written_length(v.node));
  return std::nullopt;
}

std::optional<engine::Credential> env_reference(Reader& r, const Value& v) {
  const auto s = r.string(v);
  if (!s || s->empty()) {
    return std::nullopt;
  }
  return engine::Credential{engine::Credential::Source::env, *s};
}

std::optional<engine::Credential> file_reference(Reader& r, const Value& v) {
  const auto p = r.path(v);
  if (!p) {
    return std::nullopt;
  }
  return engine::Credential{engine::Credential::Source::file, *p};
}

// Sets the password of a connection or of smtp: from one of password, password_env and
// password_file, not two.
void set_password(Reader& r, const Value& v, engine::Credential& out,
                  const std::optional<engine::Credential>& value) {
  if (!value) {
    return;
  }
  if (out.source != engine::Credential::Source::none) {
    r.error(v.node.mark,
            "\"" + v.key + "\": give one of password, password_env and password_file, not two",
            Reader::written_length(v.node));
    return;
  }
  out = *value;
}

// Whether `text` holds a password of its own: "user:secret@" in a URL, "password=" in a
// conninfo, "PWD=" or "Password=" in an ODBC connection string.
bool has_inline_password(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (const size_t scheme = lower.find("://"); scheme != std::string::npos) {
    const size_t at = lower.find('@', scheme);
    const size_t colon = lower.find(':', scheme + 3);
    if (at != std::string::npos && colon < at) {
      return true;
    }
  }
  // A keyword at the start or after a separator, then blanks, then '=' (libpq allows blanks).
  for (const std::string_view k : {"password", "pwd"}) {
    for (size_t at = lower.find(k); at != std::string::npos; at = lower.find(k, at + 1)) {
      const bool starts =
          at == 0 || std::string_view(" \t;&?").find(lower[at - 1]) != std::string_view::npos;
      const size_t eq = lower.find_first_not_of(" \t", at + k.size());
      if (starts && eq != std::string::npos && lower[eq] == '=') {
        return true;
      }
    }
  }
  return false;
}

// The target of a connection (path, url, conninfo, dsn, connection_string), refused when it
// holds a password.
void read_target(Reader& r, const Value& v, Config& c) {
  const auto s = r.string(v);
  if (!s) {
    return;
  }
  if (has_inline_password(*s)) {
    r.error(v.node.mark,
            "\"" + v.key + "\": holds a password; give it with password: ${secret.NAME}, " +
                "password_env or password_file",
            Reader::written_length(v.node));
    return;
  }
  engine::Connection& conn = connection_of(v, c);
  const std::string k = v.key.substr(v.key.rfind('.') + 1);
  if (k == "path") {
    set(conn.target, r.path(v));
  } else if (k == "dsn") {
    conn.target = "DSN=" + *s;
  } else {
    conn.target = *s;
  }
}

const std::vector<Key>& connection_keys() {
  static const std::vector<Key> keys = {
      {"type",
       [](Reader& r, const Value& v, Config& c) {
         if (const auto t = r.choice(v, {"sqlite", "postgresql", "odbc"})) {
           connection_of(v, c).driver = *t == "postgresql" ? sql::Driver::postgresql
                                        : *t == "odbc"     ? sql::Driver::odbc
                                                           : sql::Driver::sqlite;
         }
       }},
      {"path", read_target},
      {"url", read_target},
      {"conninfo", read_target},
      {"dsn", read_target},
      {"connection_string", read_target},
      {"password",
       [](Reader& r, const Value& v, Config& c) {
         set_password(r, v, connection_of(v, c).password, secret_reference(r, v));
       }},
      {"password_env",
       [](Reader& r, const Value& v, Config& c) {
         set_password(r, v, connection_of(v, c).password, env_reference(r, v));
       }},
      {"password_file",
       [](Reader& r, const Value& v, Config& c) {
         set_password(r, v, connection_of(v, c).password, file_reference(r, v));
       }},
  };
  return keys;
}

// The keys each type of connection needs, one of them.
const char* targets_of(sql::Driver d) {
  switch (d) {
  case sql::Driver::sqlite:
    return "path";
  case sql::Driver::postgresql:
    return "url or conninfo";
  case sql::Driver::odbc:
    return "dsn or connection_string";
  }
  return "path";
}

void read_connections(Reader& r, const Value& v, Config& c) {
  if (v.node.is_null()) {
    return;
  }
  if (!v.node.is_map()) {
    r.expected(v, "a map of connection names to {type, ...}");
    return;
  }
  for (const auto& e : v.node.entries) {
    const std::string key = v.key + "." + e.key;
    if (!jobs::is_valid_id(e.key)) {
      r.error(e.key_mark, "\"" + key + "\": a connection name is letters, digits, '_', '-' and '.'",
              r.key_length(e));
      continue;
    }
    if (!e.value.is_map()) {
      r.expected({e.value, key},
                 "a map with type and path, url, conninfo, dsn or connection_string");
      continue;
    }
    engine::Connection& conn = c.integrations.connections[e.key];
    conn.name = e.key;
    r.read_keys(e.value, key, connection_keys(), c);
    const Node* type = e.value.find("type");
    if (type == nullptr) {
      r.error(e.value.mark, "\"" + key + "\": needs a type (sqlite, postgresql or odbc)");
      continue;
    }
    if (conn.target.empty()) {
      bool given = false;
      for (const char* k : {"path", "url", "conninfo", "dsn", "connection_string"}) {
        given = given || e.value.find(k) != nullptr;
      }
      if (!given) {
        r.error(e.value.mark, "\"" + key + "\": a " + engine::to_string(conn.driver) +
                                  " connection needs " + targets_of(conn.driver));
      }
    }
  }
}

void read_allowed_paths(Reader& r, const Value& v, Config& c) {
  const auto add = [&](const Node& n, const std::string& key) {
    if (const auto p = r.path({n, key})) {
      c.integrations.allowed_paths.push_back(*p);
    }
  };
  if (v.node.is_sequence()) {
    for (const auto& item : v.node.items) {
      add(item, v.key);
    }
  } else if (v.node.is_scalar()) {
    add(v.node, v.key);
  } else {
    r.expected(v, "a list of folders");
  }
}

engine::Smtp& smtp_of(Config& c) {
  if (!c.integrations.smtp) {
    c.integrations.smtp.emplace();
  }
  return *c.integrations.smtp;
}

const std::vector<Key>& smtp_keys() {
  static const std::vector<Key> keys = {
      {"host",
       [](Reader& r, const Value& v, Config& c) { set(smtp_of(c).server.host, r.string(v)); }},
      {"port", [](Reader& r, const Value& v,
                  Config& c) { set(smtp_of(c).server.port, r.integer(v, 1, 65535)); }},
      {"security",
       [](Reader& r, const Value& v, Config& c) {
         if (const auto s = r.choice(v, {"starttls", "tls", "none"})) {
           smtp_of(c).server.security = *s == "tls"    ? mail::Security::tls
                                        : *s == "none" ? mail::Security::none
                                                       : mail::Security::starttls;
         }
       }},
      {"username",
       [](Reader& r, const Value& v, Config& c) { set(smtp_of(c).server.username, r.string(v)); }},
      {"password",
       [](Reader& r, const Value& v, Config& c) {
         set_password(r, v, smtp_of(c).password, secret_reference(r, v));
       }},
      {"password_env",
       [](Reader& r, const Value& v, Config& c) {
         set_password(r, v, smtp_of(c).password, env_reference(r, v));
       }},
      {"password_file",
       [](Reader& r, const Value& v, Config& c) {
         set_password(r, v, smtp_of(c).password, file_reference(r, v));
       }},
      {"from", [](Reader& r, const Value& v, Config& c) { set(smtp_of(c).from, r.string(v)); }},
      {"ca_file",
       [](Reader& r, const Value& v, Config& c) { set(smtp_of(c).server.ca_file, r.path(v)); }},
      {"verify_tls",
       [](Reader& r, const Value& v, Config& c) {
         if (const auto b = r.choice(v, {"true", "false"})) {
           smtp_of(c).server.verify_tls = *b == "true";
         }
       }},
      {"timeout",
       [](Reader& r, const Value& v, Config& c) {
         if (const auto d = r.duration(v, hour)) {
           smtp_of(c).server.timeout = std::chrono::seconds(*d);
         }
       }},
  };
  return keys;
}

// --- metrics

void read_textfile(Reader& r, const Value& v, Config& c) {
  const auto p = r.path(v);
  if (!p) {
    return;
  }
  const std::filesystem::path path(*p);
  if (path.extension() != ".prom") {
    r.error(v.node.mark,
            "\"" + v.key + "\": node_exporter's textfile collector reads only files " +
                "ending in .prom",
            Reader::written_length(v.node));
    return;
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(path.parent_path(), ec)) {
    r.error(v.node.mark,
            "\"" + v.key + "\": the folder " + path.parent_path().string() + " does not exist",
            Reader::written_length(v.node));
    return;
  }
  c.metrics.textfile = *p;
}

const std::vector<Key>& metrics_keys() {
  static const std::vector<Key> keys = {{"textfile", read_textfile}};
  return keys;
}

// --- http: the HTTP API's listener.

HttpConfig& http_of(Config& c) {
  if (!c.http) {
    c.http.emplace();
  }
  return *c.http;
}

void read_flag(Reader& r, const Value& v, bool& out) {
  if (const auto b = r.choice(v, {"true", "false"})) {
    out = *b == "true";
  }
}

const std::vector<Key>& rate_limit_keys() {
  static const std::vector<Key> keys = {
      {"manual_runs_per_hour",
       [](Reader& r, const Value& v, Config& c) {
         set(http_of(c).manual_runs_per_hour, r.integer(v, 0, 1000000));
       }},
  };
  return keys;
}

const std::vector<Key>& http_keys() {
  static const std::vector<Key> keys = {
      {"listen", [](Reader& r, const Value& v, Config& c) { set(http_of(c).listen, r.string(v)); }},
      {"cert_file",
       [](Reader& r, const Value& v, Config& c) { set(http_of(c).cert_file, r.path(v)); }},
      {"key_file",
       [](Reader& r, const Value& v, Config& c) { set(http_of(c).key_file, r.path(v)); }},
      {"allow_plaintext",
       [](Reader& r, const Value& v, Config& c) { read_flag(r, v, http_of(c).allow_plaintext); }},
      {"max_connections",
       [](Reader& r, const Value& v, Config& c) {
         set(http_of(c).max_connections, r.integer(v, 1, 100000));
       }},
      {"max_connections_per_ip",
       [](Reader& r, const Value& v, Config& c) {
         set(http_of(c).max_connections_per_ip, r.integer(v, 1, 100000));
       }},
      {"max_request_bytes", [](Reader& r, const Value& v,
                               Config& c) { set(http_of(c).max_request_bytes, r.size(v, 1024)); }},
      {"request_timeout",
       [](Reader& r, const Value& v, Config& c) {
         set(http_of(c).request_timeout, r.duration(v, hour, 1));
       }},
      {"metrics_auth",
       [](Reader& r, const Value& v, Config& c) { read_flag(r, v, http_of(c).metrics_auth); }},
      {"rate_limits",
       [](Reader& r, const Value& v, Config& c) { r.section(v, rate_limit_keys(), c); }},
  };
  return keys;
}

void read_http(Reader& r, const Value& v, Config& c) {
  http_of(c);
  r.section(v, http_keys(), c);
  if (v.node.is_map() &&
      (v.node.find("cert_file") == nullptr) != (v.node.find("key_file") == nullptr)) {
    r.error(v.node.mark, "\"" + v.key + "\": TLS needs both \"cert_file\" and \"key_file\"", 1);
  }
}

const std::vector<Key>& top_keys() {
  static const std::vector<Key> keys = {
      {"jobs_dir", [](Reader& r, const Value& v, Config& c) { set(c.jobs_dir, r.path(v)); }},
      {"state_dir", [](Reader& r, const Value& v, Config& c) { set(c.state_dir, r.path(v)); }},
      {"log_dir", [](Reader& r, const Value& v, Config& c) { set(c.log_dir, r.path(v)); }},
      {"socket", [](Reader& r, const Value& v, Config& c) { set(c.socket, r.path(v)); }},
      {"default_timezone",
       [](Reader& r, const Value& v, Config& c) {
         const auto name = r.string(v);
         if (!name) {
           return;
         }
         const int length = Reader::written_length(v.node);
         if (const tz::Zone* zone = r.zone(*name, v.node.mark, length, v.key)) {
           c.default_timezone = *name;
           c.default_zone = zone;
         }
       }},
      {"default_timeout",
       [](Reader& r, const Value& v, Config& c) { r.limit(v, c.default_timeout); }},
      {"queues", [](Reader& r, const Value& v, Config& c) { r.section(v, queue_keys(), c); }},
      {"access", read_access},
      {"grace_period",
       [](Reader& r, const Value& v, Config& c) { set(c.grace_period, r.duration(v, day)); }},
      {"client_idle_timeout",
       [](Reader& r, const Value& v, Config& c) {
         set(c.client_idle_timeout, r.duration(v, hour, 1));
       }},
      {"kill_grace", [](Reader& r, const Value& v,
                        Config& c) { set(c.kill_grace, r.milliseconds(v, hour * 1000)); }},
      {"reload_debounce", [](Reader& r, const Value& v,
                             Config& c) { set(c.reload_debounce, r.milliseconds(v, 10 * 1000)); }},
      {"retention",
       [](Reader& r, const Value& v, Config& c) { r.section(v, retention_keys(), c); }},
      {"logs", [](Reader& r, const Value& v, Config& c) { r.section(v, log_keys(), c); }},
      {"secrets_file",
       [](Reader& r, const Value& v, Config& c) { set(c.secrets_file, r.path(v)); }},
      {"max_job_file_size",
       [](Reader& r, const Value& v, Config& c) { set(c.max_job_file_size, r.size(v, 1024)); }},
      {"connections", read_connections},
      {"allowed_paths", read_allowed_paths},
      {"http", read_http},
      {"smtp",
       [](Reader& r, const Value& v, Config& c) {
         smtp_of(c);
         r.section(v, smtp_keys(), c);
       }},
      {"metrics", [](Reader& r, const Value& v, Config& c) { r.section(v, metrics_keys(), c); }},
  };
  return keys;
}

} // namespace

int Config::limit_of(const std::string& zone) const {
  const auto it = queue_limits.find(zone);
  return it != queue_limits.end() ? it->second : queue_limit;
}

jobs::LoadOptions load_options(const Config& config) {
  jobs::LoadOptions options;
  options.default_zone = config.default_zone;
  options.default_timeout = config.default_timeout;
  options.daemon_is_root = geteuid() == 0;
  options.max_file_size = config.max_job_file_size;
  return options;
}

LoadedConfig parse_config(std::string_view text, const std::string& path) {
  LoadedConfig out;
  out.config.path = path;
  auto doc = path.ends_with(".json") ? jobs::parse_json(text, path) : jobs::parse_yaml(text, path);
  if (!doc) {
    out.errors.push_back(doc.error());
    return out;
  }
  const Node& root = *doc;
  Reader r(text, path);
  if (root.is_map()) {
    r.read_keys(root, "", top_keys(), out.config);
    for (const auto& e : root.entries) {
      out.config.lines[e.key] = e.key_mark.line;
    }
  } else if (!root.is_null()) { // an empty file, or one of only comments, means all defaults
    r.error(root.mark.line > 0 ? root.mark : Mark{1, 1},
            "a configuration file holds one map of keys (jobs_dir, queues, access, ...), got " +
                describe(root));
  }
  out.errors = r.take_errors();
  return out;
}

LoadedConfig load_config(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string text;
  bool ok = fd >= 0;
  while (ok) {
    char buffer[65536];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      ok = false;
    }
  }
  const int error = errno;
  if (fd >= 0) {
    ::close(fd);
  }
  if (!ok) {
    LoadedConfig out;
    out.config.path = path;
    base::Error e;
    e.message = "cannot read " + path + ": " + std::strerror(error);
    out.errors.push_back(std::move(e));
    return out;
  }
  return parse_config(text, path);
}

} // namespace jobsd
