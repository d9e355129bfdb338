#include <net/azure_devops.hpp>
#include <net/http_internal.hpp>
#include <net/json_path.hpp>

#include <nlohmann/json.hpp>

namespace net::azure {

namespace {

base::Error error(std::string message) {
  return base::Error{std::move(message), {}, {}, 1};
}

std::string pipeline_url(const Pipeline& p) {
  std::string base = p.base_url;
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return base + "/" + percent_encode(p.organization) + "/" + percent_encode(p.project) +
         "/_apis/pipelines/" + std::to_string(p.pipeline_id);
}

Request make_request(const Pipeline& p, std::string method, std::string url) {
  Request r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.query = {{"api-version", "7.1"}};
  r.headers = {{"Accept", "application/json"}};
  r.basic = std::pair{std::string(), p.pat};
  r.timeout = p.request_timeout;
  r.verify_tls = p.verify_tls;
  r.ca_file = p.ca_file;
  return r;
}

// 203 is left out: Azure DevOps answers a bad token with 203 and a sign-in page.
StatusSet accepted() {
  return StatusSet{{{200, 202}, {204, 299}}};
}

std::string message_of(const std::string& body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object()) {
    if (auto it = doc.find("message"); it != doc.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return "";
}

// What went wrong with `what` ("queue pipeline 1 in org/project"), said so that one knows
// what to do about it.
base::Error failure(const Pipeline& p, const Exchange& ex, const std::string& what,
                    const std::string& not_found) {
  if (!ex.response) {
    return *ex.error;
  }
  const Response& r = *ex.response;
  std::string status = "HTTP " + std::to_string(r.status);
  if (r.status == 401 || r.status == 203) {
    return error("Azure DevOps refused the token for organization " + p.organization + " (" +
                 status + "): check the PAT and its Build (Read & execute) scope");
  }
  if (r.status == 404) {
    return error(not_found + " (" + status + ")");
  }
  std::string text =
      "Azure DevOps answered " + status + (r.reason.empty() ? "" : " " + r.reason) + " to " + what;
  if (ex.attempts > 1) {
    text += " after " + std::to_string(ex.attempts) + " attempts";
  }
  if (auto message = message_of(r.body); !message.empty()) {
    text += ": " + message;
  }
  return error(text);
}

base::Result<Run> parse_run(const Response& r) {
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (!doc.is_object()) {
    return error("Azure DevOps answered HTTP " + std::to_string(r.status) + " from " + r.url +
                 " with something that is not a JSON run");
  }
  Run run;
  if (auto* id = json_at(doc, "id"); id != nullptr && id->is_number_integer()) {
    run.id = id->get<std::int64_t>();
  } else {
    return error("Azure DevOps answered HTTP " + std::to_string(r.status) + " from " + r.url +
                 " with a run without an id");
  }
  if (auto* state = json_at(doc, "state"); state != nullptr && state->is_string()) {
    run.state = state->get<std::string>();
  }
  if (auto* result = json_at(doc, "result"); result != nullptr && result->is_string()) {
    run.result = result->get<std::string>();
  }
  if (auto* web = json_at(doc, "_links.web.href"); web != nullptr && web->is_string()) {
    run.url = web->get<std::string>();
  } else if (auto* url = json_at(doc, "url"); url != nullptr && url->is_string()) {
    run.url = url->get<std::string>();
  }
  return run;
}

std::string where(const Pipeline& p) {
  return p.organization + "/" + p.project;
}

} // namespace

base::Result<Run> queue_run(const Pipeline& p, exec::CancelToken* cancel,
                            const std::function<void(const std::string&)>& log) {
  nlohmann::json body = nlohmann::json::object();
  if (!p.branch.empty()) {
    std::string ref = p.branch.starts_with("refs/") ? p.branch : "refs/heads/" + p.branch;
    body["resources"]["repositories"]["self"]["refName"] = ref;
  }
  if (!p.parameters.empty()) {
    auto& params = body["templateParameters"];
    params = nlohmann::json::object();
    for (const auto& [name, value] : p.parameters) {
      params[name] = value;
    }
  }
  Request request = make_request(p, "POST", pipeline_url(p) + "/runs");
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  std::string pipeline = "pipeline " + std::to_string(p.pipeline_id);
  Exchange ex = send(request, accepted(), p.retry, cancel, log);
  if (!ex.ok()) {
    return failure(p, ex, "queue " + pipeline + " in " + where(p),
                   pipeline + " not found in " + where(p));
  }
  auto run = parse_run(*ex.response);
  if (run.ok() && log) {
    log("queued run " + std::to_string(run->id) + " of " + pipeline + ": " + run->url);
  }
  return run;
}

base::Result<Run> wait_for_run(const Pipeline& p, std::int64_t run_id,
                               std::chrono::milliseconds interval,
                               std::chrono::milliseconds timeout, exec::CancelToken* cancel,
                               const std::function<void(const std::string&)>& log) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  const std::string name = "run " + std::to_string(run_id);
  Request request = make_request(p, "GET", pipeline_url(p) + "/runs/" + std::to_string(run_id));
  std::string last_state;
  while (true) {
    // Polls that go well stay out of the log; retries do not.
    Exchange ex = detail::send(request, accepted(), p.retry, cancel, {}, log);
    if (ex.cancelled) {
      return error("cancelled while waiting for " + name);
    }
    if (!ex.ok()) {
      return failure(p, ex, "poll " + name + " of pipeline " + std::to_string(p.pipeline_id),
                     name + " of pipeline " + std::to_string(p.pipeline_id) + " not found in " +
                         where(p));
    }
    auto run = parse_run(*ex.response);
    if (!run.ok()) {
      return run;
    }
    if (run->state != last_state) {
      last_state = run->state;
      if (log) {
        log(name + ": " + run->state + (run->result.empty() ? "" : " (" + run->result + ")"));
      }
    }
    if (run->state == "completed") {
      return run;
    }
    // Rounded up: a wait floored to whole milliseconds would give up just before the deadline.
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return error(name + " had not completed after " + format_wait(timeout) + " (state " +
                   run->state + ")");
    }
    if (!detail::wait_or_cancel(std::min(interval, left), cancel)) {
      return error("cancelled while waiting for " + name);
    }
  }
}

} // namespace net::azure
