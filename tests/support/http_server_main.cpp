// test_http_server [--port-file F] [--log F]: the test HTTP server (support/http_server.hpp) as
// a program, for integration tests. Writes its port to F (whole, by a rename), prints
// "listening on PORT", logs each request as one JSON line, and runs until SIGTERM or SIGINT.

#include "support/http_server.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>

int main(int argc, char** argv) {
  std::string port_file;
  std::string log_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--port-file" || arg == "--log") && i + 1 < argc) {
      (arg == "--port-file" ? port_file : log_file) = argv[++i];
    } else {
      std::cerr << "usage: test_http_server [--port-file FILE] [--log FILE]\n";
      return 2;
    }
  }

  // Blocked before any thread starts, so that only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    std::mutex log_mutex;
    std::ofstream log;
    if (!log_file.empty()) {
      log.open(log_file, std::ios::app);
      if (!log) {
        std::cerr << "test_http_server: cannot open " << log_file << "\n";
        return 1;
      }
    }
    test::TestHttpServer::Options options;
    if (!log_file.empty()) {
      options.on_request = [&](const test::ReceivedRequest& r) {
        std::lock_guard lock(log_mutex);
        log << r.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        log.flush();
      };
    }
    test::TestHttpServer server(options);

    if (!port_file.empty()) {
      std::string tmp = port_file + ".tmp";
      {
        std::ofstream out(tmp, std::ios::trunc);
        out << server.port() << "\n";
        if (!out.flush()) {
          std::cerr << "test_http_server: cannot write " << tmp << "\n";
          return 1;
        }
      }
      if (std::rename(tmp.c_str(), port_file.c_str()) != 0) {
        std::cerr << "test_http_server: cannot rename " << tmp << " to " << port_file << "\n";
        return 1;
      }
    }
    std::cout << "listening on " << server.port() << std::endl;

    int sig = 0;
    sigwait(&stop_signals, &sig);
  } catch (const std::exception& e) {
    std::cerr << "test_http_server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
