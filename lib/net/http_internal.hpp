#pragma once

// Shared by the net module's own files; not part of its interface.

#include <exec/process.hpp>
#include <net/http.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace net::detail {

using LogSink = std::function<void(const std::string&)>;

// send(), with the attempt lines and the retry lines going to separate sinks (either may be
// empty), so that a poller can keep quiet about attempts that went well.
Exchange send(const Request& request, const StatusSet& expect, const Retry& retry,
              exec::CancelToken* cancel, const LogSink& attempt_log, const LogSink& retry_log);

// Waits `d`, or less when `cancel` fires. False when it was cancelled.
bool wait_or_cancel(std::chrono::milliseconds d, exec::CancelToken* cancel);

} // namespace net::detail
