#include <base/duration.hpp>
#include <base/utf8.hpp>
#include <sql/driver.hpp>
#include <sql/sql.hpp>

#include <algorithm>
#include <cctype>

namespace sql {

namespace detail {

Watch::Watch(const Options& options) : timeout_(options.timeout), cancel_(options.cancel) {
  if (timeout_) {
    deadline_ = std::chrono::steady_clock::now() + *timeout_;
  }
}

Stop Watch::check() const {
  if (cancel_ != nullptr && cancel_->cancelled()) {
    return Stop::cancel;
  }
  if (deadline_ && std::chrono::steady_clock::now() >= *deadline_) {
    return Stop::timeout;
  }
  return Stop::none;
}

int Watch::poll_timeout() const {
  if (!deadline_) {
    return -1;
  }
  const auto left = *deadline_ - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) {
    return 0;
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<std::int64_t>(ms, 1 << 30));
}

int Watch::cancel_fd() const {
  return cancel_ != nullptr ? cancel_->fd() : -1;
}

std::string Watch::message(Stop stop) const {
  if (stop == Stop::cancel) {
    return "cancelled";
  }
  const std::int64_t ms = timeout_ ? timeout_->count() : 0;
  if (ms > 0 && ms % 1000 == 0) {
    return "timed out after " + base::format_duration(ms / 1000);
  }
  return "timed out after " + std::to_string(ms) + "ms";
}

void RowCollector::start(std::vector<std::string> columns) {
  result_.columns = std::move(columns);
  result_.rows.clear();
  result_.row_count = 0;
  result_.truncated = false;
}

bool RowCollector::want_row() {
  ++result_.row_count;
  if (!options_.fetch_results) {
    return false;
  }
  if (result_.rows.size() >= options_.max_rows) {
    result_.truncated = true;
    return false;
  }
  return true;
}

const Param* find_param(const std::vector<Param>& params, std::string_view name) {
  for (const auto& param : params) {
    if (param.name == name) {
      return &param;
    }
  }
  return nullptr;
}

std::string missing_param(std::string_view name, const std::vector<Param>& params) {
  std::string message = "parameter :" + std::string(name) + " is not given; ";
  if (params.empty()) {
    return message + "no params are given";
  }
  message += "params has: ";
  for (size_t i = 0; i < params.size(); ++i) {
    message += (i > 0 ? ", " : "") + params[i].name;
  }
  return message;
}

std::string statement_failure(int number, std::string_view first_line, bool several,
                              bool transaction, const std::string& message,
                              const std::optional<std::string>& rollback_error) {
  std::string out;
  if (several || transaction) {
    out = "statement " + std::to_string(number) + " (" + std::string(first_line) + "): ";
  }
  out += message;
  if (transaction) {
    if (rollback_error) {
      out += "; the rollback failed too: " + *rollback_error;
    } else {
      out += "; the transaction was rolled back";
    }
  }
  return out;
}

std::string clean_message(std::string message, const std::optional<std::string>& password) {
  if (password && !password->empty()) {
    for (size_t at = message.find(*password); at != std::string::npos;
         at = message.find(*password, at + 3)) {
      message.replace(at, password->size(), "***");
    }
  }
  while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) {
    message.pop_back();
  }
  return message;
}

base::Error make_error(std::string message) {
  base::Error error;
  error.message = std::move(message);
  return error;
}

} // namespace detail

base::Result<std::unique_ptr<Connection>> connect(const ConnectionSpec& spec) {
  switch (spec.driver) {
  case Driver::sqlite:
    return detail::connect_sqlite(spec);
  case Driver::postgresql:
    return detail::connect_postgresql(spec);
  case Driver::odbc:
    return detail::connect_odbc(spec);
  }
  return detail::make_error("unknown driver");
}

std::string quote_identifier(std::string_view name) {
  std::string out;
  size_t begin = 0;
  while (true) {
    const size_t dot = name.find('.', begin);
    const std::string_view part =
        name.substr(begin, dot == std::string_view::npos ? std::string_view::npos : dot - begin);
    if (!out.empty() || begin > 0) {
      out += '.';
    }
    out += '"';
    for (char c : part) {
      out += c;
      if (c == '"') {
        out += '"';
      }
    }
    out += '"';
    if (dot == std::string_view::npos) {
      break;
    }
    begin = dot + 1;
  }
  return out;
}

namespace {

constexpr size_t cell_limit = 40;

// Characters (code points) in a UTF-8 string; bytes that are not UTF-8 count one each.
size_t display_width(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t len = base::utf8::utf8_length(s, i);
    i += len == 0 ? 1 : len;
    ++n;
  }
  return n;
}

// The first `count` characters of `s`.
std::string_view prefix_chars(std::string_view s, size_t count) {
  size_t i = 0;
  for (size_t n = 0; n < count && i < s.size(); ++n) {
    const size_t len = base::utf8::utf8_length(s, i);
    i += len == 0 ? 1 : len;
  }
  return s.substr(0, i);
}

std::string cell_text(const nlohmann::json& value) {
  std::string text;
  if (value.is_null()) {
    return "NULL";
  }
  if (value.is_string()) {
    text = value.get<std::string>();
  } else {
    text = value.dump();
  }
  // One line per row: control characters become spaces.
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = ' ';
    }
  }
  if (display_width(text) > cell_limit) {
    text = std::string(prefix_chars(text, cell_limit - 3)) + "...";
  }
  return text;
}

std::string rows_word(std::int64_t n) {
  return std::to_string(n) + (n == 1 ? " row" : " rows");
}

} // namespace

std::string format_table(const Result& r, std::size_t max_rows) {
  if (r.columns.empty()) {
    return "(" + rows_word(r.affected) + " affected)\n";
  }
  const size_t shown = std::min(max_rows, r.rows.size());
  const size_t columns = r.columns.size();
  std::vector<std::vector<std::string>> cells;
  std::vector<bool> numeric(columns, true);
  std::vector<size_t> widths(columns, 0);
  for (size_t c = 0; c < columns; ++c) {
    std::string name = r.columns[c];
    widths[c] = display_width(name);
  }
  for (size_t i = 0; i < shown; ++i) {
    std::vector<std::string> line;
    for (size_t c = 0; c < columns; ++c) {
      const nlohmann::json value = c < r.rows[i].size() ? r.rows[i][c] : nlohmann::json();
      if (!value.is_number() && !value.is_null()) {
        numeric[c] = false;
      }
      line.push_back(cell_text(value));
      widths[c] = std::max(widths[c], display_width(line.back()));
    }
    cells.push_back(std::move(line));
  }
  const auto render_line = [&](const std::vector<std::string>& line, bool header) {
    std::string out;
    for (size_t c = 0; c < columns; ++c) {
      const size_t pad = widths[c] - display_width(line[c]);
      const bool last = c + 1 == columns;
      if (c > 0) {
        out += " | ";
      }
      if (numeric[c] && !header && shown > 0) {
        out += std::string(pad, ' ') + line[c];
      } else {
        out += line[c];
        if (!last) {
          out += std::string(pad, ' ');
        }
      }
    }
    return out + "\n";
  };
  std::string out = render_line(r.columns, true);
  for (size_t c = 0; c < columns; ++c) {
    out += (c > 0 ? "-+-" : "") + std::string(widths[c], '-');
  }
  out += "\n";
  for (const auto& line : cells) {
    out += render_line(line, false);
  }
  if (shown < static_cast<size_t>(r.row_count) || r.truncated) {
    out += "(showing " + std::to_string(shown) + " of " + rows_word(r.row_count) + ")\n";
  } else {
    out += "(" + rows_word(r.row_count) + ")\n";
  }
  return out;
}

} // namespace sql
