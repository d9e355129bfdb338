#include <sql/driver.hpp>
#include <sql/script.hpp>
#include <sql/sql.hpp>

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace sql {

namespace detail {

namespace {

// Type OIDs from catalog/pg_type.h (a server header).
constexpr Oid bool_oid = 16;
constexpr Oid int8_oid = 20;
constexpr Oid int2_oid = 21;
constexpr Oid int4_oid = 23;
constexpr Oid oid_oid = 26;
constexpr Oid float4_oid = 700;
constexpr Oid float8_oid = 701;

// How long a cancelled statement may take to give its error back before the connection is
// given up on.
constexpr int drain_ms = 5000;

nlohmann::json value_of(const PGresult* res, int row, int column) {
  if (PQgetisnull(res, row, column) != 0) {
    return nullptr;
  }
  const char* text = PQgetvalue(res, row, column);
  const std::string value(text, static_cast<size_t>(PQgetlength(res, row, column)));
  switch (PQftype(res, column)) {
  case int2_oid:
  case int4_oid:
  case int8_oid:
  case oid_oid: {
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(value.c_str(), &end, 10);
    if (errno == 0 && end != nullptr && *end == '\0') {
      return static_cast<std::int64_t>(n);
    }
    return value;
  }
  case float4_oid:
  case float8_oid: {
    char* end = nullptr;
    const double d = std::strtod(value.c_str(), &end);
    // NaN and Infinity have no JSON number: they stay text.
    if (end != nullptr && *end == '\0' && std::isfinite(d)) {
      return d;
    }
    return value;
  }
  default:
    (void)bool_oid;
    return value;
  }
}

// libpq's message on one line: "...failed: Connection refused Is the server running ...?".
std::string one_line(std::string message) {
  std::string out;
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n') {
      while (i + 1 < message.size() && (message[i + 1] == '\t' || message[i + 1] == ' ')) {
        ++i;
      }
      out += ' ';
    } else {
      out += message[i];
    }
  }
  return out;
}

std::string result_message(const PGresult* res, PGconn* conn) {
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (primary != nullptr) {
    return primary;
  }
  const char* message = res != nullptr ? PQresultErrorMessage(res) : "";
  if (message[0] == '\0') {
    message = PQerrorMessage(conn);
  }
  std::string out = message;
  if (out.rfind("ERROR:  ", 0) == 0) {
    out.erase(0, 8);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  return one_line(out);
}

std::string label(const ConnectionSpec& spec) {
  return spec.name.empty() ? std::string("PostgreSQL") : spec.name;
}

// Library code does not print: libpq's default writes NOTICEs to stderr.
void ignore_notice(void*, const char*) {}

base::Result<PGconn*> open(const ConnectionSpec& spec) {
  const auto timeout_s = std::chrono::ceil<std::chrono::seconds>(spec.connect_timeout).count();
  const std::string timeout = std::to_string(std::max<std::int64_t>(timeout_s, 1));
  // expand_dbname: the target may be a conninfo string or a URL; the keywords after it win.
  std::vector<const char*> keywords = {"dbname", "connect_timeout", "client_encoding"};
  std::vector<const char*> values = {spec.target.c_str(), timeout.c_str(), "UTF8"};
  if (spec.password) {
    keywords.push_back("password");
    values.push_back(spec.password->c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), 1);
  if (conn == nullptr) {
    return make_error("cannot connect to " + label(spec) + ": out of memory");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = one_line(clean_message(PQerrorMessage(conn), spec.password));
    PQfinish(conn);
    return make_error("cannot connect to " + label(spec) + ": " + message);
  }
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  return conn;
}

class PostgresConnection : public Connection {
public:
  PostgresConnection(PGconn* conn, ConnectionSpec spec)
      : conn_(conn), spec_(std::move(spec)), password_(spec_.password) {}
  ~PostgresConnection() override { PQfinish(conn_); }
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  base::Result<Result> run(std::string_view script, const std::vector<Param>& params,
                           const Options& options) override {
    if (auto error = reconnect()) {
      return *error;
    }
    auto statements = split_script(script, PlaceholderStyle::numbered);
    if (!statements) {
      return statements.error();
    }
    Watch watch(options);
    Result result;
    RowCollector rows(result, options);
    const Options plain;
    const Watch no_watch(plain);
    if (options.transaction) {
      if (auto error = execute("BEGIN", {}, params, nullptr, result, no_watch)) {
        return make_error("cannot begin the transaction: " + *error);
      }
    }
    const bool several = statements->size() > 1;
    for (const auto& statement : *statements) {
      if (auto error = execute(statement.text, statement.names, params, &rows, result, watch)) {
        std::optional<std::string> rollback_error;
        // A connection given up on needs no rollback: the server rolls back as it closes.
        if (options.transaction && conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK &&
            PQtransactionStatus(conn_) != PQTRANS_IDLE) {
          rollback_error = execute("ROLLBACK", {}, params, nullptr, result, no_watch);
        }
        return make_error(statement_failure(statement.number, statement.first_line, several,
                                            options.transaction, *error, rollback_error));
      }
      ++result.statements;
    }
    if (options.transaction) {
      if (auto error = execute("COMMIT", {}, params, nullptr, result, watch)) {
        std::optional<std::string> rollback_error;
        if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK &&
            PQtransactionStatus(conn_) != PQTRANS_IDLE) {
          rollback_error = execute("ROLLBACK", {}, params, nullptr, result, no_watch);
        }
        return make_error("COMMIT failed: " + *error +
                          (rollback_error ? "; the rollback failed too: " + *rollback_error
                                          : "; the transaction was rolled back"));
      }
    }
    return result;
  }

  std::string server_version() override {
    if (reconnect()) {
      return "PostgreSQL";
    }
    const int v = PQserverVersion(conn_);
    if (v >= 100000) {
      return "PostgreSQL " + std::to_string(v / 10000) + "." + std::to_string(v % 10000);
    }
    return "PostgreSQL " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
           std::to_string(v % 100);
  }

private:
  // A connection given up on after a statement that would not stop, or lost, is opened again.
  std::optional<base::Error> reconnect() {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) {
      return std::nullopt;
    }
    PQfinish(conn_);
    conn_ = nullptr;
    auto conn = open(spec_);
    if (!conn) {
      return conn.error();
    }
    conn_ = *conn;
    return std::nullopt;
  }

  // Runs one statement; the error message, or nothing. `rows` null: rows are not read.
  std::optional<std::string> execute(const std::string& text, const std::vector<std::string>& names,
                                     const std::vector<Param>& params, RowCollector* rows,
                                     Result& result, const Watch& watch) {
    std::vector<const char*> values;
    for (const auto& name : names) {
      const Param* param = find_param(params, name);
      if (param == nullptr) {
        return missing_param(name, params);
      }
      values.push_back(param->value ? param->value->c_str() : nullptr);
    }
    if (const Stop stop = watch.check(); stop != Stop::none) {
      return watch.message(stop);
    }
    if (PQsendQueryParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0) == 0) {
      return one_line(clean_message(PQerrorMessage(conn_), password_));
    }
    // Rows one at a time, so that only max_rows of them are ever held.
    PQsetSingleRowMode(conn_);
    std::optional<std::string> error;
    bool started = false;
    while (true) {
      if (auto wait_error = wait(watch)) {
        return wait_error;
      }
      PGresult* res = PQgetResult(conn_);
      if (res == nullptr) {
        break;
      }
      switch (PQresultStatus(res)) {
      case PGRES_SINGLE_TUPLE:
      case PGRES_TUPLES_OK: {
        if (!started && rows != nullptr) {
          std::vector<std::string> columns;
          for (int c = 0; c < PQnfields(res); ++c) {
            columns.emplace_back(PQfname(res, c));
          }
          rows->start(std::move(columns));
          started = true;
        }
        for (int r = 0; rows != nullptr && r < PQntuples(res); ++r) {
          if (rows->want_row()) {
            std::vector<nlohmann::json> row;
            for (int c = 0; c < PQnfields(res); ++c) {
              row.push_back(value_of(res, r, c));
            }
            rows->add(std::move(row));
          }
        }
        add_affected(res, result);
        break;
      }
      case PGRES_COMMAND_OK:
        add_affected(res, result);
        break;
      case PGRES_EMPTY_QUERY:
        break;
      default:
        if (!error) {
          error = result_message(res, conn_);
        }
        break;
      }
      PQclear(res);
    }
    return error;
  }

  static void add_affected(const PGresult* res, Result& result) {
    const std::string status = PQcmdStatus(const_cast<PGresult*>(res));
    if (status.rfind("INSERT", 0) == 0 || status.rfind("UPDATE", 0) == 0 ||
        status.rfind("DELETE", 0) == 0 || status.rfind("MERGE", 0) == 0) {
      result.affected += std::atoll(PQcmdTuples(const_cast<PGresult*>(res)));
    }
  }

  // Waits until a result can be read without blocking. When the watch says stop, cancels the
  // statement on the server, reads what is left, and says why.
  std::optional<std::string> wait(const Watch& watch) {
    while (true) {
      if (PQflush(conn_) < 0 || PQconsumeInput(conn_) == 0) {
        return one_line(clean_message(PQerrorMessage(conn_), password_));
      }
      if (PQisBusy(conn_) == 0) {
        return std::nullopt;
      }
      if (const Stop stop = watch.check(); stop != Stop::none) {
        cancel();
        return watch.message(stop);
      }
      pollfd fds[2] = {{PQsocket(conn_), POLLIN, 0}, {watch.cancel_fd(), POLLIN, 0}};
      const int n = poll(fds, watch.cancel_fd() >= 0 ? 2 : 1, watch.poll_timeout());
      if (n < 0 && errno != EINTR) {
        return std::string("poll: ") + std::strerror(errno);
      }
    }
  }

  // Asks the server to stop the running statement and reads its results away, so that the
  // connection can take the next statement. When that does not come in time the connection is
  // closed, which ends the backend's statement too.
  void cancel() {
    if (PGcancel* handle = PQgetCancel(conn_)) {
      char buffer[256];
      PQcancel(handle, buffer, sizeof buffer);
      PQfreeCancel(handle);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms);
    while (true) {
      if (PQconsumeInput(conn_) == 0) {
        break;
      }
      if (PQisBusy(conn_) == 0) {
        PGresult* res = PQgetResult(conn_);
        if (res == nullptr) {
          return;
        }
        PQclear(res);
        continue;
      }
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
              .count();
      if (left <= 0) {
        break;
      }
      pollfd fd = {PQsocket(conn_), POLLIN, 0};
      if (poll(&fd, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
        break;
      }
    }
    PQfinish(conn_);
    conn_ = nullptr;
  }

  PGconn* conn_;
  ConnectionSpec spec_;
  std::optional<std::string> password_;
};

} // namespace

base::Result<std::unique_ptr<Connection>> connect_postgresql(const ConnectionSpec& spec) {
  auto conn = open(spec);
  if (!conn) {
    return conn.error();
  }
  return std::unique_ptr<Connection>(new PostgresConnection(*conn, spec));
}

} // namespace detail

} // namespace sql
