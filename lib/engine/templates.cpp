#include <base/civil.hpp>
#include <engine/builtin_internal.hpp>
#include <engine/templates.hpp>
#include <exec/process.hpp>
#include <files/files.hpp>
#include <mail/smtp.hpp>
#include <sql/sql.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

extern char** environ;

namespace engine {

using namespace builtin;

namespace {

namespace fs = std::filesystem;

// --- shared

std::string rows_word(std::int64_t n) {
  return std::to_string(n) + (n == 1 ? " row" : " rows");
}

std::string batches_word(int n) {
  return std::to_string(n) + (n == 1 ? " batch" : " batches");
}

std::string bytes_word(std::int64_t n) {
  return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

// The step's query with each ${variable} bound, and its params map after those.
std::string bound_query(const BuiltinContext& c, std::vector<sql::Param>& params) {
  std::string script = bind_variables(c, text(c, "query"), params);
  for (auto& [k, v] : pairs(c, "params")) {
    params.push_back({k, v});
  }
  return script;
}

// An output path of the step confined to allowed_paths (the file step's refusals), with its
// folder created when missing: inside an allowed folder, so nothing outside is touched.
base::Result<std::string> output_path(const BuiltinContext& c, const std::string& written) {
  auto target = files::confine(step_path(c, written), c.integrations.allowed_paths);
  if (!target) {
    return target.error();
  }
  const fs::path folder = fs::path(*target).parent_path();
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) {
    return error("cannot create the folder " + folder.string() + ": " + ec.message());
  }
  return target;
}

std::int64_t file_size(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<std::int64_t>(size);
}

// A cell as text: NULL empty, strings as they are, numbers in JSON form.
std::string cell(const nlohmann::json& value) {
  if (value.is_null()) {
    return "";
  }
  if (value.is_string()) {
    return value.get<std::string>();
  }
  return value.dump();
}

// A CSV field after RFC 4180: quoted when it holds a comma, a quote or a line break, its
// quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) {
    return s;
  }
  std::string out = "\"";
  for (const char ch : s) {
    out += ch;
    if (ch == '"') {
      out += '"';
    }
  }
  return out + "\"";
}

// NULL is an empty field and the empty string "" (as PostgreSQL's COPY writes them), so that a
// reader can tell them apart.
std::string csv_cell(const nlohmann::json& value) {
  if (value.is_string() && value.get_ref<const std::string&>().empty()) {
    return "\"\"";
  }
  return csv_field(cell(value));
}

// RFC 4180: a header row, then the rows, CRLF line ends.
std::string csv_text(const sql::Result& r) {
  std::string out;
  for (size_t i = 0; i < r.columns.size(); ++i) {
    out += (i > 0 ? "," : "") + csv_field(r.columns[i]);
  }
  out += "\r\n";
  for (const auto& row : r.rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += (i > 0 ? "," : "") + csv_cell(row[i]);
    }
    out += "\r\n";
  }
  return out;
}

// A cell value (null, integer, floating or string) for an ordered_json document.
nlohmann::ordered_json ordered(const nlohmann::json& v) {
  if (v.is_number_integer()) {
    return v.get<std::int64_t>();
  }
  if (v.is_number()) {
    return v.get<double>();
  }
  if (v.is_string()) {
    return v.get<std::string>();
  }
  if (v.is_boolean()) {
    return v.get<bool>();
  }
  return nullptr;
}

// An array of objects, keys in column order; bytes that are not UTF-8 become U+FFFD rather
// than failing the export.
std::string json_text(const sql::Result& r) {
  auto rows = nlohmann::ordered_json::array();
  for (const auto& row : r.rows) {
    auto object = nlohmann::ordered_json::object();
    for (size_t i = 0; i < row.size() && i < r.columns.size(); ++i) {
      object[r.columns[i]] = ordered(row[i]);
    }
    rows.push_back(std::move(object));
  }
  return rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// --- database_cleanup

// A time as 'YYYY-MM-DD<sep>HH:MM:SS', UTC.
std::string utc_text(std::int64_t seconds, char separator) {
  const std::int64_t days = base::civil::floor_div(seconds, 86400);
  const std::int64_t in_day = seconds - days * 86400;
  const base::civil::Date d = base::civil::date_from_days(days);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u%c%02d:%02d:%02d", d.year, d.month, d.day,
                separator, static_cast<int>(in_day / 3600), static_cast<int>(in_day / 60 % 60),
                static_cast<int>(in_day % 60));
  return buffer;
}

std::int64_t count_of(const sql::Result& r) {
  if (r.rows.empty() || r.rows[0].empty()) {
    return 0;
  }
  const nlohmann::json& v = r.rows[0][0];
  if (v.is_number()) {
    return v.get<std::int64_t>();
  }
  return v.is_string() ? std::atoll(v.get<std::string>().c_str()) : 0;
}

// The condition of the rows to delete, its parameters added to `params`, and what it means
// for the log. For older_than the cutoff is a bound parameter in the form each driver compares
// correctly: PostgreSQL casts ISO text with an explicit +00 to timestamptz; ODBC gets ISO text
// for the driver to convert. SQLite has no timestamp type, only values compared by storage
// class, and any number sorts before any text: a text cutoff against a column of Unix times
// would match every row. So the column's first non-NULL value decides: a number compares with
// the cutoff in Unix seconds, text with the cutoff as ISO text (with the value's 'T' or ' '
// between date and time), and each form only matches values of its own storage class.
base::Result<std::string> cleanup_condition(const BuiltinContext& c, sql::Connection& db,
                                            sql::Driver driver, const std::string& table,
                                            std::vector<sql::Param>& params, std::string& meaning) {
  if (key(c, "where") != nullptr) {
    std::string condition = bind_variables(c, text(c, "where"), params);
    for (auto& [k, v] : pairs(c, "params")) {
      params.push_back({k, v});
    }
    meaning = "where " + text(c, "where");
    return condition;
  }
  // Qualified by its table: SQLite takes an unknown "name" alone for a string literal.
  const std::string column = table + "." + sql::quote_identifier(text(c, "column"));
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::int64_t cutoff = now - seconds(c, "older_than", 0);
  const auto describe = [&](const std::string& as) {
    meaning = "whose " + text(c, "column") + as + " is older than " + text(c, "older_than") +
              " (before " + utc_text(cutoff, ' ') + " UTC)";
  };
  describe("");
  switch (driver) {
  case sql::Driver::postgresql:
    params.push_back({"jobs_cutoff", utc_text(cutoff, ' ') + "+00"});
    return column + " < CAST(:jobs_cutoff AS timestamptz)";
  case sql::Driver::odbc:
    params.push_back({"jobs_cutoff", utc_text(cutoff, ' ')});
    return column + " < :jobs_cutoff";
  case sql::Driver::sqlite:
    break;
  }
  sql::Options probe_options;
  probe_options.max_rows = 1;
  probe_options.cancel = c.cancel;
  auto probe =
      db.run("SELECT " + column + " FROM " + table + " WHERE " + column + " IS NOT NULL LIMIT 1",
             {}, probe_options);
  if (!probe) {
    return error("cannot read " + text(c, "column") + " of " + text(c, "table") + ": " +
                 probe.error().message);
  }
  const nlohmann::json first =
      probe->rows.empty() || probe->rows[0].empty() ? nlohmann::json() : probe->rows[0][0];
  if (first.is_number()) {
    // Which unit the numbers are in, from their size: Julian days (SQLite's julianday()) are
    // near 2.5 million, Unix seconds of the last fifty years near 1 to 2 billion, Unix
    // milliseconds near 1 to 2 trillion.
    const double sample = first.get<double>();
    const std::string numeric = " AND typeof(" + column + ") IN ('integer', 'real')";
    if (sample > 0 && sample < 1e7) {
      params.push_back(
          {"jobs_cutoff", std::to_string(static_cast<double>(cutoff) / 86400.0 + 2440587.5)});
      describe(" (Julian days)");
      return column + " < CAST(:jobs_cutoff AS REAL)" + numeric;
    }
    if (sample >= 1e11) {
      params.push_back({"jobs_cutoff", std::to_string(cutoff * 1000)});
      describe(" (Unix milliseconds)");
      return column + " < CAST(:jobs_cutoff AS INTEGER)" + numeric;
    }
    params.push_back({"jobs_cutoff", std::to_string(cutoff)});
    describe(" (Unix seconds)");
    return column + " < CAST(:jobs_cutoff AS INTEGER)" + numeric;
  }
  const std::string value = first.is_string() ? first.get<std::string>() : "";
  const char separator = value.size() > 10 && value[10] == 'T' ? 'T' : ' ';
  params.push_back({"jobs_cutoff", utc_text(cutoff, separator)});
  return column + " < :jobs_cutoff AND typeof(" + column + ") = 'text'";
}

// One batch's DELETE. SQLite and PostgreSQL delete at most `limit` rows, found by their
// physical row id; PostgreSQL repeats the condition outside because a ctid is only unique
// within one partition of a partitioned table. ODBC has no portable row id or LIMIT: the rows
// go in one DELETE (one transaction), not in batches.
std::string batch_sql(sql::Driver driver, const std::string& table, const std::string& condition,
                      std::int64_t limit) {
  // The condition on lines of its own, so that a trailing -- comment in it ends there.
  const std::string where = "(" + condition + "\n)";
  const std::string n = std::to_string(limit);
  switch (driver) {
  case sql::Driver::sqlite:
    return "DELETE FROM " + table + " WHERE rowid IN (SELECT rowid FROM " + table + " WHERE " +
           where + " LIMIT " + n + ")";
  case sql::Driver::postgresql:
    return "DELETE FROM " + table + " WHERE ctid = ANY(ARRAY(SELECT ctid FROM " + table +
           " WHERE " + where + " LIMIT " + n + ")) AND " + where;
  case sql::Driver::odbc:
    break;
  }
  return "DELETE FROM " + table + " WHERE " + where;
}

// --- report

// Rows kept for a report: it is read by people, by mail.
constexpr std::size_t report_rows = 10000;

std::string html_escaped(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    switch (ch) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += ch;
    }
  }
  return out;
}

// A GFM table cell: '|' escaped, line breaks (which would end the row) as spaces.
std::string markdown_cell(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '|') {
      out += "\\|";
    } else if (ch == '\n' || ch == '\r') {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

// Columns whose values are all numbers (or NULL), at least one: right-aligned.
std::vector<bool> numeric_columns(const sql::Result& r) {
  std::vector<bool> numeric(r.columns.size(), false);
  for (size_t i = 0; i < r.columns.size(); ++i) {
    bool any = false;
    bool all = true;
    for (const auto& row : r.rows) {
      if (i < row.size() && row[i].is_number()) {
        any = true;
      } else if (i < row.size() && !row[i].is_null()) {
        all = false;
      }
    }
    numeric[i] = any && all;
  }
  return numeric;
}

std::string rows_note(const sql::Result& r) {
  if (r.truncated) {
    return "showing " + std::to_string(r.rows.size()) + " of " + rows_word(r.row_count);
  }
  return rows_word(r.row_count);
}

std::string markdown_report(const std::string& title, const sql::Result& r) {
  std::string out = "# " + markdown_cell(title) + "\n\n";
  const auto numeric = numeric_columns(r);
  out += "|";
  for (const auto& column : r.columns) {
    out += " " + markdown_cell(column) + " |";
  }
  out += "\n|";
  for (size_t i = 0; i < r.columns.size(); ++i) {
    out += numeric[i] ? " ---: |" : " --- |";
  }
  out += "\n";
  for (const auto& row : r.rows) {
    out += "|";
    for (size_t i = 0; i < r.columns.size(); ++i) {
      out += " " + markdown_cell(i < row.size() ? cell(row[i]) : "") + " |";
    }
    out += "\n";
  }
  return out + "\n" + rows_note(r) + "\n";
}

std::string html_report(const std::string& title, const sql::Result& r) {
  const std::string t = html_escaped(title);
  const auto numeric = numeric_columns(r);
  std::string out = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>" + t +
                    "</title>\n</head>\n<body>\n<h1>" + t +
                    "</h1>\n<table border=\"1\" cellpadding=\"4\" "
                    "style=\"border-collapse: collapse\">\n<thead>\n<tr>";
  for (const auto& column : r.columns) {
    out += "<th>" + html_escaped(column) + "</th>";
  }
  out += "</tr>\n</thead>\n<tbody>\n";
  for (const auto& row : r.rows) {
    out += "<tr>";
    for (size_t i = 0; i < r.columns.size(); ++i) {
      out += std::string(numeric[i] ? "<td style=\"text-align: right\">" : "<td>") +
             html_escaped(i < row.size() ? cell(row[i]) : "") + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n<p>" + rows_note(r) + "</p>\n</body>\n</html>\n";
}

// --- backup

// pg_dump from PATH, else the newest of /usr/lib/postgresql/*/bin (Debian's layout, where
// PATH may hold none).
std::string find_pg_dump() {
  const char* path = std::getenv("PATH");
  if (std::string found = exec::find_program("pg_dump", path != nullptr ? path : "");
      !found.empty()) {
    return found;
  }
  std::string best;
  double best_version = -1;
  std::error_code ec;
  for (fs::directory_iterator it("/usr/lib/postgresql", ec), end; !ec && it != end;
       it.increment(ec)) {
    const fs::path candidate = it->path() / "bin" / "pg_dump";
    const double version = std::atof(it->path().filename().c_str());
    if (version > best_version && access(candidate.c_str(), X_OK) == 0) {
      best = candidate.string();
      best_version = version;
    }
  }
  return best;
}

// A name beside `target` for the file being written.
std::string temporary_beside(const std::string& target) {
  static std::atomic<unsigned> counter{0};
  const fs::path p(target);
  return (p.parent_path() / ("." + p.filename().string() + ".tmp-" + std::to_string(getpid()) +
                             "-" + std::to_string(counter++)))
      .string();
}

// The last non-blank line of a process's stderr, for the error.
std::string last_line(const std::string& text) {
  std::string_view s = text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.remove_suffix(1);
  }
  const size_t newline = s.rfind('\n');
  return std::string(newline == std::string_view::npos ? s : s.substr(newline + 1));
}

// pg_dump of the connection into `target`; the error, if any.
std::optional<std::string> backup_postgresql(Run& run, const Connection& conn,
                                             const std::string& target) {
  const BuiltinContext& c = run.c;
  const auto password = resolve(conn.password, c.integrations.secrets);
  if (!password) {
    return "connection \"" + conn.name + "\": " + password.error().message;
  }
  if (*password) {
    run.secret(**password);
  }
  const std::string pg_dump = find_pg_dump();
  if (pg_dump.empty()) {
    return std::string("pg_dump is not in PATH nor in /usr/lib/postgresql/*/bin: a backup of a "
                       "PostgreSQL connection needs it");
  }
  const std::string temporary = temporary_beside(target);
  exec::ProcessSpec spec;
  // The password reaches pg_dump through its environment, never its command line (which any
  // user can read in /proc); --no-password: never wait for a prompt.
  spec.argv = {pg_dump, "--format=custom", "--no-password", "--file=" + temporary,
               "--dbname=" + conn.target};
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const size_t eq = entry.find('=');
    if (eq != std::string::npos && entry.compare(0, eq, "PGPASSWORD") != 0) {
      spec.env.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }
  }
  if (*password) {
    spec.env.emplace_back("PGPASSWORD", **password);
  }
  spec.kill_grace = std::chrono::seconds(5);
  run.line("pg_dump --format=custom of " + conn.name + " to " + target);
  const exec::ProcessResult p = exec::run_process(
      spec, [&](exec::Stream, std::string_view s) { run.line(std::string(s)); }, c.cancel);
  std::error_code ignored;
  if (!p.succeeded()) {
    fs::remove(temporary, ignored);
    if (!p.start_error.empty()) {
      return "cannot run " + pg_dump + ": " + p.start_error;
    }
    if (p.cancelled || p.timed_out) {
      return std::string("pg_dump was stopped: cancelled");
    }
    const std::string why = p.exit_code
                                ? "exited with code " + std::to_string(*p.exit_code)
                                : "was killed by signal " + std::to_string(p.signal.value_or(0));
    // pg_dump's message without its "pg_dump: error: " prefix: the error names pg_dump already.
    std::string said = last_line(p.err);
    for (const std::string prefix : {"pg_dump: ", "error: "}) {
      if (said.rfind(prefix, 0) == 0) {
        said.erase(0, prefix.size());
      }
    }
    return "pg_dump " + why + (said.empty() ? "" : ": " + said);
  }
  std::error_code ec;
  fs::rename(temporary, target, ec);
  if (ec) {
    fs::remove(temporary, ignored);
    return "cannot rename " + temporary + " to " + target + ": " + ec.message();
  }
  return std::nullopt;
}

} // namespace

BuiltinResult run_database_cleanup(const BuiltinContext& c) {
  Run run{c, {}, {}};
  const std::string name = text(c, "table");
  const std::string table = sql::quote_identifier(name);
  const bool dry_run = flag(c, "dry_run", true);
  const std::int64_t batch_size = number(c, "batch_size", 1000);
  if (batch_size < 1) {
    return run.fail("batch_size must be at least 1, not " + std::to_string(batch_size));
  }
  auto connected = open_connection(run);
  if (!connected) {
    return run.fail(connected.error().message);
  }
  sql::Connection& db = **connected;
  const sql::Driver driver = c.integrations.connections.at(text(c, "connection")).driver;

  std::vector<sql::Param> params;
  std::string meaning;
  auto condition = cleanup_condition(c, db, driver, table, params, meaning);
  if (!condition) {
    return run.fail(condition.error().message);
  }
  const auto record = [&](std::int64_t rows, int batches) {
    run.r.fields["affected"] = std::to_string(rows);
    run.r.fields["row_count"] = std::to_string(rows);
    run.r.fields["json"] = nlohmann::ordered_json{
        {"table", name},
        {"deleted", rows},
        {"dry_run", dry_run},
        {"batches", batches}}.dump();
  };

  if (dry_run) {
    sql::Options options;
    options.cancel = c.cancel;
    auto counted =
        db.run("SELECT count(*) FROM " + table + " WHERE (" + *condition + "\n)", params, options);
    if (!counted) {
      return run.fail("cannot count the rows to delete from " + name + ": " +
                      counted.error().message);
    }
    const std::int64_t n = count_of(*counted);
    record(n, 0);
    run.line("would delete " + rows_word(n) + " from " + name + " " + meaning +
             " (a dry run: nothing deleted; dry_run: false deletes)");
    return run.done();
  }

  run.line(driver == sql::Driver::odbc
               ? "deleting the rows of " + name + " " + meaning + " in one DELETE (ODBC)"
               : "deleting the rows of " + name + " " + meaning + " in batches of " +
                     std::to_string(batch_size));
  const std::string statement = batch_sql(driver, table, *condition, batch_size);
  sql::Options options;
  options.fetch_results = false;
  // No transaction option: each batch is one statement in autocommit mode, so its own
  // transaction; a stop or an error keeps the batches done before and undoes nothing else.
  options.cancel = c.cancel;
  std::int64_t deleted = 0;
  int batches = 0;
  while (true) {
    if (c.cancel != nullptr && c.cancel->cancelled()) {
      record(deleted, batches);
      run.line("stopped after " + batches_word(batches) + ": " + rows_word(deleted) +
               " deleted from " + name);
      return run.fail("cancelled after " + batches_word(batches) + " (" + rows_word(deleted) +
                      " deleted from " + name + ")");
    }
    auto r = db.run(statement, params, options);
    if (!r) {
      record(deleted, batches);
      return run.fail("cannot delete from " + name + " (batch " + std::to_string(batches + 1) +
                      ", " + rows_word(deleted) + " deleted before): " + r.error().message);
    }
    ++batches;
    deleted += r->affected;
    run.line("batch " + std::to_string(batches) + ": deleted " + rows_word(r->affected));
    if (driver == sql::Driver::odbc || r->affected < batch_size) {
      break;
    }
  }
  record(deleted, batches);
  run.line("deleted " + rows_word(deleted) + " from " + name + " in " + batches_word(batches));
  return run.done();
}

BuiltinResult run_data_export(const BuiltinContext& c) {
  Run run{c, {}, {}};
  auto target = output_path(c, text(c, "output"));
  if (!target) {
    return run.fail(target.error().message);
  }
  const std::int64_t max_rows = number(c, "max_rows", 1000000);
  if (max_rows < 0) {
    return run.fail("max_rows must not be negative, not " + std::to_string(max_rows));
  }
  std::vector<sql::Param> params;
  const std::string query = bound_query(c, params);
  sql::Options options;
  options.max_rows = static_cast<std::size_t>(max_rows);
  options.cancel = c.cancel;
  auto connected = open_connection(run);
  if (!connected) {
    return run.fail(connected.error().message);
  }
  auto result = (*connected)->run(query, params, options);
  if (!result) {
    return run.fail(result.error().message);
  }
  if (result->columns.empty()) {
    return run.fail("the query returns no rows (data_export needs a SELECT): nothing was "
                    "written to " +
                    *target);
  }
  if (result->truncated) {
    return run.fail("the query returned " + rows_word(result->row_count) +
                    ", more than max_rows (" + std::to_string(max_rows) +
                    "): nothing was written to " + *target);
  }
  const std::string content =
      text(c, "format", "csv") == "json" ? json_text(*result) : csv_text(*result);
  if (auto failed = files::write_atomically(*target, content, c.integrations.allowed_paths)) {
    return run.fail(failed->message);
  }
  const auto bytes = static_cast<std::int64_t>(content.size());
  run.line("wrote " + rows_word(result->row_count) + " (" + bytes_word(bytes) + ") to " + *target);
  run.r.fields["row_count"] = std::to_string(result->row_count);
  run.r.fields["files"] = "1";
  run.r.fields["bytes"] = std::to_string(bytes);
  run.r.fields["json"] = nlohmann::ordered_json{
      {"path", *target},
      {"rows", result->row_count},
      {"bytes", bytes}}.dump();
  return run.done();
}

BuiltinResult run_backup(const BuiltinContext& c) {
  Run run{c, {}, {}};
  auto conn = configured_connection(c);
  if (!conn) {
    return run.fail(conn.error().message);
  }
  auto target = output_path(c, text(c, "destination"));
  if (!target) {
    return run.fail(target.error().message);
  }
  switch ((*conn)->driver) {
  case sql::Driver::sqlite: {
    run.line("SQLite online backup of " + (*conn)->name + " to " + *target);
    if (auto failed = sql::backup_sqlite((*conn)->target, *target)) {
      return run.fail(failed->message);
    }
    break;
  }
  case sql::Driver::postgresql:
    if (auto failed = backup_postgresql(run, **conn, *target)) {
      return run.fail(*failed);
    }
    break;
  case sql::Driver::odbc:
    return run.fail("backup supports sqlite and postgresql connections; \"" + (*conn)->name +
                    "\" is an odbc connection");
  }
  const std::int64_t bytes = file_size(*target);
  run.line("backed up " + (*conn)->name + " to " + *target + " (" + bytes_word(bytes) + ")");
  run.r.fields["bytes"] = std::to_string(bytes);
  run.r.fields["files"] = "1";
  run.r.fields["json"] = nlohmann::ordered_json{{"path", *target}, {"bytes", bytes}}.dump();
  return run.done();
}

BuiltinResult run_report(const BuiltinContext& c) {
  Run run{c, {}, {}};
  const std::string format = text(c, "format", "markdown");
  std::string title = substitute(c, text(c, "title"));
  if (title.empty()) {
    title = c.job.name.empty() ? c.job.id : c.job.name;
  }
  std::optional<std::string> target;
  if (key(c, "output") != nullptr) {
    auto confined = output_path(c, text(c, "output"));
    if (!confined) {
      return run.fail(confined.error().message);
    }
    target = *confined;
  }
  const std::vector<std::string> recipients = list(c, "email");
  if (!recipients.empty() && !c.integrations.smtp) {
    return run.fail("no smtp server in the daemon config: a report step with email needs one");
  }

  std::vector<sql::Param> params;
  const std::string query = bound_query(c, params);
  sql::Options options;
  options.max_rows = report_rows;
  options.cancel = c.cancel;
  auto connected = open_connection(run);
  if (!connected) {
    return run.fail(connected.error().message);
  }
  auto result = (*connected)->run(query, params, options);
  if (!result) {
    return run.fail(result.error().message);
  }
  if (result->columns.empty()) {
    return run.fail("the query returns no rows (a report needs a SELECT)");
  }
  const std::string body = format == "html"  ? html_report(title, *result)
                           : format == "csv" ? csv_text(*result)
                                             : markdown_report(title, *result);
  run.r.fields["row_count"] = std::to_string(result->row_count);
  run.r.fields["json"] =
      nlohmann::ordered_json{{"rows", result->row_count},
                             {"path", target ? nlohmann::ordered_json(*target) : nullptr}}
          .dump();

  if (target) {
    if (auto failed = files::write_atomically(*target, body, c.integrations.allowed_paths)) {
      return run.fail(failed->message);
    }
    run.line("wrote the report (" + rows_note(*result) + ", " +
             bytes_word(static_cast<std::int64_t>(body.size())) + ") to " + *target);
  }
  if (!recipients.empty()) {
    const Smtp& smtp = *c.integrations.smtp;
    const auto server = smtp_server(smtp, c.integrations.secrets);
    if (!server) {
      return run.fail(server.error().message);
    }
    if (server->password) {
      run.secret(*server->password);
    }
    mail::Message m;
    m.from = smtp.from;
    m.to = recipients;
    m.subject =
        key(c, "subject") != nullptr ? substitute(c, text(c, "subject")) : title + ": report";
    m.body = body;
    if (format == "html") {
      m.content_type = "text/html; charset=utf-8";
    }
    if (auto failed = mail::send(*server, m, c.cancel)) {
      return run.fail(failed->message);
    }
    std::string to;
    for (const auto& a : m.to) {
      to += (to.empty() ? "" : ", ") + a;
    }
    run.line("sent \"" + m.subject + "\" (" + rows_note(*result) + ") to " + to);
  }
  return run.done();
}

} // namespace engine
