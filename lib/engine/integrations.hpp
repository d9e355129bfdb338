#pragma once

// What the in-process steps (sql, http, webhook, azure_devops, file, email) need from the
// runner's configuration, the daemon's config file (man/jobsd.8): named database connections,
// the folders file steps may touch, the SMTP server. Passwords are never in it: each names
// where its password comes from.

#include <base/error.hpp>
#include <mail/smtp.hpp>
#include <sql/sql.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace engine {

// Where a password comes from: a secret (the secrets file, else the environment variable of
// that name), an environment variable, or the first line of a file.
struct Credential {
  enum class Source { none, secret, env, file } source = Source::none;
  std::string name; // the secret's or the variable's name, or the file's path
};

// A database connection as configured.
struct Connection {
  std::string name;
  sql::Driver driver = sql::Driver::sqlite;
  std::string target; // path, conninfo or URL, DSN or connection string: no password in it
  Credential password;
};

// The SMTP server of email steps and email notifications.
struct Smtp {
  mail::Server server; // server.password unset: it comes from `password`
  Credential password;
  std::string from;
};

struct Integrations {
  std::map<std::string, Connection> connections;
  std::vector<std::string> allowed_paths; // absolute folders file steps may touch
  std::optional<Smtp> smtp;
  std::map<std::string, std::string> secrets; // the secrets file, for credentials
};

// The password `c` names; nullopt for Source::none; an error saying what is missing.
base::Result<std::optional<std::string>> resolve(const Credential& c,
                                                 const std::map<std::string, std::string>& secrets);

// `url` with its ${...} references replaced: each value percent-encoded, so that it stays one
// path segment or query value whatever it holds (`/`, `?`, `&`, spaces), except when the whole
// URL is one reference, whose value is then the URL itself (`url: ${secret.SLACK_HOOK}`).
std::string url_with_variables(std::string_view url,
                               const std::function<std::string(const std::string&)>& value);

// The SMTP server with its password resolved; the error says what is missing ("smtp: ...").
base::Result<mail::Server> smtp_server(const Smtp& smtp,
                                       const std::map<std::string, std::string>& secrets);

// "postgresql", "sqlite", "odbc".
const char* to_string(sql::Driver d);

} // namespace engine
