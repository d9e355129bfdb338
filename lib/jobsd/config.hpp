#pragma once

// The daemon's configuration file (YAML, or JSON by extension), man/jobsd.8: paths, the default
// zone, the time-zone queues' limits, who may use the control socket, the shutdown grace period,
// history retention and log rotation. Read with the job files' reader, so its errors have the
// same form: "jobsd.yaml:4:3: error: unknown key "queus"; did you mean "queues"?".

#include <base/error.hpp>
#include <engine/integrations.hpp>
#include <jobs/loader.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tz {
class Zone;
}

namespace jobsd {

// Who may use the control socket. Mutating commands need an admin: root, the daemon's own
// user, or a member of `admin_group`. Read-only commands: per `readers`.
struct Access {
  std::string admin_group;  // empty: no group of admins
  std::string socket_group; // the group the socket belongs to (mode 0660); empty: the daemon's
  enum class Readers { all, group, admins } readers = Readers::all;
  std::string reader_group; // with readers: group
};

// What the daemon keeps of its logs: each log file rotates at max_size, keeping max_files old
// ones; rotated files and per-execution logs older than max_age are deleted.
struct LogRetention {
  std::int64_t max_size = 10 << 20;           // bytes
  int max_files = 5;                          // rotated files kept per log
  std::int64_t max_age = 30LL * 24 * 60 * 60; // seconds; 0: no limit by age
};

// The metrics (man/jobsd.8, METRICS); the metrics command and the HTTP listener serve them too.
struct MetricsOptions {
  // For node_exporter's textfile collector: a *.prom file in a folder that exists, written
  // atomically (mode 0644) when the metrics change, at most once every 15 seconds. Empty: none.
  std::string textfile;
};

// The HTTP listener (man/jobsd.8, HTTP API): on when the file has an http: section.
struct HttpConfig {
  std::string listen = "127.0.0.1:8080"; // host:port, [v6]:port or unix:PATH
  std::string cert_file, key_file;       // PEM; both set: TLS, read again on SIGHUP
  bool allow_plaintext = false;          // a non-loopback address without TLS is refused else
  int max_connections = 256;
  int max_connections_per_ip = 64;
  std::int64_t max_request_bytes = 1 << 20;
  std::chrono::seconds request_timeout{10}; // a connection quiet this long is dropped
  bool metrics_auth = false;                // /metrics needs a token too
  int manual_runs_per_hour = 0;             // trigger requests per token and hour; 0: no limit
};

struct Config {
  std::string path;                       // the file read; empty: defaults only
  std::map<std::string, int> lines;       // the line of each top-level key the file sets
  std::string jobs_dir;                   // empty: the caller's default
  std::string state_dir;                  // empty: the caller's default
  std::string log_dir;                    // empty: <state_dir>/logs
  std::string socket;                     // empty: <state_dir>/jobsd.sock
  std::string default_timezone;           // empty: UTC
  const tz::Zone* default_zone = nullptr; // the zone default_timezone names; null when empty

  int queue_limit = 4;                     // running executions per time-zone queue, by default
  std::map<std::string, int> queue_limits; // by zone name, as tz::Zone::name() gives it
  int global_limit = 64;                   // running executions in all

  Access access;
  std::chrono::seconds grace_period{30}; // SIGTERM: wait this long for running executions
  // A socket client with no request in progress and nothing to receive is closed after this.
  std::chrono::seconds client_idle_timeout{60};
  // These two also read whole milliseconds ("250ms").
  std::chrono::milliseconds kill_grace{10000};   // a step's SIGTERM to SIGKILL
  std::chrono::milliseconds reload_debounce{25}; // quiet time after a file change before reload
  int max_per_job = 1000;                        // history retention by count (0: no limit)
  std::int64_t max_history_age = 90LL * 24 * 60 * 60; // seconds (0: no limit)
  LogRetention logs;
  std::string secrets_file; // KEY=value lines for ${secret.NAME}; empty: the environment
  std::int64_t max_job_file_size = 1 << 20; // a larger job file is refused unread
  // The time limit of jobs without `timeout`, in seconds; none: no limit.
  std::optional<std::int64_t> default_timeout = jobs::default_job_timeout;
  // connections, allowed_paths and smtp: what sql, file and email steps use.
  engine::Integrations integrations;
  MetricsOptions metrics;
  std::optional<HttpConfig> http; // none: no HTTP listener

  // The limit of the queue of `zone` (a zone name): its own, else queue_limit.
  int limit_of(const std::string& zone) const;
};

// How job files load under `config`, for jobsd and for jobsctl alike: the default zone and
// timeout, the size limit, and whether this process is root.
jobs::LoadOptions load_options(const Config& config);

// A configuration as read: the values (defaults where the file is silent or wrong) and every
// error found, in file order.
struct LoadedConfig {
  Config config;
  std::vector<base::Error> errors;

  bool ok() const { return errors.empty(); }
};

// Reads the configuration file at `path`. Relative paths in it are relative to the file's
// folder and come out absolute. Unknown keys at any level are errors; a wrong value keeps its
// default and reading goes on, so that one pass reports every error. Every error has the file's
// path, line and column, the source line and a caret, and says what would be valid; an unknown key
// suggests the nearest known one. A file that cannot be read is one error ("cannot read jobsd.yaml:
// No such file or directory").
LoadedConfig load_config(const std::string& path);

// Parses configuration text (for tests and for load_config): JSON when `path` ends in ".json",
// else YAML. `path` names it in errors and anchors relative paths. Text that is empty or only
// comments gives the defaults.
LoadedConfig parse_config(std::string_view text, const std::string& path);

} // namespace jobsd
