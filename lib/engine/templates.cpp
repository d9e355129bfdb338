#include <engine/builtin_internal.hpp>
#include <engine/templates.hpp>

namespace engine {

using namespace builtin;

namespace {

BuiltinResult not_yet(const BuiltinContext& c) {
  Run run{c, {}, {}};
  return run.fail("this release cannot run steps of type \"" + c.step.type + "\" yet");
}

} // namespace

BuiltinResult run_database_cleanup(const BuiltinContext& c) {
  return not_yet(c);
}

BuiltinResult run_data_export(const BuiltinContext& c) {
  return not_yet(c);
}

BuiltinResult run_backup(const BuiltinContext& c) {
  return not_yet(c);
}

BuiltinResult run_report(const BuiltinContext& c) {
  return not_yet(c);
}

} // namespace engine
