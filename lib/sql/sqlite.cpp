#include <sql/driver.hpp>
#include <sql/script.hpp>
#include <sql/sql.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace sql {

namespace detail {

namespace {

// Called by SQLite every few hundred VM instructions: a non-zero return interrupts the
// statement, so a timeout or cancel stops even a statement that never yields rows.
int progress(void* context) {
  const auto* watch = static_cast<const Watch*>(context);
  return watch->check() != Stop::none ? 1 : 0;
}

std::string blob_text(const void* data, int size) {
  static const char digits[] = "0123456789abcdef";
  std::string out = "\\x";
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (int i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

nlohmann::json column_value(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
  case SQLITE_INTEGER:
    return sqlite3_column_int64(stmt, i);
  case SQLITE_FLOAT:
    return sqlite3_column_double(stmt, i);
  case SQLITE_NULL:
    return nullptr;
  case SQLITE_BLOB:
    return blob_text(sqlite3_column_blob(stmt, i), sqlite3_column_bytes(stmt, i));
  default: {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
    return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
  }
  }
}

// Whether `sql` holds anything but blanks and comments.
bool has_statement(std::string_view sql) {
  auto statements = split_script(sql, PlaceholderStyle::named);
  return !statements.ok() || !statements->empty();
}

class SqliteConnection : public Connection {
public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override { sqlite3_close_v2(db_); }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  base::Result<Result> run(std::string_view script, const std::vector<Param>& params,
                           const Options& options) override {
    Watch watch(options);
    sqlite3_progress_handler(db_, 100, progress, &watch);
    auto result = run_script(script, params, options, watch);
    sqlite3_progress_handler(db_, 0, nullptr, nullptr);
    return result;
  }

  std::string server_version() override { return std::string("SQLite ") + sqlite3_libversion(); }

private:
  // Runs one statement outside the script (BEGIN, COMMIT, ROLLBACK); the error message or
  // nothing.
  std::optional<std::string> exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error != nullptr ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      return message;
    }
    return std::nullopt;
  }

  base::Result<Result> run_script(std::string_view script, const std::vector<Param>& params,
                                  const Options& options, const Watch& watch) {
    Result result;
    RowCollector rows(result, options);
    if (options.transaction) {
      if (auto error = exec("BEGIN")) {
        return make_error("cannot begin the transaction: " + *error);
      }
    }
    const char* tail = script.data();
    const char* const end = script.data() + script.size();
    int number = 0;
    while (tail < end) {
      const char* start = tail;
      sqlite3_stmt* stmt = nullptr;
      const int rc = sqlite3_prepare_v3(db_, start, static_cast<int>(end - start), 0, &stmt, &tail);
      if (rc == SQLITE_OK && stmt == nullptr) {
        continue; // only blanks and comments were left
      }
      ++number;
      const std::string_view text(start, static_cast<size_t>(tail - start));
      std::string message;
      if (rc != SQLITE_OK) {
        message = sqlite3_errmsg(db_);
        const Stop stop = watch.check();
        if (stop != Stop::none) {
          message = watch.message(stop);
        }
      } else {
        message = run_statement(stmt, params, rows, result, watch);
        sqlite3_finalize(stmt);
      }
      if (!message.empty()) {
        std::optional<std::string> rollback_error;
        // The rollback must not be interrupted by the deadline that may have stopped us.
        sqlite3_progress_handler(db_, 0, nullptr, nullptr);
        if (options.transaction && sqlite3_get_autocommit(db_) == 0) {
          rollback_error = exec("ROLLBACK");
        }
        const bool several =
            number > 1 || has_statement(std::string_view(tail, static_cast<size_t>(end - tail)));
        return make_error(statement_failure(number, first_line(text), several, options.transaction,
                                            message, rollback_error));
      }
      ++result.statements;
    }
    if (options.transaction) {
      if (auto error = exec("COMMIT")) {
        std::optional<std::string> rollback_error;
        sqlite3_progress_handler(db_, 0, nullptr, nullptr);
        if (sqlite3_get_autocommit(db_) == 0) {
          rollback_error = exec("ROLLBACK");
        }
        return make_error("COMMIT failed: " + *error +
                          (rollback_error ? "; the rollback failed too: " + *rollback_error
                                          : "; the transaction was rolled back"));
      }
    }
    return result;
  }

  // Binds, steps and reads one statement; the error message, empty on success.
  std::string run_statement(sqlite3_stmt* stmt, const std::vector<Param>& params,
                            RowCollector& rows, Result& result, const Watch& watch) {
    const int count = sqlite3_bind_parameter_count(stmt);
    for (int i = 1; i <= count; ++i) {
      const char* name = sqlite3_bind_parameter_name(stmt, i);
      if (name == nullptr || name[0] != ':') {
        return std::string("placeholder ") + (name != nullptr ? name : "?") +
               " is not supported; use :name";
      }
      const Param* param = find_param(params, name + 1);
      if (param == nullptr) {
        return missing_param(name + 1, params);
      }
      const int rc = param->value
                         ? sqlite3_bind_text64(stmt, i, param->value->data(), param->value->size(),
                                               SQLITE_TRANSIENT, SQLITE_UTF8)
                         : sqlite3_bind_null(stmt, i);
      if (rc != SQLITE_OK) {
        return sqlite3_errmsg(db_);
      }
    }
    const int columns = sqlite3_column_count(stmt);
    if (columns > 0) {
      std::vector<std::string> names;
      for (int i = 0; i < columns; ++i) {
        names.emplace_back(sqlite3_column_name(stmt, i));
      }
      rows.start(std::move(names));
    }
    const sqlite3_int64 changes_before = sqlite3_total_changes64(db_);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (rows.want_row()) {
        std::vector<nlohmann::json> row;
        row.reserve(static_cast<size_t>(columns));
        for (int i = 0; i < columns; ++i) {
          row.push_back(column_value(stmt, i));
        }
        rows.add(std::move(row));
      }
    }
    if (rc != SQLITE_DONE) {
      const Stop stop = watch.check();
      if (rc == SQLITE_INTERRUPT && stop != Stop::none) {
        return watch.message(stop);
      }
      return sqlite3_errmsg(db_);
    }
    // The statement's own rows, without those of triggers and cascades: sqlite3_changes64,
    // which only an INSERT, UPDATE or DELETE sets (so only when this one changed something).
    if (sqlite3_total_changes64(db_) != changes_before) {
      result.affected += sqlite3_changes64(db_);
    }
    return "";
  }

  sqlite3* db_;
};

} // namespace

base::Result<std::unique_ptr<Connection>> connect_sqlite(const ConnectionSpec& spec) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      spec.target.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return make_error("cannot open SQLite database " + spec.target + ": " + message);
  }
  sqlite3_extended_result_codes(db, 0);
  sqlite3_busy_timeout(db, static_cast<int>(spec.connect_timeout.count()));
  return std::unique_ptr<Connection>(new SqliteConnection(db));
}

} // namespace detail

std::optional<base::Error> backup_sqlite(const std::string& from, const std::string& to) {
  sqlite3* source = nullptr;
  if (sqlite3_open_v2(from.c_str(), &source, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) !=
      SQLITE_OK) {
    std::string message = source != nullptr ? sqlite3_errmsg(source) : "out of memory";
    sqlite3_close_v2(source);
    return detail::make_error("cannot open " + from + ": " + message);
  }
  const std::string temporary = to + ".tmp-" + std::to_string(getpid());
  std::error_code ignored;
  std::filesystem::remove(temporary, ignored);
  sqlite3* target = nullptr;
  std::optional<base::Error> error;
  if (sqlite3_open_v2(temporary.c_str(), &target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    error = detail::make_error("cannot create " + temporary + ": " +
                               (target != nullptr ? sqlite3_errmsg(target) : "out of memory"));
  } else {
    sqlite3_backup* backup = sqlite3_backup_init(target, "main", source, "main");
    if (backup == nullptr) {
      error = detail::make_error("cannot back up " + from + ": " + sqlite3_errmsg(target));
    } else {
      // Copy everything in one step; a busy source is retried by sqlite3_backup_step itself
      // through the busy handler.
      sqlite3_busy_timeout(source, 10000);
      const int rc = sqlite3_backup_step(backup, -1);
      sqlite3_backup_finish(backup);
      if (rc != SQLITE_DONE) {
        error = detail::make_error("cannot back up " + from + ": " + sqlite3_errstr(rc));
      } else if (sqlite3_errcode(target) != SQLITE_OK) {
        error = detail::make_error("cannot back up " + from + ": " + sqlite3_errmsg(target));
      }
    }
  }
  sqlite3_close_v2(source);
  if (target != nullptr && sqlite3_close(target) != SQLITE_OK && !error) {
    error = detail::make_error("cannot close " + temporary + ": " + sqlite3_errmsg(target));
    sqlite3_close_v2(target);
  }
  if (!error) {
    std::error_code ec;
    std::filesystem::rename(temporary, to, ec);
    if (ec) {
      error = detail::make_error("cannot rename " + temporary + " to " + to + ": " + ec.message());
    }
  }
  if (error) {
    std::filesystem::remove(temporary, ignored);
  }
  return error;
}

} // namespace sql
