#include <sql/driver.hpp>
#include <sql/script.hpp>
#include <sql/sql.hpp>

#include <poll.h>
#include <sql.h>
#include <sqlext.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

namespace sql {

namespace detail {

namespace {

bool succeeded(SQLRETURN rc) {
  return rc == SQL_SUCCESS || rc == SQL_SUCCESS_WITH_INFO;
}

// The diagnostic records of a handle: "message (SQLSTATE 42S02); ...".
std::string diagnostics(SQLSMALLINT type, SQLHANDLE handle) {
  std::string out;
  for (SQLSMALLINT i = 1;; ++i) {
    SQLCHAR state[8] = {};
    SQLINTEGER native = 0;
    SQLCHAR text[2048] = {};
    SQLSMALLINT length = 0;
    const SQLRETURN rc = SQLGetDiagRec(type, handle, i, state, &native, text,
                                       static_cast<SQLSMALLINT>(sizeof text), &length);
    if (!succeeded(rc)) {
      break;
    }
    std::string message(reinterpret_cast<const char*>(text));
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    if (!out.empty()) {
      out += "; ";
    }
    out += message + " (SQLSTATE " + reinterpret_cast<const char*>(state) + ")";
  }
  return out.empty() ? std::string("unknown ODBC error") : out;
}

bool has_state(SQLSMALLINT type, SQLHANDLE handle, const char* wanted) {
  for (SQLSMALLINT i = 1;; ++i) {
    SQLCHAR state[8] = {};
    SQLINTEGER native = 0;
    SQLSMALLINT length = 0;
    if (!succeeded(SQLGetDiagRec(type, handle, i, state, &native, nullptr, 0, &length))) {
      return false;
    }
    if (std::string(reinterpret_cast<const char*>(state)) == wanted) {
      return true;
    }
  }
}

// Calls SQLCancel on a statement at the deadline or when the token is cancelled, from its own
// thread: the driver is blocked in SQLExecDirect or SQLFetch on the caller's.
class Canceller {
public:
  static constexpr int retry_ms = 100;

  Canceller(SQLHSTMT stmt, const Watch& watch) : watch_(watch) {
    if (!watch.deadline() && watch.cancel_fd() < 0) {
      return;
    }
    done_ = eventfd(0, EFD_CLOEXEC);
    if (done_ < 0) {
      // Out of file descriptors: no thread could be told to stop; SQL_ATTR_QUERY_TIMEOUT
      // still bounds the statement.
      return;
    }
    thread_ = std::thread([this, stmt] {
      pollfd fds[2] = {{done_, POLLIN, 0}, {watch_.cancel_fd(), POLLIN, 0}};
      while (true) {
        // Once stopping, SQLCancel is repeated: a cancel that comes just before the driver
        // starts the statement finds nothing to cancel.
        const int timeout = stop_ != Stop::none ? retry_ms : watch_.poll_timeout();
        const int n = poll(fds, stop_ == Stop::none && watch_.cancel_fd() >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if ((fds[0].revents & POLLIN) != 0) {
          return;
        }
        if (stop_ == Stop::none) {
          stop_ = watch_.check();
        }
        if (stop_ != Stop::none) {
          SQLCancel(stmt);
        }
      }
    });
  }
  ~Canceller() { finish(); }
  Canceller(const Canceller&) = delete;
  Canceller& operator=(const Canceller&) = delete;

  // Stops the thread; after this stop() is final.
  void finish() {
    if (thread_.joinable()) {
      const std::uint64_t one = 1;
      (void)!write(done_, &one, sizeof one);
      thread_.join();
    }
    if (done_ >= 0) {
      close(done_);
      done_ = -1;
    }
  }
  Stop stop() const { return stop_.load(); }

private:
  const Watch& watch_;
  int done_ = -1;
  std::atomic<Stop> stop_{Stop::none};
  std::thread thread_;
};

class StatementHandle {
public:
  explicit StatementHandle(SQLHDBC dbc) {
    if (!succeeded(SQLAllocHandle(SQL_HANDLE_STMT, dbc, &handle_))) {
      handle_ = SQL_NULL_HSTMT;
    }
  }
  ~StatementHandle() {
    if (handle_ != SQL_NULL_HSTMT) {
      SQLFreeHandle(SQL_HANDLE_STMT, handle_);
    }
  }
  StatementHandle(const StatementHandle&) = delete;
  StatementHandle& operator=(const StatementHandle&) = delete;
  SQLHSTMT get() const { return handle_; }

private:
  SQLHSTMT handle_ = SQL_NULL_HSTMT;
};

enum class Kind { integer, floating, text };

Kind kind_of(SQLSMALLINT type) {
  switch (type) {
  case SQL_TINYINT:
  case SQL_SMALLINT:
  case SQL_INTEGER:
  case SQL_BIGINT:
    return Kind::integer;
  case SQL_REAL:
  case SQL_FLOAT:
  case SQL_DOUBLE:
    return Kind::floating;
  default:
    return Kind::text;
  }
}

class OdbcConnection : public Connection {
public:
  OdbcConnection(SQLHENV env, SQLHDBC dbc, std::optional<std::string> password)
      : env_(env), dbc_(dbc), password_(std::move(password)) {}
  ~OdbcConnection() override {
    SQLDisconnect(dbc_);
    SQLFreeHandle(SQL_HANDLE_DBC, dbc_);
    SQLFreeHandle(SQL_HANDLE_ENV, env_);
  }
  OdbcConnection(const OdbcConnection&) = delete;
  OdbcConnection& operator=(const OdbcConnection&) = delete;

  base::Result<Result> run(std::string_view script, const std::vector<Param>& params,
                           const Options& options) override {
    auto statements = split_script(script, PlaceholderStyle::question);
    if (!statements) {
      return statements.error();
    }
    Watch watch(options);
    Result result;
    RowCollector rows(result, options);
    if (options.transaction) {
      if (!succeeded(SQLSetConnectAttr(dbc_, SQL_ATTR_AUTOCOMMIT,
                                       reinterpret_cast<SQLPOINTER>(SQL_AUTOCOMMIT_OFF), 0))) {
        return make_error("cannot begin the transaction: " + message(SQL_HANDLE_DBC, dbc_));
      }
    }
    const bool several = statements->size() > 1;
    for (const auto& statement : *statements) {
      if (auto error = execute(statement, params, rows, result, watch)) {
        std::optional<std::string> rollback_error;
        if (options.transaction) {
          rollback_error = end_transaction(SQL_ROLLBACK);
        }
        return make_error(statement_failure(statement.number, statement.first_line, several,
                                            options.transaction, *error, rollback_error));
      }
      ++result.statements;
    }
    if (options.transaction) {
      if (auto error = end_transaction(SQL_COMMIT)) {
        auto rollback_error = end_transaction(SQL_ROLLBACK);
        return make_error("COMMIT failed: " + *error +
                          (rollback_error ? "; the rollback failed too: " + *rollback_error
                                          : "; the transaction was rolled back"));
      }
    }
    return result;
  }

  std::string server_version() override { return info(SQL_DBMS_NAME) + " " + info(SQL_DBMS_VER); }

private:
  std::string message(SQLSMALLINT type, SQLHANDLE handle) const {
    return clean_message(diagnostics(type, handle), password_);
  }

  std::string info(SQLUSMALLINT what) {
    SQLCHAR buffer[256] = {};
    SQLSMALLINT length = 0;
    if (!succeeded(
            SQLGetInfo(dbc_, what, buffer, static_cast<SQLSMALLINT>(sizeof buffer), &length))) {
      return "unknown";
    }
    return reinterpret_cast<const char*>(buffer);
  }

  // Commits or rolls back, and goes back to autocommit; the error message or nothing.
  std::optional<std::string> end_transaction(SQLSMALLINT how) {
    std::optional<std::string> error;
    if (!succeeded(SQLEndTran(SQL_HANDLE_DBC, dbc_, how))) {
      error = message(SQL_HANDLE_DBC, dbc_);
    }
    if (!error || how == SQL_ROLLBACK) {
      SQLSetConnectAttr(dbc_, SQL_ATTR_AUTOCOMMIT, reinterpret_cast<SQLPOINTER>(SQL_AUTOCOMMIT_ON),
                        0);
    }
    return error;
  }

  std::optional<std::string> execute(const sql::Statement& statement,
                                     const std::vector<Param>& params, RowCollector& rows,
                                     Result& result, const Watch& watch) {
    StatementHandle stmt(dbc_);
    if (stmt.get() == SQL_NULL_HSTMT) {
      return message(SQL_HANDLE_DBC, dbc_);
    }
    std::vector<SQLLEN> indicators(statement.names.size());
    for (size_t i = 0; i < statement.names.size(); ++i) {
      const Param* param = find_param(params, statement.names[i]);
      if (param == nullptr) {
        return missing_param(statement.names[i], params);
      }
      const auto size = static_cast<SQLULEN>(param->value ? param->value->size() : 0);
      indicators[i] = param->value ? static_cast<SQLLEN>(size) : SQL_NULL_DATA;
      auto* data = param->value ? const_cast<char*>(param->value->data()) : nullptr;
      const SQLRETURN rc = SQLBindParameter(
          stmt.get(), static_cast<SQLUSMALLINT>(i + 1), SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR,
          std::max<SQLULEN>(size, 1), 0, data, static_cast<SQLLEN>(size), &indicators[i]);
      if (!succeeded(rc)) {
        return message(SQL_HANDLE_STMT, stmt.get());
      }
    }
    if (const Stop stop = watch.check(); stop != Stop::none) {
      return watch.message(stop);
    }
    if (watch.deadline()) {
      // The driver's own timeout as well, in whole seconds, in case SQLCancel is not enough.
      const int left_ms = watch.poll_timeout();
      const auto seconds = static_cast<SQLULEN>((left_ms + 999) / 1000 + 1);
      SQLSetStmtAttr(stmt.get(), SQL_ATTR_QUERY_TIMEOUT, reinterpret_cast<SQLPOINTER>(seconds), 0);
    }
    Canceller canceller(stmt.get(), watch);
    const auto stopped = [&]() -> std::optional<std::string> {
      canceller.finish();
      Stop stop = canceller.stop();
      if (stop == Stop::none) {
        stop = watch.check();
      }
      if (stop != Stop::none || has_state(SQL_HANDLE_STMT, stmt.get(), "HY008")) {
        return watch.message(stop == Stop::none ? Stop::timeout : stop);
      }
      return std::nullopt;
    };
    auto text = statement.text;
    SQLRETURN rc = SQLExecDirect(stmt.get(), reinterpret_cast<SQLCHAR*>(text.data()),
                                 static_cast<SQLINTEGER>(text.size()));
    if (rc == SQL_NO_DATA) {
      return std::nullopt; // an UPDATE or DELETE that matched nothing
    }
    if (!succeeded(rc)) {
      if (auto why = stopped()) {
        return why;
      }
      return message(SQL_HANDLE_STMT, stmt.get());
    }
    SQLSMALLINT columns = 0;
    SQLNumResultCols(stmt.get(), &columns);
    if (columns == 0) {
      SQLLEN count = 0;
      if (succeeded(SQLRowCount(stmt.get(), &count)) && count > 0) {
        result.affected += count;
      }
      return std::nullopt;
    }
    std::vector<Kind> kinds;
    std::vector<std::string> names;
    for (SQLSMALLINT c = 1; c <= columns; ++c) {
      SQLCHAR name[512] = {};
      SQLSMALLINT name_length = 0, type = 0, digits = 0, nullable = 0;
      SQLULEN size = 0;
      SQLDescribeCol(stmt.get(), static_cast<SQLUSMALLINT>(c), name,
                     static_cast<SQLSMALLINT>(sizeof name), &name_length, &type, &size, &digits,
                     &nullable);
      names.emplace_back(reinterpret_cast<const char*>(name));
      kinds.push_back(kind_of(type));
    }
    rows.start(std::move(names));
    while (succeeded(rc = SQLFetch(stmt.get()))) {
      if (!rows.want_row()) {
        continue;
      }
      std::vector<nlohmann::json> row;
      for (SQLSMALLINT c = 1; c <= columns; ++c) {
        auto value = get_value(stmt.get(), static_cast<SQLUSMALLINT>(c), kinds[c - 1]);
        if (!value) {
          if (auto why = stopped()) {
            return why;
          }
          return message(SQL_HANDLE_STMT, stmt.get());
        }
        row.push_back(std::move(*value));
      }
      rows.add(std::move(row));
    }
    if (rc != SQL_NO_DATA) {
      if (auto why = stopped()) {
        return why;
      }
      return message(SQL_HANDLE_STMT, stmt.get());
    }
    return std::nullopt;
  }

  // The value of a column of the fetched row; nothing on an error (diagnostics on the handle).
  static std::optional<nlohmann::json> get_value(SQLHSTMT stmt, SQLUSMALLINT column, Kind kind) {
    SQLLEN indicator = 0;
    if (kind == Kind::integer) {
      SQLBIGINT n = 0;
      if (!succeeded(SQLGetData(stmt, column, SQL_C_SBIGINT, &n, sizeof n, &indicator))) {
        return std::nullopt;
      }
      return indicator == SQL_NULL_DATA ? nlohmann::json() : nlohmann::json(std::int64_t{n});
    }
    if (kind == Kind::floating) {
      double d = 0;
      if (!succeeded(SQLGetData(stmt, column, SQL_C_DOUBLE, &d, sizeof d, &indicator))) {
        return std::nullopt;
      }
      return indicator == SQL_NULL_DATA ? nlohmann::json() : nlohmann::json(d);
    }
    std::string text;
    char buffer[4096];
    while (true) {
      const SQLRETURN rc = SQLGetData(stmt, column, SQL_C_CHAR, buffer, sizeof buffer, &indicator);
      if (rc == SQL_NO_DATA) {
        break;
      }
      if (!succeeded(rc)) {
        return std::nullopt;
      }
      if (indicator == SQL_NULL_DATA) {
        return nlohmann::json();
      }
      if (rc == SQL_SUCCESS) {
        // The whole (rest of the) value fitted; indicator is its length.
        text.append(buffer, static_cast<size_t>(indicator));
        break;
      }
      // Truncated: the buffer is full but for its terminating NUL.
      text.append(buffer, sizeof buffer - 1);
    }
    return nlohmann::json(std::move(text));
  }

  SQLHENV env_;
  SQLHDBC dbc_;
  std::optional<std::string> password_;
};

// `value` as an ODBC connection string attribute value: in braces, '}' doubled.
std::string braced(const std::string& value) {
  std::string out = "{";
  for (char c : value) {
    out += c;
    if (c == '}') {
      out += '}';
    }
  }
  return out + "}";
}

} // namespace

base::Result<std::unique_ptr<Connection>> connect_odbc(const ConnectionSpec& spec) {
  const std::string label = spec.name.empty() ? std::string("ODBC") : spec.name;
  SQLHENV env = SQL_NULL_HENV;
  if (!succeeded(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env))) {
    return make_error("cannot connect to " + label + ": cannot allocate an ODBC environment");
  }
  SQLSetEnvAttr(env, SQL_ATTR_ODBC_VERSION, reinterpret_cast<SQLPOINTER>(SQL_OV_ODBC3), 0);
  SQLHDBC dbc = SQL_NULL_HDBC;
  if (!succeeded(SQLAllocHandle(SQL_HANDLE_DBC, env, &dbc))) {
    std::string message = diagnostics(SQL_HANDLE_ENV, env);
    SQLFreeHandle(SQL_HANDLE_ENV, env);
    return make_error("cannot connect to " + label + ": " + message);
  }
  const auto seconds = static_cast<SQLULEN>(std::max<std::int64_t>(
      std::chrono::ceil<std::chrono::seconds>(spec.connect_timeout).count(), 1));
  SQLSetConnectAttr(dbc, SQL_ATTR_LOGIN_TIMEOUT, reinterpret_cast<SQLPOINTER>(seconds), 0);
  std::string target = spec.target;
  if (spec.password) {
    while (!target.empty() && (target.back() == ';' || target.back() == ' ')) {
      target.pop_back();
    }
    target += ";PWD=" + braced(*spec.password) + ";";
  }
  SQLCHAR out[1024];
  SQLSMALLINT out_length = 0;
  const SQLRETURN rc =
      SQLDriverConnect(dbc, nullptr, reinterpret_cast<SQLCHAR*>(target.data()),
                       static_cast<SQLSMALLINT>(target.size()), out,
                       static_cast<SQLSMALLINT>(sizeof out), &out_length, SQL_DRIVER_NOPROMPT);
  if (!succeeded(rc)) {
    std::string message = clean_message(diagnostics(SQL_HANDLE_DBC, dbc), spec.password);
    SQLFreeHandle(SQL_HANDLE_DBC, dbc);
    SQLFreeHandle(SQL_HANDLE_ENV, env);
    return make_error("cannot connect to " + label + ": " + message);
  }
  return std::unique_ptr<Connection>(new OdbcConnection(env, dbc, spec.password));
}

} // namespace detail

} // namespace sql
