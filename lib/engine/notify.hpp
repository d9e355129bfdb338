#pragma once

// A job's notifications (notify.on_failure, on_success, on_retry; jobs(5)): an email through
// the config's SMTP server, a webhook receiving a JSON summary, or a command reading that
// summary on its standard input. A notification that fails is reported, never changes the
// execution's status.

#include <engine/integrations.hpp>
#include <engine/result.hpp>
#include <exec/process.hpp>
#include <jobs/model.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace engine {

enum class NotifyEvent { failure, success, retry };

// "on_failure", "on_success", "on_retry".
const char* to_string(NotifyEvent e);

// The event an attempt's final status calls for: success -> success; failed, timeout and
// partial_success -> failure; the others (cancelled, interrupted, skipped) none.
std::optional<NotifyEvent> notify_event(Status final_status);

// What became of one notification.
struct Notified {
  NotifyEvent event = NotifyEvent::failure;
  std::string channel; // email, webhook, command
  std::string target;  // addresses, URL (without credentials) or command, secrets as ***
  std::string error;   // empty: sent
};

// The summary a webhook receives and a command reads: event, the execution's fields (as
// `jobsctl run --json` names them), its steps, and JobResult::failed_step() with the tail of
// its output (failed_step, null when none failed); retry_in_seconds for on_retry.
nlohmann::json notification_payload(NotifyEvent event, const JobResult& result,
                                    std::optional<std::chrono::milliseconds> retry_in = {});

// The last `max_lines` lines of `text`, at most `max_bytes`.
std::string tail_lines(const std::string& text, size_t max_lines = 40, size_t max_bytes = 4096);

struct NotifyContext {
  const jobs::JobDefinition& job;
  const JobResult& result;
  NotifyEvent event;
  std::optional<std::chrono::milliseconds> retry_in;
  const Integrations* integrations = nullptr; // smtp for email; null: none configured
  // The value of a variable of a notification's text (${secret.X}, ${env.X}, ${job.*}).
  std::function<std::string(const std::string&)> value;
  std::map<std::string, std::string> secrets; // values to replace by *** in what is reported
  exec::CancelToken* cancel = nullptr;
  // A command's environment, before JOBS_NOTIFY_EVENT and JOB_*: the runner's with the job's env.
  std::vector<std::pair<std::string, std::string>> environment;
};

// Sends every notification of the job for `c.event`, one after the other; one Notified each.
std::vector<Notified> send_notifications(const NotifyContext& c);

} // namespace engine
