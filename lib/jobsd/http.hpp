#pragma once

// The HTTP listener (man/jobsd.8, HTTP API): libmicrohttpd in its external event-loop mode, so
// that it lives in jobsd's one loop. Its epoll fd is in the loop's epoll set, MHD_run runs when
// it is readable or its timeout comes, and an idle listener asks for no wake-up at all. Each API
// request becomes a request of the control socket's command table through a bridge (a socket
// pair whose other end is an ordinary control connection carrying the token's principal); the
// MHD connection is suspended while the bridge has nothing to read.

#include <base/error.hpp>
#include <ipc/protocol.hpp>
#include <jobsd/config.hpp>
#include <jobsd/tokens.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

struct MHD_Daemon;

namespace spdlog {
class logger;
}

namespace jobsd {

// Who sends an HTTP request: a token's name, role and glob; an empty name: nobody signed in.
struct Principal {
  std::string token;
  Role role = Role::viewer;
  std::string jobs;
  std::string address; // the client's, for the audit log
};

// What the listener needs of the daemon.
struct HttpHooks {
  // Runs `request` for `who` through a new bridge; returns the listener's end (non-blocking)
  // from which the reply and the events come as lines, or -1.
  std::function<int(const Principal& who, const ipc::Request& request)> call;
  // Adds `fd` to the loop's epoll set (for reading), or removes it.
  std::function<void(int fd, bool add)> watch;
  // Records a refused mutating request of a valid token that never reached a command (400, 413,
  // 415, 422, 429 of its manual runs).
  std::function<void(const Principal& who, const std::string& action, const std::string& target,
                     const std::string& outcome)>
      audit;
  std::function<const Token*(std::string_view text)> token;
  spdlog::logger* log = nullptr;
  std::string version;
};

class HttpServer {
public:
  HttpServer(HttpConfig config, HttpHooks hooks);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Checks the configuration (a non-loopback address without TLS needs allow_plaintext),
  // binds the address and starts serving.
  base::Result<bool> start();
  // Reads the certificate and key again (SIGHUP): a new MHD daemon takes the listening socket;
  // the old one finishes the connections it has.
  base::Result<bool> reload_tls();

  // Handles a readable fd of the loop's epoll set; false: not one of the listener's.
  bool on_event(int fd);
  // The steady ms at which run_due() has something to do; none: nothing until an fd is ready.
  std::optional<std::int64_t> deadline() const;
  // Lets MHD handle its timeouts and sends the keepalives that are due.
  void run_due();

  // The address it listens on ("127.0.0.1:8080", "unix:/run/jobs.sock").
  const std::string& address() const { return config_.listen; }

  struct Exchange;

private:
  struct Instance; // one MHD daemon
  // The certificate's and the key's PEM.
  base::Result<std::pair<std::string, std::string>> read_tls() const;
  // An MHD daemon serving `fd` (-1: no socket, to try a certificate and key), or null.
  MHD_Daemon* start_daemon(int fd, const std::string& cert, const std::string& key);
  // A new instance on listen_fd_ with cert_ and key_.
  base::Result<bool> open_instance();
  void run(Instance& i);
  void forget(Exchange& x);
  // A mutating request of nobody signed in, refused before any command (401, 404, 405, 429):
  // not audited (anybody could fill the table) but told in jobsd.log, at once, then at most
  // once a minute per client address with a count (`all`: what is not told yet, at stop).
  void refused(const std::string& address, const std::string& why);
  void report_refusals(bool all);

  friend struct HttpCallbacks;

  HttpConfig config_;
  HttpHooks hooks_;
  bool tls_ = false;
  std::string cert_, key_; // PEM, as served by the newest instance
  int listen_fd_ = -1;
  std::vector<std::unique_ptr<Instance>> instances_; // the last one accepts; older ones drain
  std::map<int, Exchange*> bridges_;                 // by the listener's end of the bridge
  std::set<Exchange*> streams_;                      // open event streams, for keepalives
  // Wrong tokens by client address in the minute from its first one.
  struct Failures {
    std::int64_t window_start = 0; // steady ms
    int count = 0;
  };
  std::map<std::string, Failures> failures_;
  std::int64_t failures_pruned_ms_ = 0; // steady ms failures_ was last rid of closed windows
  struct Refusals {
    int count = 0;                // not told yet
    std::int64_t reported_ms = 0; // steady ms it was last told
    std::string why;              // the last one
  };
  std::map<std::string, Refusals> refusals_;                    // by client address
  std::map<std::string, std::deque<std::int64_t>> manual_runs_; // token -> steady ms, last hour
};

} // namespace jobsd
