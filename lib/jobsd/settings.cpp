#include "settings.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace jobsd {

namespace {

// $XDG_<KIND>_HOME, else ~/<fallback>: the base folders of a user's configuration and state.
std::string xdg_home(const Environment& env, const char* variable, const char* fallback) {
  if (std::string dir = env.get(variable); !dir.empty()) {
    return dir;
  }
  const std::string home = env.get("HOME");
  return (home.empty() ? "." : home) + "/" + fallback;
}

// The flag, else the variable, else the file's key, else `fallback`.
Setting pick(const std::string& flag, const char* flag_name, const Environment& env,
             const char* variable, const Config& file, const std::string& key,
             const std::string& configured, Setting fallback) {
  if (!flag.empty()) {
    return {flag, Origin::flag, flag_name};
  }
  if (*variable != '\0') {
    if (std::string value = env.get(variable); !value.empty()) {
      return {value, Origin::environment, variable};
    }
  }
  if (!configured.empty()) {
    const auto line = file.lines.find(key);
    return {configured, Origin::file,
            file.path + (line != file.lines.end() ? ":" + std::to_string(line->second) : "")};
  }
  return fallback;
}

} // namespace

const char* to_string(Origin origin) {
  switch (origin) {
  case Origin::flag:
    return "flag";
  case Origin::environment:
    return "environment";
  case Origin::file:
    return "file";
  case Origin::built_in:
    break;
  }
  return "default";
}

Environment Environment::of_process() {
  Environment env;
  env.root = geteuid() == 0;
  env.get = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value ? value : "");
  };
  return env;
}

std::string default_config_file(const Environment& env) {
  return env.root ? "/etc/jobs/jobsd.yaml"
                  : xdg_home(env, "XDG_CONFIG_HOME", ".config") + "/jobs/jobsd.yaml";
}

std::string default_jobs_dir(const Environment& env) {
  return env.root ? "/etc/jobs/jobs.d"
                  : xdg_home(env, "XDG_CONFIG_HOME", ".config") + "/jobs/jobs.d";
}

std::string default_state_dir(const Environment& env) {
  return env.root ? "/var/lib/jobs" : xdg_home(env, "XDG_STATE_HOME", ".local/state") + "/jobs";
}

Settings resolve_settings(const Flags& flags, const Environment& env) {
  Settings s;
  if (!flags.config.empty()) {
    s.config_file = {flags.config, Origin::flag, "--config"};
  } else if (std::string named = env.get(config_env); !named.empty()) {
    s.config_file = {named, Origin::environment, config_env};
  } else {
    const std::string fallback = default_config_file(env);
    std::error_code ec;
    if (std::filesystem::exists(fallback, ec)) {
      s.config_file = {fallback, Origin::built_in, ""};
    } else {
      // Nothing to read: `where` says what was looked for.
      s.config_file = {"", Origin::built_in, fallback + " does not exist"};
    }
  }
  if (!s.config_file.value.empty()) {
    s.loaded = load_config(s.config_file.value);
  }
  const Config& c = s.loaded.config;

  s.jobs_dir = pick(flags.jobs_dir, "--jobs-dir", env, jobs_dir_env, c, "jobs_dir", c.jobs_dir,
                    {default_jobs_dir(env), Origin::built_in, ""});
  s.state_dir = pick(flags.state_dir, "--state-dir", env, state_dir_env, c, "state_dir",
                     c.state_dir, {default_state_dir(env), Origin::built_in, ""});
  s.log_dir = pick(flags.log_dir, "--log-dir", env, log_dir_env, c, "log_dir", c.log_dir,
                   {s.state_dir.value + "/logs", Origin::built_in, "STATE_DIR/logs"});
  s.socket = pick(flags.socket, "--socket", env, socket_env, c, "socket", c.socket,
                  {s.state_dir.value + "/jobsd.sock", Origin::built_in, "STATE_DIR/jobsd.sock"});
  s.default_timezone = pick("", "", env, "", c, "default_timezone", c.default_timezone,
                            {"UTC", Origin::built_in, ""});
  const std::string timeout = jobs::format_timeout(c.default_timeout);
  s.default_timeout =
      pick("", "", env, "", c, "default_timeout", c.lines.count("default_timeout") ? timeout : "",
           {timeout, Origin::built_in, ""});
  return s;
}

} // namespace jobsd
