#pragma once

// What the drivers share: opening each kind of connection, the watch over the timeout and the
// cancel token, collecting rows, and the wording of errors.

#include <sql/sql.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sql::detail {

// Opens a connection of the spec's driver.
base::Result<std::unique_ptr<Connection>> connect_sqlite(const ConnectionSpec& spec);
base::Result<std::unique_ptr<Connection>> connect_postgresql(const ConnectionSpec& spec);
base::Result<std::unique_ptr<Connection>> connect_odbc(const ConnectionSpec& spec);

// Why a statement is being stopped.
enum class Stop { none, timeout, cancel };

// The deadline and cancel token of one run.
class Watch {
public:
  explicit Watch(const Options& options);
  // Whether the run must stop now, and why.
  Stop check() const;
  // Milliseconds until the deadline, rounded up, for poll(); -1 when there is none.
  int poll_timeout() const;
  // The token's fd, readable once cancelled; -1 when there is no token.
  int cancel_fd() const;
  // The deadline, when there is one.
  std::optional<std::chrono::steady_clock::time_point> deadline() const { return deadline_; }
  // "timed out after 300ms", "cancelled".
  std::string message(Stop stop) const;

private:
  std::optional<std::chrono::milliseconds> timeout_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  exec::CancelToken* cancel_;
};

// Keeps the rows of the statement being read as Options say.
class RowCollector {
public:
  RowCollector(Result& result, const Options& options) : result_(result), options_(options) {}
  // A statement that returns rows starts: it replaces the rows of earlier statements.
  void start(std::vector<std::string> columns);
  // Counts one more row; true when its values are to be added with add().
  bool want_row();
  void add(std::vector<nlohmann::json> row) { result_.rows.push_back(std::move(row)); }

private:
  Result& result_;
  const Options& options_;
};

// The param named `name`, or nullptr.
const Param* find_param(const std::vector<Param>& params, std::string_view name);

// "parameter :day is not given; params has: a, b".
std::string missing_param(std::string_view name, const std::vector<Param>& params);

// The message of a failed statement: `message` alone for a lone statement outside a
// transaction, else "statement 2 (first line): message", and in a transaction "; the
// transaction was rolled back" (or why the rollback failed too).
std::string statement_failure(int number, std::string_view first_line, bool several,
                              bool transaction, const std::string& message,
                              const std::optional<std::string>& rollback_error);

// `message` without trailing blanks, and with the password, if any, replaced by "***".
std::string clean_message(std::string message, const std::optional<std::string>& password);

// An Error with only a message.
base::Error make_error(std::string message);

} // namespace sql::detail
