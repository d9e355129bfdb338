#pragma once

// Azure DevOps pipelines: queue a run and wait for it to complete, over the REST API 7.1
// (dev.azure.com or an Azure DevOps Server), authenticated by a personal access token.

#include <base/error.hpp>
#include <exec/process.hpp>
#include <net/http.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace net::azure {

// Which pipeline to run, with what, and how to reach it.
struct Pipeline {
  std::string base_url = "https://dev.azure.com"; // Azure DevOps Server or a test server
  std::string organization, project;
  std::int64_t pipeline_id = 0;
  std::string branch; // "main" becomes refs/heads/main; "refs/..." kept
  std::vector<std::pair<std::string, std::string>> parameters; // templateParameters
  std::string pat; // personal access token: Basic auth with an empty user
  std::chrono::milliseconds request_timeout{30000};
  Retry retry;
  bool verify_tls = true;
  std::string ca_file;
};

// A pipeline run as Azure DevOps reports it. url: _links.web.href, else "url".
struct Run {
  std::int64_t id = 0;
  std::string url;
  std::string state;  // "inProgress", "completed", ...
  std::string result; // once completed: "succeeded", "failed", "canceled"
};

// POST {base}/{organization}/{project}/_apis/pipelines/{pipeline_id}/runs?api-version=7.1 with
// {"resources":{"repositories":{"self":{"refName":...}}},"templateParameters":{...}}
// (resources omitted when branch is empty). Path segments URL-encoded. Errors say what to do:
// 401/203 "Azure DevOps refused the token for organization X (HTTP 401): check the PAT and its
// Build (Read & execute) scope"; 404 "pipeline 99 not found in X/Y (HTTP 404)"; others with the
// status and the message field of the JSON error body.
base::Result<Run> queue_run(const Pipeline& p, exec::CancelToken* cancel,
                            const std::function<void(const std::string&)>& log);

// Polls GET .../_apis/pipelines/{id}/runs/{run_id}?api-version=7.1 every `interval` until
// state is "completed"; error on `timeout` ("run 17 had not completed after 10m (state
// inProgress)"), on cancel, or a request that fails after its retries. `log` gets a line when
// the state changes. A completed run is returned whatever its result.
base::Result<Run> wait_for_run(const Pipeline& p, std::int64_t run_id,
                               std::chrono::milliseconds interval,
                               std::chrono::milliseconds timeout, exec::CancelToken* cancel,
                               const std::function<void(const std::string&)>& log);

} // namespace net::azure
