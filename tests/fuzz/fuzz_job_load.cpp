// Fuzzes the job loader on whole files: reading, validation and the model. The first byte
// picks the format: 'j' JSON (fuzz.json), any other YAML (fuzz.yaml). It may not crash; a job
// comes out exactly when there is no error; every finding names the file and a place on one
// of its lines; and a loaded job's canonical form (jobsctl fmt's JSON) loads again, without
// errors, to the same canonical form.
#include <jobs/canonical.hpp>
#include <jobs/doc.hpp>
#include <jobs/loader.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check_at(bool ok, int line) {
  if (!ok) {
    std::fprintf(stderr, "check failed: fuzz_job_load.cpp:%d\n", line);
    std::abort();
  }
}
#define check(ok) check_at((ok), __LINE__)

void check_findings(std::string_view text, const jobs::LoadedFile& loaded) {
  check(loaded.job.has_value() != loaded.has_errors());
  int lines = 1;
  for (char c : text) {
    lines += c == '\n' ? 1 : 0;
  }
  for (const auto& d : loaded.diagnostics) {
    check(!d.error.message.empty());
    check(d.error.location.path == loaded.path);
    // Line 0 is a finding about the whole file; otherwise a line of it (or just past the end).
    check(d.error.location.line >= 0 && d.error.location.line <= lines + 1);
    check(d.error.location.line == 0 || d.error.location.column >= 1);
    check(d.error.source_line.find('\n') == std::string::npos);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string path = data[0] == 'j' ? "fuzz.json" : "fuzz.yaml";
  const auto loaded = jobs::load_job_text(path, text, {});
  check_findings(text, loaded);
  if (!loaded.job) {
    return 0;
  }
  const auto canonical = jobs::to_json(*loaded.job);
  const auto again = jobs::load_job_text("fuzz.json", canonical.dump(2), {});
  check_findings(canonical.dump(2), again);
  if (!again.job) {
    std::fprintf(stderr, "the canonical form does not load:\n%s\n", canonical.dump(2).c_str());
    for (const auto& d : again.diagnostics) {
      std::fprintf(stderr, "%s\n", d.error.render().c_str());
    }
  }
  check(again.job.has_value());
  check(jobs::to_json(*again.job) == canonical);
  return 0;
}
