// Properties of job files: the canonical form read back (as YAML or as JSON) is the same job,
// a folder of valid files loads completely, and corrupting one file leaves the others loaded.
#include <jobs/canonical.hpp>
#include <jobs/doc.hpp>
#include <jobs/folder.hpp>
#include <jobs/loader.hpp>

#include <rapidcheck.h>

#include <filesystem>
#include <fstream>
#include <support/temp_dir.hpp>

namespace {

using Json = nlohmann::ordered_json;

rc::Gen<std::string> gen_word() {
  return rc::gen::map(rc::gen::inRange(0, 1000000), [](int n) { return "w" + std::to_string(n); });
}

// Text that needs care in YAML and JSON: quotes, colons, leading dashes, numbers, unicode.
rc::Gen<std::string> gen_text() {
  return rc::gen::oneOf(
      gen_word(), rc::gen::element<std::string>("yes", "no", "null", "123", "-x", "a: b", "#c",
                                                "say \"hi\"", "it's", "[x]", "{y}", "tab\there",
                                                "line\nbreak", "é ü 日本", " padded ", "@at",
                                                "%percent", "`tick`", "*star", "&amp", "!bang"));
}

rc::Gen<Json> gen_job() {
  return rc::gen::exec([] {
    Json job = Json::object();
    job["name"] = *gen_text();
    if (*rc::gen::arbitrary<bool>()) {
      job["description"] = *gen_text();
    }
    job["enabled"] = *rc::gen::arbitrary<bool>();
    job["timezone"] = *rc::gen::element<std::string>("UTC", "Europe/Berlin", "America/New_York",
                                                     "Australia/Lord_Howe", "Asia/Kolkata");
    const int kind = *rc::gen::inRange(0, 4);
    if (kind == 0) {
      job["schedule"] = *rc::gen::element<std::string>("*/5 * * * *", "30 2 * * 1-5", "@daily",
                                                       "0 9 * * 1#2", "H H * * *");
    } else if (kind == 1) {
      job["schedule"] = {{"cron", {"0 1 * * *", "30 14 1,15 * *"}},
                         {"missed", *rc::gen::element<std::string>("skip", "once", "all")},
                         {"dst_gap", *rc::gen::element<std::string>("shift", "skip")}};
    } else if (kind == 2) {
      job["schedule"] = {{"every", *rc::gen::element<std::string>("90s", "15m", "1h30m", "2d")},
                         {"jitter", "30s"}};
    }
    job["concurrency"] = *rc::gen::element<std::string>("allow", "forbid", "replace");
    job["priority"] = *rc::gen::inRange(0, 101);
    if (*rc::gen::arbitrary<bool>()) {
      job["timeout"] = *rc::gen::element<std::string>("90s", "1h", "2d3h", "none");
    }
    job["retries"] = {{"max", *rc::gen::inRange(0, 10)},
                      {"delay", "30s"},
                      {"backoff", 1.5},
                      {"max_delay", "10m"}};
    Json env = Json::object();
    const int vars = *rc::gen::inRange(0, 4);
    for (int i = 0; i < vars; ++i) {
      env["VAR_" + std::to_string(i)] = *gen_text();
    }
    if (!env.empty()) {
      job["env"] = env;
    }
    if (*rc::gen::arbitrary<bool>()) {
      job["limits"] = {{"memory", "512M"}, {"cpu_time", "10m"}, {"open_files", 1024}};
    }
    Json steps = Json::array();
    const int count = *rc::gen::inRange(1, 5);
    for (int i = 0; i < count; ++i) {
      Json step = {{"id", "s" + std::to_string(i)}};
      const int type = *rc::gen::inRange(0, 3);
      if (type == 0) {
        step["type"] = "shell";
        step["run"] = *gen_text();
      } else if (type == 1) {
        step["type"] = "command";
        step["argv"] = {*gen_text(), *gen_text()};
      } else {
        step["type"] = "powershell";
        step["script"] = *gen_text();
        step["parameters"] = {{"Environment", *gen_text()}};
      }
      if (*rc::gen::arbitrary<bool>()) {
        step["when"] = *rc::gen::element<std::string>("on_success", "on_failure", "always");
      }
      steps.push_back(step);
    }
    job["steps"] = steps;
    return job;
  });
}

Json canonical(const std::string& path, const std::string& text) {
  const auto file = jobs::load_job_text(path, text, {});
  if (!file.job) {
    std::string all;
    for (const auto& d : file.diagnostics) {
      all += jobs::render(d) + "\n";
    }
    RC_FAIL("did not load:\n" + all + "--- text:\n" + text);
  }
  return jobs::to_json(*file.job);
}

} // namespace

bool run_jobs_properties() {
  bool ok = true;
  ok &= rc::check("any text written as YAML reads back as the same text", [] {
    const auto chars = *rc::gen::container<std::vector<char>>(
        rc::gen::element(' ', '\n', '\t', ':', '#', '-', '*', '\'', '"', 'a', 'b', '0', '1', '.',
                         '{', ']', '|', '>', '%', '@', '`', '~', '!', '&', '?', ',', '\\', '='));
    const std::string text(chars.begin(), chars.end());
    const Json doc = {{"k", text}, {"list", {text}}};
    const std::string yaml = jobs::to_yaml(doc);
    auto node = jobs::parse_yaml(yaml, "x.yaml");
    RC_ASSERT(node.ok());
    RC_ASSERT(jobs::to_json(*node) == doc);
  });
  ok &= rc::check("canonical YAML and JSON read back as the same job", [] {
    const auto job = *gen_job();
    const auto first = canonical("jobs/x.json", job.dump(2));
    const auto as_yaml = canonical("jobs/x.yaml", jobs::to_yaml(first));
    RC_ASSERT(as_yaml == first);
    const auto as_json = canonical("jobs/x.json", first.dump());
    RC_ASSERT(as_json == first);
  });

  ok &= rc::check("a folder of valid files loads completely; a corrupted one hides no other", [] {
    const auto count = *rc::gen::inRange(2, 8);
    test::TempDir dir("jobs-prop");
    std::vector<std::string> paths;
    for (int i = 0; i < count; ++i) {
      const auto job = *gen_job();
      const bool yaml = *rc::gen::arbitrary<bool>();
      const auto path =
          (dir.path / ("job-" + std::to_string(i) + (yaml ? ".yaml" : ".json"))).string();
      std::ofstream(path) << (yaml ? jobs::to_yaml(job) : job.dump(2));
      paths.push_back(path);
    }
    auto set = jobs::load_paths({dir.path.string()}, {});
    RC_ASSERT(set.job_count() == static_cast<size_t>(count));
    RC_ASSERT(set.error_count() == 0u);

    // Corrupt one file: cut it short, or splice garbage into it.
    const auto victim = static_cast<size_t>(*rc::gen::inRange(0, count));
    std::ifstream in(paths[victim]);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const auto at = static_cast<size_t>(*rc::gen::inRange<size_t>(0, text.size()));
    text = *rc::gen::arbitrary<bool>()
               ? text.substr(0, at)
               : text.substr(0, at) +
                     *rc::gen::element<std::string>("\x01", "]]", ": :", "\"", "\t{") +
                     text.substr(at);
    std::ofstream(paths[victim], std::ios::trunc) << text;
    set = jobs::load_paths({dir.path.string()}, {});
    RC_ASSERT(set.job_count() >= static_cast<size_t>(count - 1));
    for (int i = 0; i < count; ++i) {
      if (static_cast<size_t>(i) != victim) {
        RC_ASSERT(set.find("job-" + std::to_string(i)) != nullptr);
      }
    }
  });
  return ok;
}
