#pragma once

// The client side of the control protocol (protocol.hpp), for jobsctl and the tests: connect,
// read the daemon's hello, send requests and read their events and replies. Blocking.

#include <base/error.hpp>
#include <ipc/protocol.hpp>

#include <chrono>
#include <csignal>
#include <functional>
#include <string>

namespace ipc {

// The outcome of one request: its result, or the daemon's error code and message.
struct Reply {
  Json result;
  std::string code; // empty: success
  std::string message;

  bool ok() const { return code.empty(); }
};

class Client {
public:
  // Connects to the daemon's socket and reads its hello. When nothing listens there the error
  // is "jobsd is not running (no socket at PATH)"; `not_running()` tells that case apart.
  static base::Result<Client> connect(const std::string& socket_path,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  ~Client();

  // The daemon's hello: {"hello":"jobsd","v":1,"version":...,"capabilities":[...],...}
  const Json& hello() const { return hello_; }

  // Sends one request and waits for its reply; events that come before it go to `on_event`.
  // `timeout` bounds each wait for a message (zero: no bound, for follow modes). Transport
  // failures (the daemon went away, a garbled line, the timeout) are errors.
  base::Result<Reply> call(const std::string& cmd, const Json& args = Json::object(),
                           const std::function<void(const Json&)>& on_event = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Makes a wait that a signal interrupts fail ("interrupted") once *flag is set (by the
  // signal's handler), instead of going on.
  void stop_on(const volatile std::sig_atomic_t* flag) { stop_ = flag; }

  // Whether a failed connect() found no daemon (as opposed to, say, a permission problem).
  static bool not_running(const base::Error& e);

private:
  Client() = default;
  base::Result<Json> read_message(std::chrono::milliseconds timeout);

  int fd_ = -1;
  std::string path_;
  std::string buffer_;
  Json hello_;
  std::int64_t next_id_ = 1;
  const volatile std::sig_atomic_t* stop_ = nullptr;
};

} // namespace ipc
