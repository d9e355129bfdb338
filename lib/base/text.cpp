#include <base/text.hpp>
#include <base/utf8.hpp>

#include <algorithm>
#include <cstdio>
#include <limits>

namespace base {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// The code point of the well-formed UTF-8 sequence of `length` bytes at s[i].
char32_t code_point(std::string_view s, size_t i, size_t length) {
  static constexpr unsigned lead_bits[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t c = static_cast<unsigned char>(s[i]) & lead_bits[length];
  for (size_t k = 1; k < length; ++k) {
    c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  }
  return c;
}

// The Unicode controls that reorder the text around them: a line can show other than it reads.
bool is_bidi_control(char32_t c) {
  return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

// `c` (a C0 control or DEL) in caret notation.
void append_caret(std::string& out, char32_t c) {
  out += '^';
  out += c == 0x7F ? '?' : static_cast<char>(c + 0x40);
}

// How many bytes at the end of `s` the next piece may complete: a CR (of a CR LF?) or the start
// of a UTF-8 sequence. Only the last non-continuation byte can start one that is still open.
size_t open_tail(std::string_view s) {
  if (s.ends_with('\r')) {
    return 1;
  }
  for (size_t k = 1; k <= 3 && k <= s.size(); ++k) {
    const auto byte = static_cast<unsigned char>(s[s.size() - k]);
    if (!utf8::is_continuation(static_cast<char>(byte))) {
      const size_t length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
      return length > k ? k : 0;
    }
  }
  return 0;
}

} // namespace

std::string counted(std::int64_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  const size_t m = b.size();
  // Three rolling rows are enough for the transposition rule.
  std::vector<size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) {
    prev[j] = j;
  }
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

std::vector<std::string> suggest(std::string_view word, const std::vector<std::string>& candidates,
                                 size_t max_results) {
  // A typo changes a few characters: allow about one edit in four, at least two.
  const size_t limit = std::max<size_t>(2, word.size() / 4);
  std::vector<std::pair<size_t, std::string>> scored;
  // The distance is at least the difference in length: skip those that cannot be close.
  const auto may_be_close = [&](std::string_view c) {
    return (c.size() > word.size() ? c.size() - word.size() : word.size() - c.size()) <= limit;
  };
  constexpr size_t far = std::numeric_limits<size_t>::max();
  for (const auto& c : candidates) {
    size_t d = may_be_close(c) ? edit_distance(word, c) : far;
    // "Berlin" for "Europe/Berlin": a match of the last component counts as close.
    const auto slash = c.rfind('/');
    if (slash != std::string::npos && word.find('/') == std::string_view::npos) {
      const auto last = std::string_view(c).substr(slash + 1);
      d = std::min(d, may_be_close(last) ? edit_distance(word, last) : far);
    }
    if (d <= limit) {
      scored.emplace_back(d, c);
    }
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < max_results; ++i) {
    out.push_back(scored[i].second);
  }
  return out;
}

std::string quoted_alternatives(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) {
      out += i + 1 == words.size() ? " or " : ", ";
    }
    out += "\"" + words[i] + "\"";
  }
  return out;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates,
                         std::string_view otherwise) {
  const auto near = suggest(word, candidates, 1);
  return near.empty() ? std::string(otherwise)
                      : "; did you mean " + quoted_alternatives(near) + "?";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

namespace {

// Escapes what `escaped` escapes, and `"` too when `quote`.
std::string escape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
    case '\r':
      out += "\\r";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\0':
      out += "\\0";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\\':
      out += "\\\\";
      break;
    default:
      if (quote && c == '"') {
        out += "\\\"";
      } else if (byte < 0x20 || byte == 0x7f) {
        constexpr char hex[] = "0123456789abcdef";
        out += {'\\', 'x', hex[byte >> 4], hex[byte & 15]};
      } else {
        out += c;
      }
    }
  }
  return out;
}

} // namespace

std::string quoted(std::string_view s) {
  return "\"" + escape(s, true) + "\"";
}

std::string escaped(std::string_view s) {
  return escape(s, false);
}

std::string visible(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    // Printable ASCII, almost all text, is copied a run at a time.
    const auto plain = std::find_if(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(),
                                    [](char c) { return c < 0x20 || c > 0x7E; });
    const auto run = static_cast<size_t>(plain - s.begin()) - i;
    if (run > 0) {
      out.append(s, i, run);
      i += run;
      continue;
    }
    const size_t length = utf8::utf8_length(s, i);
    if (length == 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(s[i]));
      out += hex;
      ++i;
      continue;
    }
    const char32_t c = code_point(s, i, length);
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      // The CR of a CR LF line end: the newline shows the line as a terminal would.
    } else if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) {
      append_caret(out, c);
    } else if (c >= 0x80 && c <= 0x9F) {
      out += "M-";
      append_caret(out, c - 0x80);
    } else if (is_bidi_control(c)) {
      char name[16];
      std::snprintf(name, sizeof name, "<U+%04X>", static_cast<unsigned>(c));
      out += name;
    } else {
      out.append(s, i, length);
    }
    i += length;
  }
  return out;
}

std::string VisibleText::add(std::string_view piece) {
  pending_ += piece;
  const size_t done = pending_.size() - open_tail(pending_);
  std::string out = visible(std::string_view(pending_).substr(0, done));
  pending_.erase(0, done);
  return out;
}

std::string VisibleText::finish() {
  std::string out = visible(pending_);
  pending_.clear();
  return out;
}

} // namespace base
