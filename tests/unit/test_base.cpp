#include <base/civil.hpp>
#include <base/duration.hpp>
#include <base/error.hpp>
#include <base/redact.hpp>
#include <base/text.hpp>

#include <doctest/doctest.h>

#include <numeric>
#include <tuple>

TEST_SUITE("base::duration") {
  TEST_CASE("parses the documented forms") {
    const std::pair<const char*, std::int64_t> cases[] = {
        {"90", 90},     {"90s", 90},         {"15m", 900}, {"1h30m", 5400},
        {"2d", 172800}, {"1d2h3m4s", 93784}, {"0", 0},     {"0s", 0},
    };
    for (auto [text, seconds] : cases) {
      const std::string input(text); // doctest cannot capture a structured binding
      CAPTURE(input);
      auto d = base::parse_duration(text);
      REQUIRE(d.ok());
      CHECK(*d == seconds);
      CHECK(*base::parse_duration(base::format_duration(seconds)) == seconds);
    }
  }

  TEST_CASE("rejects bad forms with the column") {
    const std::tuple<const char*, const char*, int> cases[] = {
        {"", "empty", 1},
        {"15x", "unknown unit 'x'", 3},
        {"30m1h", "units must go from largest to smallest, each once", 5},
        {"1h1h", "units must go from largest to smallest, each once", 4},
        {"1h30", "missing unit after 30", 5},
        {"h", "expected a number", 1},
    };
    for (auto [text, what, column] : cases) {
      const std::string input(text); // doctest cannot capture a structured binding
      CAPTURE(input);
      auto d = base::parse_duration(text);
      REQUIRE_FALSE(d.ok());
      CHECK(d.error().message == "invalid duration \"" + std::string(text) + "\": " + what +
                                     " (valid: 90, 90s, 15m, 1h30m, 2d)");
      CHECK(d.error().location.column == column);
    }
  }

  TEST_CASE("formats in the largest units") {
    CHECK(base::format_duration(5400) == "1h30m");
    CHECK(base::format_duration(86400 + 1) == "1d1s");
    CHECK(base::format_duration(0) == "0s");
  }
}

TEST_SUITE("base::text") {
  TEST_CASE("edit distance counts transpositions once and ignores case") {
    CHECK(base::edit_distance("Europe/Berln", "Europe/Berlin") == 1);
    CHECK(base::edit_distance("comand", "command") == 1);
    CHECK(base::edit_distance("teh", "the") == 1);
    CHECK(base::edit_distance("DAILY", "daily") == 0);
    CHECK(base::edit_distance("", "abc") == 3);
  }

  TEST_CASE("suggests close names, best first, and nothing for far ones") {
    const std::vector<std::string> names = {"Europe/Berlin", "Europe/Dublin", "America/New_York"};
    CHECK(base::suggest("Europe/Berln", names) == std::vector<std::string>{"Europe/Berlin"});
    CHECK(base::suggest("Berlin", names) == std::vector<std::string>{"Europe/Berlin"});
    CHECK(base::suggest("Mars/Olympus", names).empty());
    CHECK(base::quoted_alternatives({"a", "b", "c"}) == "\"a\", \"b\" or \"c\"");
    CHECK(base::did_you_mean("histroy", {"history", "logs"}) == "; did you mean \"history\"?");
    CHECK(base::did_you_mean("xyz", {"history"}, " (known: history)") == " (known: history)");
  }
  TEST_CASE("escapes every control byte and the backslash, keeping one line") {
    CHECK(base::escaped("x\n2026 user=root\x1b[2J\\ \t\r\x7f\x01 \"é\"") ==
          "x\\n2026 user=root\\x1b[2J\\\\ \\t\\r\\x7f\\x01 \"é\"");
    CHECK(base::quoted("a\"\x1b") == "\"a\\\"\\x1b\"");
  }
}

TEST_SUITE("base::Error") {
  TEST_CASE("renders place, message, source line and caret") {
    base::Error e{"field 2 (hour): 24 is out of range 0-23", {"", 0, 3}, "0 24 * * *", 2};
    CHECK(e.render() == "error: field 2 (hour): 24 is out of range 0-23\n"
                        "  0 24 * * *\n"
                        "    ^~");
    base::Error f{"unknown key \"comand\"", {"jobs/a.yaml", 3, 5}, "", 1};
    CHECK(f.render() == "jobs/a.yaml:3:5: error: unknown key \"comand\"");
  }
  TEST_CASE("place and detail are render's ends, around the severity") {
    base::Error e{"field 2 (hour): 24 is out of range 0-23", {"", 0, 3}, "0 24 * * *", 2};
    CHECK(e.place() == "");
    CHECK(e.detail() == "field 2 (hour): 24 is out of range 0-23\n  0 24 * * *\n    ^~");
    base::Error f{"unknown key \"comand\"", {"jobs/a.yaml", 3, 5}, "", 1};
    CHECK(f.place() == "jobs/a.yaml:3:5: ");
    CHECK(f.place() + "warning: " + f.detail() == f.render("warning"));
  }
}

TEST_SUITE("base::civil") {
  TEST_CASE("round trips every day from 1600 to 2500") {
    namespace c = base::civil;
    const auto first = c::days_from_date(1600, 1, 1);
    const auto last = c::days_from_date(2500, 12, 31);
    unsigned expected_weekday = c::weekday(first);
    for (auto d = first; d <= last; ++d) {
      const auto date = c::date_from_days(d);
      REQUIRE(c::days_from_date(date.year, date.month, date.day) == d);
      REQUIRE(date.day <= c::days_in_month(date.year, date.month));
      REQUIRE(c::weekday(d) == expected_weekday);
      expected_weekday = (expected_weekday + 1) % 7;
    }
    CHECK(c::weekday(c::days_from_date(2026, 11, 23)) == 1); // a Monday
    CHECK(c::is_leap(2000));
    CHECK_FALSE(c::is_leap(2100));
    CHECK(c::days_in_month(2096, 2) == 29);
  }
}

TEST_SUITE("base::visible") {
  TEST_CASE("renders what a terminal would act on, keeps the rest") {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"plain text, tab\tand newline\n", "plain text, tab\tand newline\n"},
        {"\x1b]0;title\x07", "^[]0;title^G"},                   // OSC 0: the window title
        {"\x1b]52;c;aGVsbG8=\x07", "^[]52;c;aGVsbG8=^G"},       // OSC 52: the clipboard
        {"\x1b[2J\x1b[H", "^[[2J^[[H"},                         // clear the screen, cursor home
        {"ok\rFAKE\n", "ok^MFAKE\n"},                           // a CR that overwrites the line
        {"windows line\r\n", "windows line\n"},                 // a CR LF line end
        {"end\r", "end^M"},                                     // a CR at the very end
        {std::string_view("\0\x01\x7f", 3), "^@^A^?"},          // NUL, SOH, DEL
        {"\xc2\x9bK \xc2\x85", "M-^[K M-^E"},                   // C1: CSI (erase line), NEL
        {"\xe2\x80\xaetxt\xe2\x81\xa6", "<U+202E>txt<U+2066>"}, // bidi override, isolate
        {"\x9bm \xff \xc3", "\\x9Bm \\xFF \\xC3"},              // not UTF-8
        {"caf\xc3\xa9 \xe2\x9c\x94 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x9c\x94 \xf0\x9f\x98\x80"},
        {"\xe2\x80\x8e\xe2\x80\xa8", "\xe2\x80\x8e\xe2\x80\xa8"}, // LRM, LINE SEPARATOR stay
    };
    for (auto [input, expected] : cases) {
      const std::string in(input);
      CAPTURE(in);
      CHECK(base::visible(input) == expected);
      CHECK(base::visible(expected) == expected);
    }
  }

  TEST_CASE("a stream cut anywhere renders as the whole") {
    const std::string text = "a\r\n\xe2\x80\xae\xc2\x9b\xf0\x9f\x98\x80\x1b]0;t\x07\xe2\x80\r";
    const std::string whole = base::visible(text);
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      CAPTURE(cut);
      base::VisibleText stream;
      std::string out = stream.add(std::string_view(text).substr(0, cut));
      out += stream.add(std::string_view(text).substr(cut));
      out += stream.finish();
      CHECK(out == whole);
    }
    base::VisibleText stream;
    CHECK(stream.add("line\r") == "line");
    CHECK(stream.add("\n\xe2\x80") == "\n");
    CHECK(stream.finish() == "\\xE2\\x80");
  }
}

TEST_SUITE("base::Redactor") {
  // The stream `text` fed in the pieces that the cuts `cuts` (ascending offsets) make.
  std::string fed(const std::vector<std::string>& secrets, std::string_view text,
                  const std::vector<size_t>& cuts) {
    base::Redactor redactor(secrets);
    std::string out;
    size_t from = 0;
    for (size_t cut : cuts) {
      out += redactor.feed(text.substr(from, cut - from));
      from = cut;
    }
    out += redactor.feed(text.substr(from));
    out += redactor.finish();
    return out;
  }

  TEST_CASE("masks secrets of any length, the longest where several begin") {
    CHECK(base::redact("pw hunter22 and hunter22", {"hunter22"}) == "pw *** and ***");
    CHECK(base::redact("ab xab", {"ab"}) == "*** x***");
    CHECK(base::redact("a-b-a", {"a"}) == "***-b-***");
    CHECK(base::redact("abcdef abc", {"abc", "abcdef"}) == "*** ***");
    CHECK(base::redact("text", {""}) == "text");
    CHECK(base::redact("***", {"*"}) == "*********");
  }

  TEST_CASE("no cut splits a secret: every split point, and every pair of them") {
    const std::vector<std::string> secrets = {"s3cr3t", "s3", "tok-tok"};
    const std::string text = "a s3cr3t, s3cr3 s3, tok-tok-tok-tok s3cr3ts3cr3t end s3cr";
    const std::string expected = base::redact(text, secrets);
    CHECK(expected == "a ***, ***cr3 ***, ***-*** ****** end ***cr");
    for (size_t i = 0; i <= text.size(); ++i) {
      CAPTURE(i);
      CHECK(fed(secrets, text, {i}) == expected);
      for (size_t j = i; j <= text.size(); ++j) {
        CAPTURE(j);
        CHECK(fed(secrets, text, {i, j}) == expected);
      }
    }
    std::vector<size_t> every_byte(text.size());
    std::iota(every_byte.begin(), every_byte.end(), size_t{0});
    CHECK(fed(secrets, text, every_byte) == expected);
  }

  TEST_CASE("holds back only what may begin a secret") {
    base::Redactor redactor({"secret"});
    CHECK(redactor.feed("line one\n") == "line one\n");
    CHECK(redactor.feed("x secr") == "x ");
    CHECK(redactor.feed("ex") == "secrex");
    CHECK(redactor.feed("sec") == "");
    CHECK(redactor.finish() == "sec");
    base::Redactor none({});
    CHECK(none.feed("secret") == "secret");
  }
}
