#include <base/civil.hpp>
#include <base/duration.hpp>
#include <base/text.hpp>
#include <cron/schedule.hpp>

#include <array>
#include <bit>
#include <vector>

namespace cron {

namespace {

enum FieldIndex { second, minute, hour, dom, month, dow };

struct FieldSpec {
  const char* name;
  int min;
  int max;
};

constexpr FieldSpec field_specs[] = {
    {"second", 0, 59},       {"minute", 0, 59}, {"hour", 0, 23},
    {"day of month", 1, 31}, {"month", 1, 12},  {"day of week", 0, 7},
};

constexpr std::array<const char*, 12> month_names = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 7> day_names = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct Macro {
  const char* name;
  const char* fields; // empty: handled on its own
};

constexpr Macro macros[] = {
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
    {"@reboot", ""},
    {"@every", ""},
};

bool is_space(char c) {
  return c == ' ' || c == '\t';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// A stable 64-bit hash (FNV-1a, then a finaliser) so that H gives the same value on every
// machine and every run.
std::uint64_t stable_hash(std::string_view seed, int field) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : seed) {
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  h ^= static_cast<std::uint64_t>(field + 1) * 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

struct Token {
  std::string_view text;
  size_t offset; // into the whole expression
};

} // namespace

// Parses one expression into a Schedule; friend of Schedule.
class Parser {
public:
  Parser(std::string_view text, const ParseOptions& options) : text_(text), options_(options) {}

  base::Result<Schedule> run();

private:
  struct Field {
    std::uint64_t bits = 0;
    std::uint32_t dom_weekday = 0; // day of month: W and LW
    std::uint64_t dow_special = 0; // day of week: # and L
    bool star = false;
  };

  // One field's text with a cursor; errors point into the whole expression.
  struct Cursor {
    Token token;
    size_t i = 0;
    bool done() const { return i >= token.text.size(); }
    char peek() const { return done() ? '\0' : token.text[i]; }
    bool eat(char c) {
      if (peek() == c) {
        ++i;
        return true;
      }
      return false;
    }
    size_t column() const { return token.offset + i; }
  };

  base::Error error(size_t offset, size_t length, std::string message) const {
    base::Error e;
    e.message = std::move(message);
    e.location.column = static_cast<int>(offset) + 1;
    e.source_line = std::string(text_);
    e.length = static_cast<int>(std::max<size_t>(length, 1));
    return e;
  }
  std::string field_label(int index) const {
    return "field " + std::to_string(index - first_field_ + 1) + " (" + field_specs[index].name +
           "): ";
  }

  std::optional<base::Error> parse_field(int index, const Token& token, Field& out);
  std::optional<base::Error> parse_item(int index, Cursor& c, Field& out);
  std::optional<base::Error> parse_value(int index, Cursor& c, int& out);
  std::optional<base::Error> parse_step(int index, Cursor& c, int& step);
  std::optional<base::Error> parse_fields(const std::vector<Token>& tokens, Schedule& s);
  base::Error never_fires_error(const Schedule& s, const std::vector<Token>& tokens) const;

  std::string_view text_;
  const ParseOptions& options_;
  int first_field_ = minute; // `second` for 6-field expressions
};

std::optional<base::Error> Parser::parse_value(int index, Cursor& c, int& out) {
  const FieldSpec& spec = field_specs[index];
  const size_t start = c.i;
  if (is_digit(c.peek())) {
    long long v = 0;
    while (is_digit(c.peek())) {
      v = std::min(v * 10 + (c.peek() - '0'), 1000000LL);
      ++c.i;
    }
    if (v < spec.min || v > spec.max) {
      return error(c.token.offset + start, c.i - start,
                   field_label(index) + std::string(c.token.text.substr(start, c.i - start)) +
                       " is out of range " + std::to_string(spec.min) + "-" +
                       std::to_string(spec.max));
    }
    out = static_cast<int>(v);
    return std::nullopt;
  }
  if (is_alpha(c.peek()) && (index == month || index == dow)) {
    while (is_alpha(c.peek())) {
      ++c.i;
    }
    const auto word = base::to_lower(c.token.text.substr(start, c.i - start));
    std::vector<std::string> names;
    const auto add = [&](const auto& list, int first) {
      for (size_t k = 0; k < list.size(); ++k) {
        if (word == base::to_lower(list[k])) {
          out = first + static_cast<int>(k);
        }
        names.emplace_back(list[k]);
      }
    };
    out = -1;
    if (index == month) {
      add(month_names, 1);
    } else {
      add(day_names, 0);
    }
    if (out >= 0) {
      return std::nullopt;
    }
    std::string message = field_label(index) + "unknown name \"" +
                          std::string(c.token.text.substr(start, c.i - start)) + "\"";
    const auto near = base::suggest(word, names, 1);
    message += near.empty() ? "" : "; did you mean " + base::quoted_alternatives(near) + "?";
    message += index == month ? " (valid: JAN-DEC or 1-12)" : " (valid: SUN-SAT or 0-7)";
    return error(c.token.offset + start, c.i - start, message);
  }
  const size_t len = c.done() ? 0 : 1;
  const std::string got = c.done() ? "end of field" : "'" + std::string(1, c.peek()) + "'";
  return error(c.column(), len,
               field_label(index) + "expected a number" +
                   (index == month || index == dow ? " or a name" : "") + ", got " + got);
}

std::optional<base::Error> Parser::parse_step(int index, Cursor& c, int& step) {
  const FieldSpec& spec = field_specs[index];
  const int span = index == dow ? 7 : spec.max - spec.min + 1;
  const size_t start = c.i;
  long long v = 0;
  while (is_digit(c.peek())) {
    v = std::min(v * 10 + (c.peek() - '0'), 1000000LL);
    ++c.i;
  }
  if (c.i == start) {
    return error(c.column(), 1, field_label(index) + "expected a step number after '/'");
  }
  if (v < 1 || v > span) {
    return error(c.token.offset + start, c.i - start,
                 field_label(index) + "step " +
                     std::string(c.token.text.substr(start, c.i - start)) + " is out of range 1-" +
                     std::to_string(span));
  }
  step = static_cast<int>(v);
  return std::nullopt;
}

std::optional<base::Error> Parser::parse_item(int index, Cursor& c, Field& out) {
  const FieldSpec& spec = field_specs[index];
  const size_t item_start = c.i;
  int lo = spec.min;
  int hi = index == dow ? 6 : spec.max;
  int step = 1;
  bool is_range = false; // a range or a step: no W, L or # may follow

  const auto set_range = [&](int a, int b, int st) {
    for (int v = a; v <= b; v += st) {
      out.bits |= std::uint64_t{1} << (index == dow ? v % 7 : v);
    }
  };

  if (c.eat('*') || c.eat('?')) {
    const char what = c.token.text[item_start];
    if (what == '?' && index != dom && index != dow) {
      return error(c.token.offset + item_start, 1,
                   field_label(index) + "'?' is only valid in the day-of-month and day-of-week "
                                        "fields; use '*'");
    }
    if (c.eat('/')) {
      if (auto e = parse_step(index, c, step)) {
        return e;
      }
    }
    set_range(lo, hi, step);
    return std::nullopt;
  }

  if (c.peek() == 'H' || c.peek() == 'h') {
    ++c.i;
    if (index == dom) {
      hi = 28; // every month has these days
    }
    if (c.eat('(')) {
      if (auto e = parse_value(index, c, lo)) {
        return e;
      }
      if (!c.eat('-')) {
        return error(c.column(), 1, field_label(index) + "expected '-' in H(a-b)");
      }
      if (auto e = parse_value(index, c, hi)) {
        return e;
      }
      if (!c.eat(')')) {
        return error(c.column(), 1, field_label(index) + "expected ')' to close H(a-b)");
      }
      if (lo > hi) {
        return error(c.token.offset + item_start, c.i - item_start,
                     field_label(index) + "range " + std::to_string(lo) + "-" + std::to_string(hi) +
                         " in H(a-b) is reversed");
      }
    }
    const auto h = stable_hash(options_.seed, index);
    if (c.eat('/')) {
      if (auto e = parse_step(index, c, step)) {
        return e;
      }
      // The offset stays inside the range even when the step is wider than it (H(0-29)/50).
      const auto offset_limit = static_cast<std::uint64_t>(std::min(step, hi - lo + 1));
      set_range(lo + static_cast<int>(h % offset_limit), hi, step);
    } else {
      const int v = lo + static_cast<int>(h % static_cast<std::uint64_t>(hi - lo + 1));
      set_range(v, v, 1);
    }
    return std::nullopt;
  }

  if (index == dom && (c.peek() == 'L' || c.peek() == 'l')) {
    ++c.i;
    if (c.eat('W') || c.eat('w')) {
      out.dom_weekday |= 1; // LW
    } else {
      out.bits |= 1; // L
    }
    return std::nullopt;
  }
  if (index == dow && (c.peek() == 'L' || c.peek() == 'l') &&
      (c.i + 1 >= c.token.text.size() || c.token.text[c.i + 1] == ',')) {
    return error(c.column(), 1,
                 field_label(index) + "'L' alone is ambiguous here; write 5L for the last "
                                      "Friday of the month, or SAT");
  }

  const size_t value_start = c.i;
  if (auto e = parse_value(index, c, lo)) {
    return e;
  }
  hi = lo;
  if (c.eat('-')) {
    is_range = true;
    if (auto e = parse_value(index, c, hi)) {
      return e;
    }
    if (index == dow && hi == 0 && lo > 0) {
      hi = 7; // FRI-SUN
    }
    if (lo > hi) {
      const int end = index == dow ? 6 : spec.max;
      return error(c.token.offset + value_start, c.i - value_start,
                   field_label(index) + "range " +
                       std::string(c.token.text.substr(value_start, c.i - value_start)) +
                       " is reversed; to wrap around write " + std::to_string(lo) + "-" +
                       std::to_string(end) + "," + std::to_string(spec.min) + "-" +
                       std::to_string(hi));
    }
  }
  if (c.eat('/')) {
    if (!is_range) {
      hi = index == dow ? 7 : spec.max; // a/n: from a to the end of the field
      is_range = true;
    }
    if (auto e = parse_step(index, c, step)) {
      return e;
    }
  }
  if (!is_range && index == dom && (c.peek() == 'W' || c.peek() == 'w')) {
    ++c.i;
    out.dom_weekday |= std::uint32_t{1} << lo;
    return std::nullopt;
  }
  if (!is_range && index == dow && (c.peek() == 'L' || c.peek() == 'l')) {
    ++c.i;
    out.dow_special |= std::uint64_t{1} << (35 + lo % 7);
    return std::nullopt;
  }
  if (!is_range && index == dow && c.eat('#')) {
    const size_t n_start = c.i;
    int n = 0;
    while (is_digit(c.peek()) && n < 100) {
      n = n * 10 + (c.peek() - '0');
      ++c.i;
    }
    if (c.i == n_start || n < 1 || n > 5) {
      return error(c.token.offset + n_start, std::max<size_t>(c.i - n_start, 1),
                   field_label(index) + "expected 1-5 after '#' (the n-th weekday of the month)");
    }
    out.dow_special |= std::uint64_t{1} << ((lo % 7) * 5 + (n - 1));
    return std::nullopt;
  }
  set_range(lo, hi, step);
  return std::nullopt;
}

std::optional<base::Error> Parser::parse_field(int index, const Token& token, Field& out) {
  Cursor c{token};
  out.star = token.text[0] == '*' || token.text[0] == '?';
  for (;;) {
    if (c.done() || c.peek() == ',') {
      return error(c.column(), 1, field_label(index) + "empty list item");
    }
    if (auto e = parse_item(index, c, out)) {
      return e;
    }
    if (c.done()) {
      return std::nullopt;
    }
    if (!c.eat(',')) {
      return error(c.column(), 1,
                   field_label(index) + "unexpected '" + std::string(1, c.peek()) + "'");
    }
  }
}

std::optional<base::Error> Parser::parse_fields(const std::vector<Token>& tokens, Schedule& s) {
  if (tokens.size() != 5 && tokens.size() != 6) {
    const size_t at = tokens.size() > 6 ? tokens[6].offset : text_.size();
    return error(at, 1,
                 "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with "
                 "seconds first), got " +
                     std::to_string(tokens.size()));
  }
  first_field_ = tokens.size() == 6 ? second : minute;
  Field fields[6];
  fields[second].bits = 1; // second 0 in 5-field expressions
  for (size_t k = 0; k < tokens.size(); ++k) {
    const int index = first_field_ + static_cast<int>(k);
    fields[index] = {};
    if (auto e = parse_field(index, tokens[k], fields[index])) {
      return e;
    }
    if (fields[index].star) {
      s.flags_ |= static_cast<std::uint16_t>(Schedule::star_second << index);
    }
  }
  s.seconds_ = fields[second].bits;
  s.minutes_ = fields[minute].bits;
  s.hours_ = static_cast<std::uint32_t>(fields[hour].bits);
  s.dom_ = static_cast<std::uint32_t>(fields[dom].bits);
  s.dom_weekday_ = fields[dom].dom_weekday;
  s.months_ = static_cast<std::uint16_t>(fields[month].bits);
  s.dow_ = static_cast<std::uint8_t>(fields[dow].bits);
  s.dow_special_ = fields[dow].dow_special;
  if (!s.fires_ever()) {
    return never_fires_error(s, tokens);
  }
  return std::nullopt;
}

base::Error Parser::never_fires_error(const Schedule& s, const std::vector<Token>& tokens) const {
  const Token& dom_token = tokens[static_cast<size_t>(dom - first_field_)];
  const Token& month_token = tokens[static_cast<size_t>(month - first_field_)];
  // The common case: plain days of month that none of the chosen months has.
  if ((s.flags_ & Schedule::star_dow) && s.dow_ == 0x7f && s.dom_weekday_ == 0 && !(s.dom_ & 1)) {
    const int first_day = std::countr_zero(s.dom_);
    std::string months;
    std::vector<std::string> names;
    for (unsigned m = 1; m <= 12; ++m) {
      if (s.months_ >> m & 1) {
        names.emplace_back(month_names[m - 1]);
      }
    }
    for (size_t k = 0; k < names.size(); ++k) {
      months += (k == 0 ? "" : k + 1 == names.size() ? " and " : ", ") + names[k];
    }
    return error(dom_token.offset, dom_token.text.size(),
                 "schedule never fires: " + months + (names.size() == 1 ? " has" : " have") +
                     " no day " + std::to_string(first_day) +
                     (std::popcount(s.dom_) > 1 ? " or later in the list" : ""));
  }
  return error(month_token.offset, month_token.text.size(),
               "schedule never fires: no day of the chosen months matches the day-of-month and "
               "day-of-week fields");
}

base::Result<Schedule> Parser::run() {
  Schedule s;
  s.zone_ = options_.zone ? options_.zone : &tz::utc();
  if (options_.dst_gap == DstGap::skip) {
    s.flags_ |= Schedule::gap_skip;
  }

  std::vector<Token> tokens;
  for (size_t i = 0; i < text_.size();) {
    if (is_space(text_[i])) {
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < text_.size() && !is_space(text_[i])) {
      ++i;
    }
    tokens.push_back({text_.substr(start, i - start), start});
  }
  if (tokens.empty()) {
    return error(0, 1, "empty schedule; expected 5 or 6 fields or a macro such as @daily");
  }

  // CRON_TZ=Zone or TZ=Zone
  for (std::string_view prefix : {"CRON_TZ=", "TZ="}) {
    if (tokens[0].text.starts_with(prefix)) {
      const auto name = tokens[0].text.substr(prefix.size());
      auto zone = tz::find_zone(name);
      if (!zone) {
        return error(tokens[0].offset + prefix.size(), name.size(), zone.error().message);
      }
      s.zone_ = *zone;
      s.flags_ |= Schedule::zone_prefix;
      tokens.erase(tokens.begin());
      if (tokens.empty()) {
        return error(text_.size(), 1, "expected a schedule after the time zone");
      }
      break;
    }
  }

  if (tokens[0].text[0] == '@') {
    const Token& word = tokens[0];
    const Macro* found = nullptr;
    std::vector<std::string> names;
    for (const auto& m : macros) {
      names.emplace_back(m.name);
      if (base::to_lower(word.text) == m.name) {
        found = &m;
      }
    }
    if (found == nullptr) {
      const auto near = base::suggest(word.text, names, 1);
      return error(
          word.offset, word.text.size(),
          "unknown macro \"" + std::string(word.text) + "\"" +
              (near.empty() ? "" : "; did you mean " + base::quoted_alternatives(near) + "?") +
              " (valid: @yearly @annually @monthly @weekly @daily @midnight @hourly "
              "@reboot @every DURATION)");
    }
    const std::string_view name = found->name;
    if (name == "@every") {
      if (tokens.size() != 2) {
        return error(tokens.size() < 2 ? text_.size() : tokens[2].offset, 1,
                     "@every takes one duration, e.g. @every 15m");
      }
      auto d = base::parse_duration(tokens[1].text);
      if (!d) {
        return error(tokens[1].offset + static_cast<size_t>(d.error().location.column - 1), 1,
                     d.error().message);
      }
      if (*d < 1) {
        return error(tokens[1].offset, tokens[1].text.size(),
                     "@every needs a duration of at least 1s");
      }
      s.every_ = *d;
      return s;
    }
    if (tokens.size() > 1) {
      return error(tokens[1].offset, tokens[1].text.size(),
                   "unexpected text after " + std::string(name));
    }
    if (name == "@reboot") {
      s.flags_ |= Schedule::reboot;
      return s;
    }
    // Expand the macro and parse its fields; errors cannot happen in them.
    std::vector<Token> fields;
    const std::string_view expansion = found->fields;
    for (size_t i = 0; i < expansion.size(); i += 2) {
      fields.push_back({expansion.substr(i, 1), word.offset});
    }
    if (auto e = parse_fields(fields, s)) {
      return *e;
    }
    return s;
  }

  if (auto e = parse_fields(tokens, s)) {
    return *e;
  }
  return s;
}

base::Result<Schedule> Schedule::parse(std::string_view text, const ParseOptions& options) {
  return Parser(text, options).run();
}

namespace {

// Prints a set of values (bits) as a canonical cron list: "*", "*/5", "1-5", "0-30/10", "1,3".
std::string format_values(std::uint64_t bits, int min, int max, bool star) {
  std::string out;
  const auto has = [&](int v) { return (bits >> v & 1) != 0; };
  const auto append = [&](const std::string& item) { out += (out.empty() ? "" : ",") + item; };
  if (star) {
    // The widest step whose progression from the field's start is all in the set.
    int step = 1;
    for (; step <= max - min + 1; ++step) {
      bool all = true;
      for (int v = min; v <= max && all; v += step) {
        all = has(v);
      }
      if (all) {
        break;
      }
    }
    append(step == 1 ? "*" : "*/" + std::to_string(step));
    for (int v = min; v <= max; v += step) {
      bits &= ~(std::uint64_t{1} << v);
    }
  }
  std::vector<int> values;
  for (int v = min; v <= max; ++v) {
    if (has(v)) {
      values.push_back(v);
    }
  }
  if (values.size() >= 3) {
    // An arithmetic progression prints as a stepped range.
    const int step = values[1] - values[0];
    bool progression = step > 1;
    for (size_t k = 2; k < values.size() && progression; ++k) {
      progression = values[k] - values[k - 1] == step;
    }
    if (progression) {
      append(std::to_string(values.front()) + "-" + std::to_string(values.back()) + "/" +
             std::to_string(step));
      return out;
    }
  }
  for (size_t k = 0; k < values.size();) {
    size_t j = k;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) {
      ++j;
    }
    append(j == k ? std::to_string(values[k])
                  : std::to_string(values[k]) + "-" + std::to_string(values[j]));
    k = j + 1;
  }
  return out;
}

} // namespace

std::string Schedule::to_string() const {
  std::string out;
  if (flags_ & zone_prefix) {
    out = "CRON_TZ=" + zone_->name() + " ";
  }
  if (is_reboot()) {
    return out + "@reboot";
  }
  if (every_ > 0) {
    return out + "@every " + base::format_duration(every_);
  }
  if (seconds_ != 1 || (flags_ & star_second)) {
    out += format_values(seconds_, 0, 59, flags_ & star_second) + " ";
  }
  out += format_values(minutes_, 0, 59, flags_ & star_minute) + " ";
  out += format_values(hours_, 0, 23, flags_ & star_hour) + " ";

  std::string dom_text = format_values(dom_ & ~1u, 1, 31, flags_ & star_dom);
  const auto append = [](std::string& list, const std::string& item) {
    list += (list.empty() ? "" : ",") + item;
  };
  if (dom_ & 1) {
    append(dom_text, "L");
  }
  if (dom_weekday_ & 1) {
    append(dom_text, "LW");
  }
  for (std::uint32_t w = dom_weekday_ >> 1; w != 0; w &= w - 1) {
    append(dom_text, std::to_string(std::countr_zero(w) + 1) + "W");
  }
  out += dom_text + " ";
  out += format_values(months_, 1, 12, flags_ & star_month) + " ";

  std::string dow_text = format_values(dow_, 0, 6, flags_ & star_dow);
  for (std::uint64_t sp = dow_special_; sp != 0; sp &= sp - 1) {
    const int bit = std::countr_zero(sp);
    append(dow_text, bit < 35 ? std::to_string(bit / 5) + "#" + std::to_string(bit % 5 + 1)
                              : std::to_string(bit - 35) + "L");
  }
  return out + dow_text;
}

} // namespace cron
