#pragma once
// `codeprof serve --ranks`: the live dashboards of a distributed job's ranks as one job view. A
// poller fetches every rank's report (GET /api/export/json, with that rank's token) each interval,
// in parallel; the view shows a per-rank table, the stragglers (the same comparison as `codeprof
// analyze rank*.json`), a job-wide classification and a RankStraggler alert over a sliding window.
// It serves its page and GET /api/job under the dashboard's security rules (docs/HTTP_API.md).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codeprof/config.hpp"

namespace codeprof::cli {

struct RankEndpoint {
  std::string url;    // the dashboard's address, without the token: "http://node-3:8765/"
  std::string token;  // empty: none
};

// "http://host:port/", "http://host:port/?token=T" or "https://..."; throws UsageError.
RankEndpoint parse_rank_endpoint(const std::string& text);
// The endpoints of --ranks: URLs, or "@FILE" with one URL a line (blank lines and # comments
// skipped). Throws UsageError.
std::vector<RankEndpoint> rank_endpoints(const std::vector<std::string>& args);

struct JobViewOptions {
  std::vector<RankEndpoint> ranks;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8765;
  std::string token;
  Config config;                                   // thresholds of the job-wide classification
  double straggler_threshold = 0.10;               // as `codeprof analyze --straggler-threshold`
  std::chrono::milliseconds poll_interval{2000};
  std::chrono::milliseconds request_timeout{2000};
  double straggler_alert_ratio = 1.2;              // RankStraggler: compute per step / the others' median
  double straggler_alert_for_s = 60.0;
  double straggler_alert_window_s = 60.0;
  bool start_poller = true;                        // false: poll only through poll_once() (tests)
};

class JobView {
 public:
  explicit JobView(JobViewOptions options);  // listening and polling when it returns; throws DashboardError
  ~JobView();
  JobView(const JobView&) = delete;
  JobView& operator=(const JobView&) = delete;

  std::string url() const;
  std::uint16_t port() const noexcept;
  // Polls every rank once now and recomputes the view.
  void poll_once();
  // The GET /api/job document.
  std::string state_json() const;
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace codeprof::cli
