// Fuzzes jobsctl migrate's converters. The first byte picks the source kind: 'c' user crontab,
// 's' system crontab, 'j' JSON, any other all three. None may crash; every finding is on a line
// of the text; every converted job has a valid id and, written as YAML, reads back as the same
// document; the job file made from it loads or reports its errors.
#include <jobs/canonical.hpp>
#include <jobs/doc.hpp>
#include <jobs/loader.hpp>
#include <jobs/migrate.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check_at(bool ok, int line) {
  if (!ok) {
    std::fprintf(stderr, "check failed: fuzz_migrate.cpp:%d\n", line);
    std::abort();
  }
}
#define check(ok) check_at((ok), __LINE__)

void check_result(std::string_view text, const jobs::migrate::Result& r) {
  int lines = 1;
  for (char c : text) {
    lines += c == '\n' ? 1 : 0;
  }
  for (const auto& f : r.findings) {
    check(!f.message.empty());
    check(f.line >= 0 && f.line <= lines + 1);
    check(f.column >= 0);
  }
  for (const auto& job : r.jobs) {
    check(jobs::is_valid_id(job.id));
    check(job.line >= 1 && job.line <= lines);
    const std::string yaml = jobs::to_yaml(job.doc);
    const auto again = jobs::parse_yaml(yaml, "x.yaml");
    check(again.ok() && jobs::to_json(*again) == job.doc);
    const auto loaded = jobs::load_job_text(job.id + ".yaml", yaml, {});
    check(loaded.job.has_value() || loaded.has_errors());
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  jobs::migrate::Options options;
  if (data[0] != 's' && data[0] != 'j') {
    options.user_column = false;
    check_result(text, jobs::migrate::convert_crontab("fuzz", text, options));
  }
  if (data[0] != 'c' && data[0] != 'j') {
    options.user_column = true;
    check_result(text, jobs::migrate::convert_crontab("fuzz", text, options));
  }
  if (data[0] != 'c' && data[0] != 's') {
    check_result(text, jobs::migrate::convert_json("fuzz.json", text, options));
  }
  return 0;
}
