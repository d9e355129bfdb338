#pragma once

// Running SQL scripts against SQLite, PostgreSQL (libpq) and ODBC data sources: named
// parameters that are bound and never spliced, an optional transaction around the script, a
// timeout and a cancel that stop the running statement, and rows as JSON values.

#include <base/error.hpp>
#include <exec/process.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sql {

// Which client library talks to the database.
enum class Driver { sqlite, postgresql, odbc };

// Where a connection goes.
struct ConnectionSpec {
  std::string name; // the connection's name, for messages
  Driver driver = Driver::sqlite;
  std::string target; // sqlite: file path (or file: URI); postgresql: conninfo or URL; odbc:
                      // "DSN=x;..." or a full connection string ("Driver={SQLite3};Database=x")
  std::optional<std::string> password; // given apart from target; never in any message
  std::chrono::milliseconds connect_timeout{10000};
};

// A value for the placeholder `:name`; nullopt binds NULL.
struct Param {
  std::string name;
  std::optional<std::string> value;
};

// How a script runs.
struct Options {
  bool fetch_results = true;   // false: rows are not kept (row_count still counts)
  std::size_t max_rows = 1000; // rows kept in Result::rows
  bool transaction = false;    // the whole script in one transaction, rolled back on any failure
  std::optional<std::chrono::milliseconds> timeout; // cancels the running statement when the
                                                    // script has run this long
  exec::CancelToken* cancel = nullptr;              // likewise when cancelled
};

// What a script did.
struct Result {
  std::vector<std::string> columns;              // of the last statement that returned rows
  std::vector<std::vector<nlohmann::json>> rows; // at most max_rows; null, integer, floating or
                                                 // string values (other types in text form)
  std::int64_t row_count = 0;                    // rows that statement returned, all of them
  bool truncated = false;                        // rows were left out by max_rows
  std::int64_t affected = 0; // rows changed by INSERT/UPDATE/DELETE, summed over the script
  int statements = 0;        // statements run
};

// An open connection. Not for concurrent use; only Options::cancel may be used from elsewhere.
class Connection {
public:
  virtual ~Connection() = default;
  // Runs `script`: one or more statements separated by ';'. Parameters are bound, never
  // spliced. Errors carry the driver's message; in a script of several statements or in a
  // transaction, which statement failed ("statement 2 (INSERT INTO t ...): ...").
  virtual base::Result<Result> run(std::string_view script, const std::vector<Param>& params,
                                   const Options& options) = 0;
  // "PostgreSQL 15.4", "SQLite 3.40.1", for ODBC the DBMS name and version from SQLGetInfo.
  virtual std::string server_version() = 0;
};

// Opens a connection. Errors say why, with the driver's message, never the password.
base::Result<std::unique_ptr<Connection>> connect(const ConnectionSpec& spec);

// `name` as an identifier for SQL: each dot-separated part in double quotes, quotes doubled
// ("a"."b").
std::string quote_identifier(std::string_view name);

// A readable aligned text table of the result for a log: header, rule, at most `max_rows`
// rows, cells cut at 40 characters, then "(N rows)" ("(1 row)") or "(showing 20 of N rows)";
// an empty result says "(0 rows)"; no columns: "(N rows affected)". Each line ends in '\n'.
std::string format_table(const Result& r, std::size_t max_rows = 20);

// SQLite online backup (sqlite3_backup_*) of the database at `from` into the file `to`
// (written to a temporary name beside it, then renamed over `to`).
std::optional<base::Error> backup_sqlite(const std::string& from, const std::string& to);

} // namespace sql
