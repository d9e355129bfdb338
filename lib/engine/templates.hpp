#pragma once

// The template step types of the dynamic-registry design, run in-process on a connection of
// the daemon config: database_cleanup, data_export, backup and report (jobs(5)).

#include <engine/builtin.hpp>

namespace engine {

BuiltinResult run_database_cleanup(const BuiltinContext& c);
BuiltinResult run_data_export(const BuiltinContext& c);
BuiltinResult run_backup(const BuiltinContext& c);
BuiltinResult run_report(const BuiltinContext& c);

} // namespace engine
