#include <jobs/edit.hpp>

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace {

std::string set(std::string_view text, jobs::FileFormat format, bool value) {
  const auto path = format == jobs::FileFormat::json ? "jobs/a.json" : "jobs/a.yaml";
  auto edited = jobs::set_enabled(text, format, value, path);
  if (!edited) {
    FAIL(edited.error().render());
  }
  return *edited;
}

std::string yaml(std::string_view text, bool value = false) {
  return set(text, jobs::FileFormat::yaml, value);
}

std::string json(std::string_view text, bool value = false) {
  return set(text, jobs::FileFormat::json, value);
}

// "line:col: message" of the error, or "no error".
std::string error(std::string_view text, jobs::FileFormat format, bool value = false) {
  const auto edited = jobs::set_enabled(text, format, value, "jobs/a");
  if (edited) {
    return "no error";
  }
  const auto& e = edited.error();
  return std::to_string(e.location.line) + ":" + std::to_string(e.location.column) + ": " +
         e.message;
}

// A temporary folder, removed on success and kept (and named) on failure.
struct TestFolder {
  std::filesystem::path path;
  TestFolder() {
    char name[] = "/tmp/jobs-edit-test-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TestFolder() {
    if (std::uncaught_exceptions() == 0) {
      std::filesystem::remove_all(path);
    }
  }
  std::string file(const std::string& name, const std::string& text, mode_t mode) const {
    const auto p = (path / name).string();
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      out.push_back(entry.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

} // namespace

TEST_SUITE("jobs::set_enabled") {
  TEST_CASE("YAML: comments everywhere stay, only the value changes") {
    CHECK(yaml(R"(# Nightly report
# owner: data team
name: nightly   # the id is the file name

# the switch
enabled: true  # keep
  # an indented comment
schedule: "30 2 * * 1-5" # weekdays
)") == R"(# Nightly report
# owner: data team
name: nightly   # the id is the file name

# the switch
enabled: false  # keep
  # an indented comment
schedule: "30 2 * * 1-5" # weekdays
)");
    CHECK(yaml("enabled: false # off for now\nname: a\n", true) ==
          "enabled: true # off for now\nname: a\n");
    CHECK(yaml("name: a\nenabled :   on\t# spaced\n") == "name: a\nenabled :   false\t# spaced\n");
    CHECK(yaml("name: a\nenabled: !!bool true\n") == "name: a\nenabled: !!bool false\n");
    CHECK(yaml("name: a\nenabled: yes") == "name: a\nenabled: false");
  }

  TEST_CASE("YAML: an unquoted value that already means the same is left as it is") {
    const std::tuple<const char*, bool> cases[] = {
        {"enabled: true\n", true},  {"enabled: false\n", false}, {"enabled: yes\n", true},
        {"enabled: On\n", true},    {"enabled: NO\n", false},    {"enabled: Off # x\n", false},
        {"name: a\n", true}, // absent means enabled
        {R"({"name": "a"})", true},
    };
    for (const auto& [text_, value_] : cases) {
      const std::string text = text_; // doctest cannot capture a structured binding
      const bool value = value_;
      CAPTURE(text);
      CHECK(yaml(text, value) == text);
      CHECK(yaml(text, !value) != text);
    }
    CHECK(json(R"({"enabled": true})", true) == R"({"enabled": true})");
    CHECK(json(R"({"name": "a"})", true) == R"({"name": "a"})");
  }

  TEST_CASE("YAML: quoted values and spellings become plain true or false") {
    CHECK(yaml("enabled: \"true\"\n") == "enabled: false\n");
    CHECK(yaml("enabled: 'False'\n") == "enabled: false\n");
    CHECK(yaml("enabled: \"false\"\n", true) == "enabled: true\n");
    CHECK(yaml("enabled: \"false\"\n", false) == "enabled: false\n");
    CHECK(yaml("enabled: 'no'# comment\n", true) == "enabled: true # comment\n");
    CHECK(yaml("enabled: yes\n") == "enabled: false\n");
    CHECK(yaml("enabled: on\n") == "enabled: false\n");
    CHECK(yaml("enabled: OFF\n", true) == "enabled: true\n");
    CHECK(yaml("\"enabled\": true\nname: a\n") == "\"enabled\": false\nname: a\n");
    CHECK(yaml("'enabled': yes\nname: a\n") == "'enabled': false\nname: a\n");
    CHECK(yaml("enabled:\n  true\nname: a\n") == "enabled:\n  false\nname: a\n");
  }

  TEST_CASE("YAML: an absent key is inserted first, after leading comments and ---") {
    CHECK(yaml(R"(# Nightly report
---
# first key next
name: nightly
schedule: "@daily"
)") == R"(# Nightly report
---
# first key next
enabled: false
name: nightly
schedule: "@daily"
)");
    CHECK(yaml("%YAML 1.2\n--- # the job\nname: a\n") ==
          "%YAML 1.2\n--- # the job\nenabled: false\nname: a\n");
    CHECK(yaml("name: a") == "enabled: false\nname: a");
    CHECK(yaml("\xEF\xBB\xBFname: a\n") == "\xEF\xBB\xBF"
                                           "enabled: false\nname: a\n");
    CHECK(yaml("&defaults\nname: a\n") == "&defaults\nenabled: false\nname: a\n");
  }

  TEST_CASE("YAML: odd indentation") {
    // Three spaces under steps; the nested "enabled" is not the job's.
    CHECK(yaml(R"(name: a
steps:
   -  run: echo one
      enabled: false
   -  run: echo two
enabled: true
)") == R"(name: a
steps:
   -  run: echo one
      enabled: false
   -  run: echo two
enabled: false
)");
    // The whole map indented by three: the new line gets the same three spaces.
    CHECK(yaml("# c\n   name: a\n   steps:\n      - run: x\n") ==
          "# c\n   enabled: false\n   name: a\n   steps:\n      - run: x\n");
    CHECK(yaml("   name: a\n   enabled: on\n") == "   name: a\n   enabled: false\n");
  }

  TEST_CASE("YAML: CRLF line endings are kept, and the inserted line uses them") {
    CHECK(yaml("# c\r\nname: a\r\nenabled: true # keep\r\nsteps:\r\n  - run: x\r\n") ==
          "# c\r\nname: a\r\nenabled: false # keep\r\nsteps:\r\n  - run: x\r\n");
    CHECK(yaml("# c\r\n---\r\nname: a\r\nsteps:\r\n  - run: x\r\n    enabled: true\r\n") ==
          "# c\r\n---\r\nenabled: false\r\nname: a\r\nsteps:\r\n  - run: x\r\n    enabled: "
          "true\r\n");
    CHECK(yaml("name: a\r\n") == "enabled: false\r\nname: a\r\n");
  }

  TEST_CASE("YAML: an enabled below the top level is not the job's") {
    CHECK(yaml(R"(name: a
steps:
  - run: echo one
    enabled: true
notify:
  enabled: true
  email: ops@example.com
)") == R"(enabled: false
name: a
steps:
  - run: echo one
    enabled: true
notify:
  enabled: true
  email: ops@example.com
)");
    // A compact sequence at the key's indentation; the top-level key comes after it.
    CHECK(yaml("steps:\n- run: x\n  enabled: true\nenabled: yes\n") ==
          "steps:\n- run: x\n  enabled: true\nenabled: false\n");
    CHECK(yaml("meta: {enabled: true, tags: [enabled]}\nname: a\n") ==
          "enabled: false\nmeta: {enabled: true, tags: [enabled]}\nname: a\n");
  }

  TEST_CASE("YAML: text that looks like the key inside other values is not the key") {
    CHECK(yaml(R"(description: |
  Runs every night.
  enabled: true
# a comment ends the block
enabled: true
)") == R"(description: |
  Runs every night.
  enabled: true
# a comment ends the block
enabled: false
)");
    CHECK(yaml("description: >-\n  enabled: true\n\n  \"unbalanced quote\nname: a\n") ==
          "enabled: false\ndescription: >-\n  enabled: true\n\n  \"unbalanced quote\nname: a\n");
    // Multi-line plain and quoted scalars; YAML parsers accept the continuation of a quoted
    // scalar at column 0.
    CHECK(yaml("note: a plain scalar\n  'that goes on\nquote: \"first\nenabled: true\"\n"
               "single: 'it''s\nenabled: true'\ntags: [a,\nenabled: true]\nname: a\n") ==
          "enabled: false\nnote: a plain scalar\n  'that goes on\nquote: \"first\nenabled: "
          "true\"\nsingle: 'it''s\nenabled: true'\ntags: [a,\nenabled: true]\nname: a\n");
    CHECK(yaml("url: http://example.com/#top # enabled: true\nname: a\n") ==
          "enabled: false\nurl: http://example.com/#top # enabled: true\nname: a\n");
  }

  TEST_CASE("YAML: a flow map at the top level is edited like JSON") {
    CHECK(yaml("{name: a, enabled: true}\n") == "{name: a, enabled: false}\n");
    CHECK(yaml("{name: a, steps: [{run: x, enabled: true}]}\n") ==
          "{enabled: false, name: a, steps: [{run: x, enabled: true}]}\n");
    CHECK(yaml("--- {}\n") == "--- {enabled: false}\n");
    CHECK(yaml("{\n  # the job\n  name: a,\n  'enabled': \"on\"\n}\n") ==
          "{\n  # the job\n  name: a,\n  'enabled': false\n}\n");
    CHECK(yaml("{\r\n   name: a\r\n}\r\n") == "{\r\n   enabled: false,\r\n   name: a\r\n}\r\n");
  }

  TEST_CASE("YAML: several documents, only the first is edited") {
    CHECK(yaml("name: a\nenabled: true\n---\nname: b\nenabled: true\n") ==
          "name: a\nenabled: false\n---\nname: b\nenabled: true\n");
    CHECK(yaml("---\nname: a\n...\n---\nenabled: true\n") ==
          "---\nenabled: false\nname: a\n...\n---\nenabled: true\n");
  }

  TEST_CASE("JSON: pretty-printed with 2 and 4 spaces and tabs") {
    CHECK(json(R"({
  "name": "a",
  "enabled": true,
  "steps": [{"run": "x"}]
}
)") == R"({
  "name": "a",
  "enabled": false,
  "steps": [{"run": "x"}]
}
)");
    CHECK(json("{\n    \"name\": \"a\",\n    \"enabled\"  :  false\n}\n", true) ==
          "{\n    \"name\": \"a\",\n    \"enabled\"  :  true\n}\n");
    CHECK(json("{\n\t\"enabled\": \"true\",\n\t\"name\": \"a\"\n}") ==
          "{\n\t\"enabled\": false,\n\t\"name\": \"a\"\n}");
  }

  TEST_CASE("JSON: an absent member is inserted first, indented like the first member") {
    CHECK(json("{\n  \"name\": \"a\",\n  \"schedule\": \"@daily\"\n}\n") ==
          "{\n  \"enabled\": false,\n  \"name\": \"a\",\n  \"schedule\": \"@daily\"\n}\n");
    CHECK(json("{\n    \"name\": \"a\"\n}\n") ==
          "{\n    \"enabled\": false,\n    \"name\": \"a\"\n}\n");
    CHECK(json("{\n\t\"name\": \"a\"\n}\n") == "{\n\t\"enabled\": false,\n\t\"name\": \"a\"\n}\n");
    CHECK(json("  {\n  }\n") == "  {\n    \"enabled\": false\n  }\n");
  }

  TEST_CASE("JSON: an object on one line gets the member inline") {
    CHECK(json(R"({"name":"a","enabled":true})") == R"({"name":"a","enabled":false})");
    CHECK(json(R"({"name": "a"})") == R"({"enabled": false, "name": "a"})");
    CHECK(json(R"({ "name": "a" })") == R"({ "enabled": false, "name": "a" })");
    CHECK(json("{}") == R"({"enabled": false})");
  }

  TEST_CASE("JSON: nested members and string contents are not the job's") {
    CHECK(json(R"({
  "name": "a \"enabled\": true",
  "steps": [{"run": "x", "enabled": true}, {"enabled": false}],
  "metadata": {"enabled": true, "note": "{\"enabled\": true}\\"},
  "enabled": true
})") == R"({
  "name": "a \"enabled\": true",
  "steps": [{"run": "x", "enabled": true}, {"enabled": false}],
  "metadata": {"enabled": true, "note": "{\"enabled\": true}\\"},
  "enabled": false
})");
    CHECK(json(R"({"steps": [{"enabled": true}], "note": "\"enabled\": true"})") ==
          R"({"enabled": false, "steps": [{"enabled": true}], "note": "\"enabled\": true"})");
    CHECK(json(R"({"enab\u006ced": true})") == R"({"enab\u006ced": false})");
  }

  TEST_CASE("JSON: CRLF line endings") {
    CHECK(json("{\r\n  \"name\": \"a\",\r\n  \"enabled\": true\r\n}\r\n") ==
          "{\r\n  \"name\": \"a\",\r\n  \"enabled\": false\r\n}\r\n");
    CHECK(json("{\r\n  \"name\": \"a\"\r\n}\r\n") ==
          "{\r\n  \"enabled\": false,\r\n  \"name\": \"a\"\r\n}\r\n");
  }

  TEST_CASE("errors name the place and what is wrong") {
    using jobs::FileFormat;
    const std::tuple<const char*, FileFormat, const char*> cases[] = {
        {"- run: x\n", FileFormat::yaml, "1:1: the top level must be a map, not a list"},
        {"# c\n---\n[a, b]\n", FileFormat::yaml, "3:1: the top level must be a map, not a list"},
        {"just words\n", FileFormat::yaml, "1:1: the top level must be a map, not a scalar"},
        {"# nothing\n", FileFormat::yaml, "1:1: the top level must be a map, not empty"},
        {"name: a\nenabled:\n  - x\n", FileFormat::yaml,
         "3:3: \"enabled\" must be true or false, not a list"},
        {"name: a\nenabled: [true]\n", FileFormat::yaml,
         "2:10: \"enabled\" must be true or false, not a list"},
        {"enabled:\n  when: never\n", FileFormat::yaml,
         "2:3: \"enabled\" must be true or false, not a map"},
        {"enabled: maybe # hmm\n", FileFormat::yaml,
         "1:10: \"enabled\" must be true or false, not \"maybe\""},
        {"enabled: \"sometimes\"\n", FileFormat::yaml,
         "1:10: \"enabled\" must be true or false, not \"sometimes\""},
        {"enabled:\nname: a\n", FileFormat::yaml,
         "1:1: \"enabled\" must be true or false, not empty"},
        {"enabled: |\n  true\n", FileFormat::yaml,
         "1:10: \"enabled\" must be true or false, not a block scalar"},
        {"enabled: true\nname: a\nenabled: false\n", FileFormat::yaml,
         "3:1: duplicate key \"enabled\""},
        {"{name: a, enabled: [x]}", FileFormat::yaml,
         "1:20: \"enabled\" must be true or false, not a list"},
        {"name: \"open\nenabled: true\n", FileFormat::yaml, "1:7: unterminated string"},
        {"  name: a\nenabled: true\n", FileFormat::yaml,
         "2:1: this line is less indented than the top-level keys"},
        {"[{\"enabled\": true}]", FileFormat::json,
         "1:1: the top level must be an object, not an array"},
        {"", FileFormat::json, "1:1: the top level must be an object, not empty"},
        {"{\n  \"enabled\": [true]\n}", FileFormat::json,
         "2:14: \"enabled\" must be true or false, not an array"},
        {"{\"enabled\": {}}", FileFormat::json,
         "1:13: \"enabled\" must be true or false, not an object"},
        {"{\"enabled\": null}", FileFormat::json,
         "1:13: \"enabled\" must be true or false, not \"null\""},
        {"{\"enabled\": 1, \"enabled\": true}", FileFormat::json,
         "1:16: duplicate key \"enabled\""},
        {"{\"name\": \"a\"", FileFormat::json, "1:1: unclosed '{'"},
        {"{\"steps\": [}", FileFormat::json, "1:12: expected ']' before '}'"},
        {"{\"name\": \"a\"} x", FileFormat::json,
         "1:15: unexpected text after the top-level object"},
    };
    for (const auto& [text_, format, expected] : cases) {
      const std::string text = text_; // doctest cannot capture a structured binding
      CAPTURE(text);
      CHECK(error(text, format) == expected);
    }
  }

  TEST_CASE("an error renders with the path, the line and a caret") {
    const auto edited = jobs::set_enabled("name: a\nenabled: maybe\n", jobs::FileFormat::yaml,
                                          false, "jobs/a.yaml");
    REQUIRE_FALSE(edited.ok());
    CHECK(edited.error().render() ==
          "jobs/a.yaml:2:10: error: \"enabled\" must be true or false, not \"maybe\"\n"
          "  enabled: maybe\n"
          "           ^~~~~");
  }
}

TEST_SUITE("jobs::write_file_atomically") {
  TEST_CASE("replaces the content and keeps the mode, leaving no temporary file") {
    const TestFolder folder;
    const auto path = folder.file("nightly.yaml", "enabled: true\n", 0640);
    REQUIRE(mode_of(path) == 0640);
    const auto written = jobs::write_file_atomically(path, "enabled: false\n");
    REQUIRE(written.ok());
    CHECK(read(path) == "enabled: false\n");
    CHECK(mode_of(path) == 0640);
    CHECK(folder.names() == std::vector<std::string>{"nightly.yaml"});
  }

  TEST_CASE("with a mode: the new file has it, whatever the umask and the original's mode") {
    const TestFolder folder;
    const auto path = folder.file("jobs.prom", "old\n", 0600);
    const mode_t before = umask(077);
    const auto written = jobs::write_file_atomically(path, "new\n", 0644);
    umask(before);
    REQUIRE(written.ok());
    CHECK(read(path) == "new\n");
    CHECK(mode_of(path) == 0644);
    const auto fresh = (folder.path / "fresh.prom").string();
    REQUIRE(jobs::write_file_atomically(fresh, "x", 0644).ok());
    CHECK(mode_of(fresh) == 0644);
  }

  TEST_CASE("creates a missing file") {
    const TestFolder folder;
    const auto path = (folder.path / "new.json").string();
    REQUIRE(jobs::write_file_atomically(path, "{}").ok());
    CHECK(read(path) == "{}");
    CHECK(folder.names() == std::vector<std::string>{"new.json"});
  }

  TEST_CASE("refuses a symbolic link, and writes neither it nor its target") {
    // Whoever may write the folder could point a link at any file of the writer (root's).
    const TestFolder folder;
    const auto target = folder.file("real.yaml", "a: 1\n", 0600);
    const auto link = (folder.path / "link.yaml").string();
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    const auto written = jobs::write_file_atomically(link, "a: 2\n");
    REQUIRE_FALSE(written.ok());
    CHECK(written.error().message.find("symbolic link, which is not followed") !=
          std::string::npos);
    CHECK(std::filesystem::is_symlink(link));
    CHECK(read(target) == "a: 1\n");
    CHECK(folder.names() == std::vector<std::string>{"link.yaml", "real.yaml"});
  }

  TEST_CASE("set_enabled_in_file does not read through a symbolic link") {
    const TestFolder folder;
    const auto target = folder.file("secret.yaml", "schedule: \"0 0 * * *\"\ncommand: x\n", 0600);
    const auto link = (folder.path / "job.yaml").string();
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    const auto changed = jobs::set_enabled_in_file(link, false, {});
    REQUIRE_FALSE(changed.ok());
    CHECK(changed.error().message.find("symbolic link") != std::string::npos);
    CHECK(read(target) == "schedule: \"0 0 * * *\"\ncommand: x\n");
  }

  TEST_CASE("an error names the path and the system error") {
    const TestFolder folder;
    const auto path = (folder.path / "missing" / "a.yaml").string();
    const auto written = jobs::write_file_atomically(path, "x");
    REQUIRE_FALSE(written.ok());
    CHECK(written.error().location.path == path);
    CHECK(written.error().message.find("No such file or directory") != std::string::npos);
    CHECK(written.error().render().rfind(path + ": error: cannot create the temporary file", 0) ==
          0);
  }
}
