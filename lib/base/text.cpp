#include <base/text.hpp>

#include <algorithm>
#include <limits>

namespace base {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

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

} // namespace base
