#include <engine/executor.hpp>
#include <engine/integrations.hpp>
#include <engine/notify.hpp>
#include <jobs/variables.hpp>
#include <mail/smtp.hpp>
#include <net/http.hpp>

namespace engine {

namespace {

// The payload as JSON text; a step's output that is not UTF-8 gets U+FFFD, never an exception.
std::string payload_text(const NotifyContext& c) {
  return notification_payload(c.event, c.result, c.retry_in)
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string status_words(const NotifyContext& c) {
  switch (c.event) {
  case NotifyEvent::success:
    return "succeeded";
  case NotifyEvent::retry:
    return std::string(to_string(c.result.status)) + ", attempt " +
           std::to_string(c.result.attempt) + " retried in " +
           net::format_wait(c.retry_in.value_or(std::chrono::milliseconds(0)));
  case NotifyEvent::failure:
    break;
  }
  return to_string(c.result.status);
}

std::string email_body(const NotifyContext& c) {
  const JobResult& r = c.result;
  std::string body =
      "Job:        " + r.job_id + (r.job_name != r.job_id ? " (" + r.job_name + ")" : "") +
      "\nStatus:     " + status_words(c) + "\nExecution:  " + r.execution_id + " (attempt " +
      std::to_string(r.attempt) + ", trigger " + r.trigger + ")" + "\nHost:       " + r.host +
      "\nStarted:    " + iso_time(r.start) + "\nEnded:      " + iso_time(r.end) + "\n";
  if (!r.error_message.empty()) {
    body += "Error:      " + r.error_message + "\n";
  }
  body += "\nSteps:\n";
  for (const auto& s : r.steps) {
    body += "  " + s.step_id + " (" + s.step_type + "): " + to_string(s.status) +
            (s.error_message.empty() ? "" : " - " + s.error_message) + "\n";
  }
  if (const StepResult* s = r.failed_step()) {
    for (const auto& [name, text] :
         {std::pair{"output", &s->output}, std::pair{"error output", &s->error_output}}) {
      if (!text->empty()) {
        body += "\nThe end of step " + s->step_id + "'s " + name + ":\n" + tail_lines(*text);
        if (body.back() != '\n') {
          body += "\n";
        }
      }
    }
  }
  return body;
}

std::string send_email(const NotifyContext& c, const std::vector<std::string>& to,
                       std::map<std::string, std::string>& secrets) {
  if (c.integrations == nullptr || !c.integrations->smtp) {
    return "no smtp server in the daemon config: email notifications need one";
  }
  const Smtp& smtp = *c.integrations->smtp;
  const auto server = smtp_server(smtp, c.integrations->secrets);
  if (!server) {
    return server.error().message;
  }
  if (server->password) {
    secrets["smtp password"] = *server->password;
  }
  mail::Message m;
  m.from = smtp.from;
  m.to = to;
  m.subject = "[jobs] " + c.result.job_name + " " + status_words(c) + " on " + c.result.host;
  m.body = redact(email_body(c), secrets);
  const auto failed = mail::send(*server, m, c.cancel);
  return failed ? failed->message : "";
}

std::string send_webhook(const NotifyContext& c, const std::string& url) {
  net::Request request;
  request.method = "POST";
  request.url = url;
  request.headers = {{"Content-Type", "application/json"}};
  request.body = redact(payload_text(c), c.secrets);
  request.timeout = std::chrono::seconds(15);
  net::Retry retry;
  retry.max = 2;
  const auto exchange = net::send(request, net::StatusSet{{{200, 299}}}, retry, c.cancel, {});
  return exchange.error ? exchange.error->message : "";
}

std::string run_command(const NotifyContext& c, const jobs::Notification& n,
                        const std::vector<std::string>& targets) {
  exec::ProcessSpec spec;
  spec.argv = n.one ? std::vector<std::string>{"sh", "-c", targets.front()} : targets;
  spec.env = c.environment;
  spec.run_as = c.job.run_as;
  spec.env.insert(spec.env.end(), {{"JOBS_NOTIFY_EVENT", to_string(c.event)},
                                   {"JOB_ID", c.result.job_id},
                                   {"JOB_NAME", c.result.job_name},
                                   {"JOB_EXECUTION_ID", c.result.execution_id},
                                   {"JOB_STATUS", to_string(c.result.status)}});
  spec.input = redact(payload_text(c), c.secrets);
  spec.timeout = std::chrono::seconds(60);
  spec.kill_grace = std::chrono::seconds(5);
  spec.output_limit = 8192;
  spec.secrets = secret_values(c.secrets); // masked before its error output is cut to a tail
  const auto p = exec::run_process(spec, {}, c.cancel);
  if (!p.start_error.empty()) {
    return p.start_error;
  }
  if (p.timed_out) {
    return "did not end within 60s; stopped";
  }
  if (p.exit_code == 0) {
    return "";
  }
  std::string why = p.exit_code ? "exited with " + std::to_string(*p.exit_code)
                                : "ended by signal " + std::to_string(p.signal.value_or(0));
  if (const std::string err = tail_lines(p.err, 3, 400); !err.empty()) {
    why += ": " + err.substr(0, err.find_last_not_of('\n') + 1);
  }
  return why;
}

} // namespace

const char* to_string(NotifyEvent e) {
  switch (e) {
  case NotifyEvent::failure:
    return "on_failure";
  case NotifyEvent::success:
    return "on_success";
  case NotifyEvent::retry:
    return "on_retry";
  }
  return "on_failure";
}

std::optional<NotifyEvent> notify_event(Status final_status) {
  switch (final_status) {
  case Status::success:
    return NotifyEvent::success;
  case Status::failed:
  case Status::timeout:
  case Status::partial_success:
    return NotifyEvent::failure;
  default:
    return std::nullopt;
  }
}

std::string tail_lines(const std::string& text, size_t max_lines, size_t max_bytes) {
  size_t start = 0;
  // From the end back to the beginning of the max_lines-th line; a final '\n' only ends the
  // last line.
  size_t pos = text.ends_with('\n') ? text.size() - 1 : text.size();
  for (size_t lines = 0; lines < max_lines && pos > 0; ++lines) {
    const size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      start = 0;
      break;
    }
    start = nl + 1;
    pos = nl;
  }
  return text.substr(std::max(start, text.size() > max_bytes ? text.size() - max_bytes : 0));
}

nlohmann::json notification_payload(NotifyEvent event, const JobResult& r,
                                    std::optional<std::chrono::milliseconds> retry_in) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps) {
    steps.push_back({{"step_id", s.step_id},
                     {"step_type", s.step_type},
                     {"status", to_string(s.status)},
                     {"exit_code", s.exit_code ? nlohmann::json(*s.exit_code) : nullptr},
                     {"duration_seconds", s.duration_seconds()},
                     {"error_message", s.error_message}});
  }
  nlohmann::json failed = nullptr;
  if (const StepResult* s = r.failed_step()) {
    failed = {{"step_id", s->step_id},
              {"step_type", s->step_type},
              {"status", to_string(s->status)},
              {"exit_code", s->exit_code ? nlohmann::json(*s->exit_code) : nullptr},
              {"error_message", s->error_message},
              {"output_tail", tail_lines(s->output)},
              {"error_output_tail", tail_lines(s->error_output)}};
  }
  nlohmann::json out = {
      {"event", to_string(event)},
      {"execution_id", r.execution_id},
      {"job_id", r.job_id},
      {"job_name", r.job_name},
      {"status", to_string(r.status)},
      {"timezone", r.timezone},
      {"scheduled_time", r.scheduled_time ? nlohmann::json(iso_time(
                                                TimePoint(std::chrono::seconds(*r.scheduled_time))))
                                          : nullptr},
      {"start_time", iso_time(r.start)},
      {"end_time", iso_time(r.end)},
      {"duration_seconds", r.duration_seconds()},
      {"attempt", r.attempt},
      {"trigger", r.trigger},
      {"triggered_by", r.triggered_by},
      {"host", r.host},
      {"error_message", r.error_message},
      {"steps", steps},
      {"failed_step", failed}};
  if (retry_in) {
    out["retry_in_seconds"] = static_cast<double>(retry_in->count()) / 1000;
  }
  return out;
}

std::vector<Notified> send_notifications(const NotifyContext& c) {
  const auto& list = c.event == NotifyEvent::failure   ? c.job.on_failure
                     : c.event == NotifyEvent::success ? c.job.on_success
                                                       : c.job.on_retry;
  std::vector<Notified> out;
  for (const auto& n : list) {
    std::vector<std::string> targets;
    for (const auto& t : n.targets) {
      targets.push_back(n.kind == "webhook" ? url_with_variables(t, c.value)
                                            : jobs::substitute_variables(t, c.value));
    }
    std::map<std::string, std::string> secrets = c.secrets;
    if (n.kind == "webhook") {
      for (const auto& [name, value] : c.secrets) {
        secrets[name + " in a URL"] = net::percent_encode(value); // as it is in the target
      }
    }
    Notified done{c.event, n.kind, {}, {}};
    for (const auto& t : targets) {
      done.target += (done.target.empty() ? "" : n.kind == "email" ? ", " : " ") + t;
    }
    try {
      if (n.kind == "email") {
        done.error = send_email(c, targets, secrets);
      } else if (n.kind == "webhook") {
        done.target = net::redact_url(done.target);
        done.error = send_webhook(c, targets.front());
      } else {
        done.error = run_command(c, n, targets);
      }
    } catch (const std::exception& e) {
      done.error = std::string("internal error: ") + e.what();
    }
    done.target = redact(done.target, secrets);
    done.error = redact(done.error, secrets);
    out.push_back(std::move(done));
  }
  return out;
}

} // namespace engine
