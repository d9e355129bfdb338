#include <jobs/doc.hpp>

#include <doctest/doctest.h>

#include <string>
#include <tuple>

namespace {

base::Error json_error(std::string_view text) {
  auto r = jobs::parse_json(text, "job.json");
  REQUIRE_FALSE(r.ok());
  return r.error();
}

base::Error yaml_error(std::string_view text) {
  auto r = jobs::parse_yaml(text, "job.yaml");
  REQUIRE_FALSE(r.ok());
  return r.error();
}

jobs::Node json(std::string_view text) {
  auto r = jobs::parse_json(text, "job.json");
  REQUIRE_MESSAGE(r.ok(), r.error().render());
  return *r;
}

jobs::Node yaml(std::string_view text) {
  auto r = jobs::parse_yaml(text, "job.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().render());
  return *r;
}

// "line:column", so that a failed check shows both places.
std::string at(const jobs::Mark& m) {
  return std::to_string(m.line) + ":" + std::to_string(m.column);
}

std::string nested(const char* open, const char* close, int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) {
    s += open;
  }
  for (int i = 0; i < depth; ++i) {
    s += close;
  }
  return s;
}

// The same job in both formats; the marks the loader reports from are checked in each.
const char* const job_json = R"({
  "name": "backup",
  "schedule": "0 3 * * *",
  "steps": [
    {"run": "tar czf /tmp/b.tgz /srv", "timeout": "1h"},
    {"run": "upload", "retries": 3, "env": {"MODE": "fast"}}
  ],
  "enabled": true,
  "owner": null
}
)";

const char* const job_yaml = R"(name: backup
schedule: "0 3 * * *"
steps:
  - run: tar czf /tmp/b.tgz /srv
    timeout: 1h
  - run: upload
    retries: 3
    env:
      MODE: 'fast'
enabled: true
owner: ~
)";

} // namespace

TEST_SUITE("jobs::source_line") {
  TEST_CASE("returns one line without its ending") {
    const std::string_view text = "one\r\ntwo\nthree";
    CHECK(jobs::source_line(text, 1) == "one");
    CHECK(jobs::source_line(text, 2) == "two");
    CHECK(jobs::source_line(text, 3) == "three");
    CHECK(jobs::source_line(text, 4) == "");
    CHECK(jobs::source_line(text, 0) == "");
    CHECK(jobs::source_line("a\n", 2) == "");
    CHECK(jobs::source_line("a\r\r\nb", 1) == "a");
    CHECK(jobs::source_line("", 1) == "");
  }

  TEST_CASE("leaves out a byte order mark") {
    CHECK(jobs::source_line("\xEF\xBB\xBF{}\n[]", 1) == "{}");
    CHECK(jobs::source_line("\xEF\xBB\xBF{}\n[]", 2) == "[]");
  }
}

TEST_SUITE("jobs::parse_json") {
  TEST_CASE("marks every key and value of a job file") {
    const auto doc = json(job_json);
    REQUIRE(doc.is_map());
    CHECK(at(doc.mark) == "1:1");
    REQUIRE(doc.entries.size() == 5);
    CHECK(doc.entries[0].key == "name");
    CHECK(at(doc.entries[0].key_mark) == "2:3");
    CHECK(at(doc.entries[0].value.mark) == "2:11");
    CHECK(doc.entries[0].value.scalar == "backup");

    const jobs::Node* steps = doc.find("steps");
    REQUIRE(steps != nullptr);
    REQUIRE(steps->is_sequence());
    CHECK(at(steps->mark) == "4:12");
    REQUIRE(steps->items.size() == 2);
    const auto& first = steps->items[0];
    CHECK(at(first.mark) == "5:5");
    REQUIRE(first.entries.size() == 2);
    CHECK(first.entries[1].key == "timeout");
    CHECK(at(first.entries[1].key_mark) == "5:40");
    CHECK(at(first.entries[1].value.mark) == "5:51");
    const auto& second = steps->items[1];
    REQUIRE(second.find("retries") != nullptr);
    CHECK(second.find("retries")->scalar == "3");
    CHECK_FALSE(second.find("retries")->quoted);
    CHECK(at(second.find("retries")->mark) == "6:34");
    const jobs::Node* env = second.find("env");
    REQUIRE(env != nullptr);
    REQUIRE(env->is_map());
    CHECK(at(env->mark) == "6:44");
    CHECK(at(env->entries[0].key_mark) == "6:45");
    CHECK(at(env->entries[0].value.mark) == "6:53");

    CHECK(doc.find("enabled")->scalar == "true");
    CHECK(doc.find("owner")->is_null());
    CHECK(at(doc.find("owner")->mark) == "9:12");
    CHECK(doc.find("missing") == nullptr);
  }

  TEST_CASE("scalars keep their text; strings are quoted") {
    const auto doc = json(R"(["x", 12, -0.50, 1E+3, true, false, null, "", {}, []])");
    REQUIRE(doc.items.size() == 10);
    CHECK(doc.items[0].scalar == "x");
    CHECK(doc.items[0].quoted);
    CHECK(doc.items[1].scalar == "12");
    CHECK(doc.items[2].scalar == "-0.50");
    CHECK(doc.items[3].scalar == "1E+3");
    for (int i = 1; i <= 5; ++i) {
      CAPTURE(i);
      CHECK(doc.items[i].is_scalar());
      CHECK_FALSE(doc.items[i].quoted);
    }
    CHECK(doc.items[4].scalar == "true");
    CHECK(doc.items[5].scalar == "false");
    CHECK(doc.items[6].is_null());
    CHECK(doc.items[7].is_scalar());
    CHECK(doc.items[7].quoted);
    CHECK(doc.items[7].scalar.empty());
    CHECK(doc.items[8].is_map());
    CHECK(doc.items[9].is_sequence());
  }

  TEST_CASE("a document may be a bare scalar") {
    CHECK(json(" 42 ").scalar == "42");
    CHECK(json("\"s\"").quoted);
    CHECK(json("null").is_null());
  }

  TEST_CASE("escapes, \\u and surrogate pairs become UTF-8") {
    CHECK(json(R"("a\"b\\c\/d\be\ff\ng\rh\ti")").scalar == "a\"b\\c/d\be\ff\ng\rh\ti");
    CHECK(json(R"("\u0041\u00e9\u20AC")").scalar == "A\xC3\xA9\xE2\x82\xAC");
    CHECK(json(R"("\uD83D\uDE00")").scalar == "\xF0\x9F\x98\x80");
    CHECK(json(R"("\udbff\udfff")").scalar == "\xF4\x8F\xBF\xBF");
    CHECK(json(R"("\u0000")").scalar == std::string(1, '\0'));
    CHECK(json("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"").scalar == "caf\xC3\xA9 \xF0\x9F\x98\x80");
  }

  TEST_CASE("columns count characters, not bytes") {
    const auto doc = json("{\"\xC3\xA9t\xC3\xA9\": \"\xE2\x82\xAC\", \"b\": 1}");
    CHECK(at(doc.entries[0].value.mark) == "1:9");
    CHECK(at(doc.entries[1].key_mark) == "1:14");
    const auto e = json_error("{\"\xC3\xA9\": 1 x}");
    CHECK(e.location.column == 9);
  }

  TEST_CASE("skips a byte order mark") {
    const auto doc = json("\xEF\xBB\xBF{\"a\": 1}");
    CHECK(at(doc.mark) == "1:1");
    CHECK(at(doc.entries[0].value.mark) == "1:7");
    const auto e = json_error("\xEF\xBB\xBF{\"a\" 1}");
    CHECK(e.location.column == 6);
    CHECK(e.source_line == "{\"a\" 1}");
  }

  TEST_CASE("CRLF line endings count one line each and stay out of the source line") {
    const auto doc = json("{\r\n  \"a\": 1,\r\n  \"b\": [true]\r\n}\r\n");
    CHECK(at(doc.entries[1].key_mark) == "3:3");
    CHECK(at(doc.entries[1].value.items[0].mark) == "3:9");
    const auto e = json_error("{\r\n  \"a\": 1,\r\n  \"b\" 2\r\n}\r\n");
    CHECK(e.message == "expected ':' after an object key, got '2'");
    CHECK(e.location.line == 3);
    CHECK(e.location.column == 7);
    CHECK(e.source_line == "  \"b\" 2");
  }

  TEST_CASE("errors name the exact place") {
    const std::tuple<const char*, const char*, int, int> cases[] = {
        {"", "unexpected end of file, expected a value", 1, 1},
        {"  \n ", "unexpected end of file, expected a value", 2, 2},
        {"{\"a\": 1 \"b\": 2}", "expected ',' or '}' after an object member, got '\"'", 1, 9},
        {"[1 2]", "expected ',' or ']' after an array item, got '2'", 1, 4},
        {"{\"a\" 1}", "expected ':' after an object key, got '1'", 1, 6},
        {"{\"a\": }", "expected a value, got '}'", 1, 7},
        {"{a: 1}", "expected a string key or '}', got 'a'", 1, 2},
        {"{'a': 1}",
         "expected a string key or '}', got a single quote (JSON strings take double quotes)", 1,
         2},
        {"{\"a\": 1,}", "trailing comma before '}'", 1, 8},
        {"[1,\n 2,\n]", "trailing comma before ']'", 2, 3},
        {"{\"a\": 1, 2}", "expected a string key after ',', got '2'", 1, 10},
        {"[,1]", "expected a value or ']', got ','", 1, 2},
        {"[1,,2]", "expected a value after ',', got ','", 1, 4},
        {"[True]", "expected a value, got 'True'", 1, 2},
        {"[nul]", "expected a value, got 'nul'", 1, 2},
        {"[.5]", "expected a value, got '.'", 1, 2},
        {"[+1]", "expected a value, got '+'", 1, 2},
        {"[\x01]", "expected a value, got U+0001", 1, 2},
        {"[\xC3\xA9]", "expected a value, got '\xC3\xA9'", 1, 2},
        {"[\xFF]", "expected a value, got byte 0xFF", 1, 2},
        {"{\"a\": 1", "unexpected end of file, expected ',' or '}' after an object member", 1, 8},
        {"[1,\n", "unexpected end of file, expected a value", 2, 1},
        {"[1,\r\n\r", "unexpected end of file, expected a value", 2, 1},
        {"{", "unexpected end of file, expected a string key or '}'", 1, 2},
        {"{\"a\"", "unexpected end of file, expected ':' after an object key", 1, 5},
        {"{} x", "expected end of file after the document, got 'x'", 1, 4},
        {"[1]\n]", "expected end of file after the document, got ']'", 2, 1},
        {"\"abc", "unterminated string", 1, 1},
        {"{\"a\": \"abc\n}", "unterminated string", 1, 7},
        {"[\"abc\\", "unterminated string", 1, 2},
        {"[\"a\tb\"]", "control character U+0009 in string, write it as \\t", 1, 4},
        {"[\"a\x01\"]", "control character U+0001 in string, write it as \\u0001", 1, 4},
        {"[\"\\x41\"]", "invalid escape '\\x' in string", 1, 3},
        {"[\"\\'\"]", "invalid escape '\\'' in string", 1, 3},
        {"[\"\\u12G4\"]", "invalid \\u escape, expected 4 hex digits", 1, 3},
        {"[\"\\u12\"]", "invalid \\u escape, expected 4 hex digits", 1, 3},
        {"[\"x\\uD83D\"]", "unpaired surrogate \\uD83D in string", 1, 4},
        {"[\"\\uD83D\\u0041\"]", "unpaired surrogate \\uD83D in string", 1, 3},
        {"[\"\\uDE00\"]", "unpaired surrogate \\uDE00 in string", 1, 3},
        {"[\"a\xFF\"]", "invalid UTF-8 in string", 1, 4},
        {"[\"\xC0\xAF\"]", "invalid UTF-8 in string", 1, 3},
        {"[\"\xED\xA0\x80\"]", "invalid UTF-8 in string", 1, 3},
        {"[012]", "invalid number '012': leading zeros are not allowed", 1, 2},
        {"[-01]", "invalid number '-01': leading zeros are not allowed", 1, 2},
        {"[-]", "invalid number '-': expected a digit after '-'", 1, 2},
        {"[-Infinity]", "invalid number '-Infinity': expected a digit after '-'", 1, 2},
        {"[1.]", "invalid number '1.': expected a digit after '.'", 1, 2},
        {"[1.e5]", "invalid number '1.e5': expected a digit after '.'", 1, 2},
        {"[1e]", "invalid number '1e': expected a digit in the exponent", 1, 2},
        {"[1e+]", "invalid number '1e+': expected a digit in the exponent", 1, 2},
        {"[0x1F]", "invalid number '0x1F'", 1, 2},
        {"[1.5.3]", "invalid number '1.5.3'", 1, 2},
        {"[12abc]", "invalid number '12abc'", 1, 2},
    };
    for (auto [text, message, line, column] : cases) {
      const std::string input(text); // doctest cannot capture a structured binding
      CAPTURE(input);
      const auto e = json_error(text);
      CHECK(e.message == message);
      CHECK(e.location.path == "job.json");
      CHECK(e.location.line == line);
      CHECK(e.location.column == column);
    }
  }

  TEST_CASE("carets underline the whole offending token") {
    CHECK(json_error("[0x1F]").length == 4);
    CHECK(json_error("[True]").length == 4);
    CHECK(json_error("[\"\\uD83D\"]").length == 6);
    CHECK(json_error("[\"\\q\"]").length == 2);
  }

  TEST_CASE("an error renders with its source line and caret") {
    const auto e = json_error("{\n  \"name\": \"x\"\n  \"steps\": []\n}\n");
    CHECK(e.render() == "job.json:3:3: error: expected ',' or '}' after an object member, got "
                        "'\"'\n    \"steps\": []\n    ^");
  }

  TEST_CASE("duplicate keys point at the second and name the first") {
    const auto e = json_error("{\n  \"name\": \"a\",\n  \"x\": 1,\n  \"name\": \"b\"\n}");
    CHECK(e.message == "duplicate key \"name\" (first at line 2)");
    CHECK(e.location.line == 4);
    CHECK(e.location.column == 3);
    CHECK(e.length == 6);
    CHECK(e.source_line == "  \"name\": \"b\"");
    // The same key written with an escape is the same key.
    CHECK(json_error(R"({"ab": 1, "a\u0062": 2})").message ==
          "duplicate key \"ab\" (first at line 1)");
    // Nested objects have their own keys.
    CHECK(json(R"({"a": {"a": 1}, "b": {"a": 2}})").entries.size() == 2);
  }

  TEST_CASE("duplicate keys are found in large objects") {
    std::string text = "{";
    for (int i = 0; i < 40; ++i) {
      text += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ",\n";
    }
    CHECK(json(text + "\"last\": 0}").entries.size() == 41);
    const auto e = json_error(text + "\"k7\": 0}");
    CHECK(e.message == "duplicate key \"k7\" (first at line 8)");
    CHECK(e.location.line == 41);
  }

  TEST_CASE("nesting is limited to 200 levels") {
    CHECK(json(nested("[", "]", 200)).is_sequence());
    const std::string objects = nested("{\"a\": ", "}", 200);
    CHECK(json(objects.substr(0, 1200) + "1" + objects.substr(1200)).is_map());
    const auto e = json_error(nested("[", "]", 201));
    CHECK(e.message == "nesting too deep (more than 200 levels)");
    CHECK(e.location.column == 201);
    CHECK(json_error(nested("{\"a\": ", "}", 100000)).message ==
          "nesting too deep (more than 200 levels)");
  }
}

TEST_SUITE("jobs::parse_yaml") {
  TEST_CASE("the escapes \\N, \\_, \\L and \\P become UTF-8") {
    // yaml-cpp gives \N and \_ as the bytes 0x85 and 0xA0; jobsctl show threw on them (found
    // by fuzz_job_load).
    const auto doc = yaml(R"(a: "x\N\_\L\Py")");
    CHECK(doc.entries[0].value.scalar == "x\u0085\u00a0\u2028\u2029y");
  }

  TEST_CASE("marks every key and value of a job file") {
    const auto doc = yaml(job_yaml);
    REQUIRE(doc.is_map());
    CHECK(at(doc.mark) == "1:1");
    REQUIRE(doc.entries.size() == 5);
    CHECK(doc.entries[0].key == "name");
    CHECK(at(doc.entries[0].key_mark) == "1:1");
    CHECK(at(doc.entries[0].value.mark) == "1:7");
    CHECK(doc.entries[1].value.scalar == "0 3 * * *");
    CHECK(doc.entries[1].value.quoted);
    CHECK(at(doc.entries[1].value.mark) == "2:11");

    const jobs::Node* steps = doc.find("steps");
    REQUIRE(steps != nullptr);
    REQUIRE(steps->is_sequence());
    CHECK(at(doc.entries[2].key_mark) == "3:1");
    CHECK(at(steps->mark) == "4:3");
    REQUIRE(steps->items.size() == 2);
    const auto& first = steps->items[0];
    CHECK(at(first.mark) == "4:5");
    CHECK(first.entries[0].value.scalar == "tar czf /tmp/b.tgz /srv");
    CHECK_FALSE(first.entries[0].value.quoted);
    CHECK(at(first.entries[1].key_mark) == "5:5");
    CHECK(at(first.entries[1].value.mark) == "5:14");
    const auto& second = steps->items[1];
    CHECK(second.find("retries")->scalar == "3");
    CHECK(at(second.find("retries")->mark) == "7:14");
    const jobs::Node* env = second.find("env");
    REQUIRE(env != nullptr);
    REQUIRE(env->is_map());
    CHECK(at(env->mark) == "9:7");
    CHECK(at(env->entries[0].key_mark) == "9:7");
    CHECK(at(env->entries[0].value.mark) == "9:13");
    CHECK(env->entries[0].value.scalar == "fast");
    CHECK(env->entries[0].value.quoted);

    CHECK(doc.find("enabled")->scalar == "true");
    CHECK(doc.find("owner")->is_null());
    CHECK(at(doc.find("owner")->mark) == "11:8");
  }

  TEST_CASE("quoted and plain scalars") {
    const auto doc = yaml("a: plain\nb: \"double\"\nc: 'single'\nd: 12\ne: |\n  block\n"
                          "f: !!str 7\ng: 'it''s'\n");
    CHECK_FALSE(doc.find("a")->quoted);
    CHECK(doc.find("b")->quoted);
    CHECK(doc.find("b")->scalar == "double");
    CHECK(doc.find("c")->quoted);
    CHECK_FALSE(doc.find("d")->quoted);
    CHECK(doc.find("d")->scalar == "12");
    CHECK(doc.find("e")->quoted);
    CHECK(doc.find("e")->scalar == "block\n");
    CHECK(doc.find("f")->quoted);
    CHECK(doc.find("f")->scalar == "7");
    CHECK(doc.find("g")->scalar == "it's");
  }

  TEST_CASE("null, ~ and empty values are null; quoted null is a string") {
    const auto doc =
        yaml("a: null\nb: ~\nc:\nd: \"null\"\ne: 'null'\nf: Null\nlist:\n  -\n  - x\n");
    CHECK(doc.find("a")->is_null());
    CHECK(at(doc.find("a")->mark) == "1:4");
    CHECK(doc.find("b")->is_null());
    CHECK(at(doc.find("b")->mark) == "2:4");
    // An empty value has no text of its own: it is placed at its key.
    CHECK(doc.find("c")->is_null());
    CHECK(at(doc.find("c")->mark) == "3:1");
    CHECK(doc.find("d")->is_scalar());
    CHECK(doc.find("d")->scalar == "null");
    CHECK(doc.find("d")->quoted);
    CHECK(doc.find("e")->is_scalar());
    CHECK(doc.find("f")->is_null());
    const auto& list = doc.find("list")->items;
    REQUIRE(list.size() == 2);
    CHECK(list[0].is_null());
    CHECK(at(list[0].mark) == "8:3"); // at its '-'
    CHECK(list[1].scalar == "x");
  }

  TEST_CASE("an empty document is null") {
    for (const char* text : {"", "\n\n", "# only a comment\n", "---\n", "---\n...\n"}) {
      const std::string input(text);
      CAPTURE(input);
      const auto doc = yaml(text);
      CHECK(doc.is_null());
      CHECK(at(doc.mark) == "1:1");
    }
  }

  TEST_CASE("flow collections and JSON-like text") {
    const auto doc = yaml("steps: [{run: a}, {run: \"b\"}]\nenv: {X: 1}\n");
    const auto& steps = doc.find("steps")->items;
    REQUIRE(steps.size() == 2);
    CHECK(at(steps[1].mark) == "1:19");
    CHECK(at(steps[1].entries[0].key_mark) == "1:20");
    CHECK(at(steps[1].entries[0].value.mark) == "1:25");
    CHECK(steps[1].entries[0].value.quoted);
    CHECK(yaml("{\"a\": [1, 2]}").find("a")->items.size() == 2);
  }

  TEST_CASE("aliases are resolved and placed at the alias") {
    const auto doc = yaml("base: &b {retries: 3}\njob: *b\n");
    const jobs::Node* job = doc.find("job");
    REQUIRE(job->is_map());
    CHECK(at(job->mark) == "2:6");
    CHECK(job->find("retries")->scalar == "3");
    CHECK(at(job->find("retries")->mark) == "1:20"); // inside, marks are the anchored node's
    CHECK(at(doc.find("base")->mark) == "1:7");
  }

  TEST_CASE("columns count characters, not bytes") {
    const auto doc = yaml("\xC3\xA9t\xC3\xA9: \xE2\x82\xAC\nb: 1\n");
    CHECK(at(doc.entries[0].value.mark) == "1:6");
    CHECK(yaml_error("\xC3\xA9: }").location.column == 4);
  }

  TEST_CASE("skips a byte order mark") {
    const auto doc = yaml("\xEF\xBB\xBF"
                          "a: [1, 2]\n");
    CHECK(at(doc.entries[0].key_mark) == "1:1");
    CHECK(at(doc.entries[0].value.items[1].mark) == "1:8");
    const auto e = yaml_error("\xEF\xBB\xBF"
                              "a: ]\n");
    CHECK(e.location.column == 4);
    CHECK(e.source_line == "a: ]");
  }

  TEST_CASE("CRLF line endings count one line each and stay out of the source line") {
    const auto doc = yaml("a: 1\r\nsteps:\r\n  - run: x\r\n    timeout: 5\r\n");
    CHECK(doc.find("a")->scalar == "1");
    const auto& step = doc.find("steps")->items[0];
    CHECK(step.find("run")->scalar == "x");
    CHECK(at(step.entries[1].key_mark) == "4:5");
    CHECK(at(step.entries[1].value.mark) == "4:14");
    const auto e = yaml_error("a: 1\r\nb: 2\r\na: 3\r\n");
    CHECK(e.location.line == 3);
    CHECK(e.source_line == "a: 3");
  }

  TEST_CASE("syntax errors carry yaml-cpp's message at the right place") {
    const std::tuple<const char*, const char*, int, int> cases[] = {
        {"a:\n  b: 1\n c: 2\n", "end of map not found", 3, 2},
        {"steps:\n  - run: x\n   timeout: 5\n", "end of sequence not found", 3, 4},
        {"a:\n  b: 1\n   c: 2\n", "illegal map value", 3, 5},
        {"a: b: c\n", "illegal map value", 1, 5},
        {"a: 1\n- b\n", "end of map not found", 2, 1},
        {"a: [1, 2\nb: 3\n", "end of sequence flow not found", 2, 2},
        {"a: [1, 2", "end of sequence flow not found", 1, 9},
        {"a: {x: 1\n", "end of map flow not found", 2, 1},
        {"a: }\n", "illegal flow end", 1, 4},
        {"[1, 2]]\n", "illegal flow end", 1, 7},
        {"key: @x\n", "unknown token", 1, 6},
        {"a: *nope\n", "the referenced anchor is not defined", 1, 4},
        {"a: |\n  x\n\ty\n", "tab character in indentation (YAML indents with spaces)", 3, 1},
        {"a: [1,\n\t2", "end of sequence flow not found", 2, 3},
    };
    for (auto [text, message, line, column] : cases) {
      const std::string input(text); // doctest cannot capture a structured binding
      CAPTURE(input);
      const auto e = yaml_error(text);
      CHECK(e.message == message);
      CHECK(e.location.path == "job.yaml");
      CHECK(e.location.line == line);
      CHECK(e.location.column == column);
      CHECK(e.source_line == jobs::source_line(text, line));
    }
  }

  TEST_CASE("a tab in indentation is named as the mistake") {
    for (const char* text : {"a:\n\tb: 1\n", "\ta: 1\n", "a:\n  \tb: 1\n"}) {
      const std::string input(text);
      CAPTURE(input);
      const auto e = yaml_error(text);
      CHECK(e.message == "tab character in indentation (YAML indents with spaces)");
      CHECK(e.source_line.find('\t') == static_cast<size_t>(e.location.column - 1));
    }
  }

  TEST_CASE("an unclosed quote points at the opening quote") {
    // yaml-cpp itself accepts an unclosed quote when a line break follows it, taking the rest
    // of the file as the string.
    const std::tuple<const char*, int, int> cases[] = {
        {"a: \"abc", 1, 4},
        {"a: \"abc\n", 1, 4},
        {"a: 'abc\nb: 2\n", 1, 4},
        {"a: 'it''s\n", 1, 4},
        {"a: 1\nsteps:\n  - run: \"x\n  - run: y\n", 3, 10},
        {"a: &x \"abc\n", 1, 7},
        {"\"key: 1\n", 1, 1},
        {"a: 1\r\nb: \"y\r\n", 2, 4},
    };
    for (auto [text, line, column] : cases) {
      const std::string input(text); // doctest cannot capture a structured binding
      CAPTURE(input);
      const auto e = yaml_error(text);
      CHECK(e.message == "unterminated string");
      CHECK(e.location.line == line);
      CHECK(e.location.column == column);
    }
    CHECK(yaml("a: \"x \\\" y\"\nb: 'p '' q'\n").find("a")->scalar == "x \" y");
  }

  TEST_CASE("a stray comma is an error, not an endless loop") {
    // YAML::LoadAll in yaml-cpp 0.7 never returns on these.
    auto e = yaml_error(",");
    CHECK(e.message == "unexpected ','");
    CHECK(e.location.column == 1);
    e = yaml_error("\n  , \"b\"\n");
    CHECK(e.message == "unexpected ','");
    CHECK(e.location.line == 2);
    CHECK(e.location.column == 3);
    e = yaml_error("- a\n,\n");
    CHECK(e.message == "unexpected content after the end of the document");
    CHECK(e.location.line == 2);
  }

  TEST_CASE("one document per file") {
    auto e = yaml_error("a: 1\n---\nb: 2\n");
    CHECK(e.message == "a job file holds one document; found a second at line 2");
    CHECK(e.location.line == 2);
    CHECK(e.location.column == 1);
    CHECK(e.length == 3);
    e = yaml_error("---\na: 1\n--- # again\n");
    CHECK(e.message == "a job file holds one document; found a second at line 3");
    e = yaml_error("a: 1\n...\nb: 2\n");
    CHECK(e.message == "a job file holds one document; found a second at line 3");
    // yaml-cpp starts a new document, unasked, when a map follows a top-level list.
    e = yaml_error("- a\n\n# c\nb: 1\n");
    CHECK(e.message == "unexpected content after the end of the document");
    CHECK(e.location.line == 4);
    CHECK(yaml("---\na: 1\n...\n").is_map());
  }

  TEST_CASE("duplicate keys point at the second and name the first") {
    auto e = yaml_error("name: a\nsteps:\n  - run: x\nname: b\n");
    CHECK(e.message == "duplicate key \"name\" (first at line 1)");
    CHECK(e.location.line == 4);
    CHECK(e.location.column == 1);
    CHECK(e.length == 4);
    e = yaml_error("steps:\n  - run: x\n    \"run\": y\n");
    CHECK(e.message == "duplicate key \"run\" (first at line 2)");
    CHECK(e.location.line == 3);
    CHECK(e.location.column == 5);
    CHECK(e.length == 5);
    e = yaml_error("{a: 1, a: 2}");
    CHECK(e.location.column == 8);
    std::string text;
    for (int i = 0; i < 40; ++i) {
      text += "k" + std::to_string(i) + ": " + std::to_string(i) + "\n";
    }
    CHECK(yaml(text).entries.size() == 40);
    e = yaml_error(text + "k7: 0\n");
    CHECK(e.message == "duplicate key \"k7\" (first at line 8)");
    CHECK(e.location.line == 41);
  }

  TEST_CASE("map keys are strings") {
    for (const char* text : {"? [1]\n: 2\n", "{[1]: 2}", "null: 1\n", "~: 1\n", ": 1\n"}) {
      const std::string input(text);
      CAPTURE(input);
      CHECK(yaml_error(text).message == "map keys must be plain strings");
    }
    const auto e = yaml_error("a:\n  ? {b: 1}\n  : 2\n");
    CHECK(e.location.line == 2);
    CHECK(e.location.column == 5);
    CHECK(yaml("\"null\": 1\n1: 2\n").entries[1].key == "1");
  }

  TEST_CASE("aliases that hold themselves or expand without end are refused") {
    auto e = yaml_error("a: &x [1, *x]\n");
    CHECK(e.message == "recursive alias: it refers to a node that contains it");
    CHECK(e.location.column == 11);
    std::string bomb = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
    for (char c = 'b'; c <= 'h'; ++c) {
      const char previous = static_cast<char>(c - 1);
      bomb += std::string(1, c) + ": &" + c + " [";
      for (int i = 0; i < 9; ++i) {
        bomb += std::string(i > 0 ? ", " : "") + "*" + previous;
      }
      bomb += "]\n";
    }
    e = yaml_error(bomb);
    CHECK(e.message == "aliases expand to too many values (more than " +
                           std::to_string(100000 + 2 * bomb.size()) + ")");
  }

  TEST_CASE("only UTF-8 text") {
    auto e = yaml_error("a: 1\nb: \xFF\n");
    CHECK(e.message == "invalid UTF-8");
    CHECK(e.location.line == 2);
    CHECK(e.location.column == 4);
    e = yaml_error(std::string_view("a: \0", 4));
    CHECK(e.message == "control character U+0000 is not allowed");
    CHECK(e.location.column == 4);
  }

  TEST_CASE("nesting is limited to 200 levels") {
    CHECK(yaml(nested("[", "]", 200)).is_sequence());
    auto e = yaml_error(nested("[", "]", 201));
    CHECK(e.message == "nesting too deep (more than 200 levels)");
    CHECK(e.location.column == 201);
    std::string block;
    for (int i = 0; i < 201; ++i) {
      block += std::string(static_cast<size_t>(i), ' ') + "a:\n";
    }
    e = yaml_error(block + std::string(201, ' ') + "x\n");
    CHECK(e.message == "nesting too deep (more than 200 levels)");
    CHECK(e.location.line == 201);
    // yaml-cpp stops its own recursion at 2000 levels.
    CHECK(yaml_error(nested("[", "]", 5000)).message == "nesting too deep (more than 200 levels)");
  }
}
