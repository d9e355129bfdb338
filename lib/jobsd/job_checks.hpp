#pragma once

// The checks of a job against the daemon's configuration, beyond loading it (jobsctl validate
// and edit, jobsd's validate command): its time limit, and the connections and SMTP server its
// steps use.

#include <jobs/loader.hpp>
#include <jobsd/config.hpp>

#include <string>

namespace jobsd {

// Why connection names cannot be checked against `config`: it was not found ("no daemon
// configuration (give --config FILE or set JOBS_CONFIG)") or it has none ("jobsd.yaml has no
// connections"). Empty when they can.
std::string connections_unchecked(const Config& config);

// What connections test and validate say of a connection name the configuration lacks:
// "unknown connection "wh"; did you mean "warehouse"? (connections of jobsd.yaml: a, b)", or
// why there is nothing to compare it with.
std::string unknown_connection(const Config& config, const std::string& name);

// Whom check_against_config's findings are for: an admin running jobsctl, who reads the
// configuration anyway (its path, its connections' names, the options that find it), or any
// reader of jobsd's socket, told only what the job itself names.
enum class Audience { admin, reader };

// Adds to the findings of `file` (which has a job; `text` is its text, for the findings' source
// lines) what the job needs from `config`: a time limit, and the connections its steps name,
// of which one it lacks is an error. Without a configuration, or with one that has no
// connections (or no SMTP server), nothing can be checked and each such step gets a warning
// instead, so that CI on a folder of job files without the daemon's configuration still passes.
void check_against_config(const Config& config, const std::string& text, jobs::LoadedFile& file,
                          Audience audience = Audience::admin);

} // namespace jobsd
