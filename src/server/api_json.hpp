#pragma once
// The JSON documents of the HTTP API (docs/HTTP_API.md), built from a Snapshot and Findings.
// Durations are seconds (suffix _s), sizes bytes, shares 0..1.
#include <cstddef>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "codeprof/category.hpp"
#include "codeprof/config.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::server {

using Json = nlohmann::json;

inline constexpr std::size_t kDefaultTimelinePoints = 600;

Json status_json(const Snapshot& snapshot, bool read_only);
// The live alerts (docs/ALERTS.md), as in the status document.
Json alerts_json(const std::vector<Alert>& alerts);
Json operation_json(const OperationStats& op, std::int64_t wall_ns);
Json operations_json(const Snapshot& snapshot, std::optional<Category> only = std::nullopt);
// Durations over time of one operation (OperationStats::series).
Json operation_series_json(const OperationStats& op);
Json bottlenecks_json(const Findings& findings);
Json recommendations_json(const Findings& findings);
Json classification_json(const Findings& findings);  // classification and trends
// Sampled series, each thinned to at most max_points (the last sample is always kept).
Json timelines_json(const Snapshot& snapshot, std::size_t max_points = kDefaultTimelinePoints);
// Everything the page shows at once: what the event stream sends.
// The program's own metrics, each with its series per window (t_s, values).
Json custom_metrics_json(const Snapshot& snapshot);
Json state_json(const Snapshot& snapshot, const Findings& findings, bool read_only);

}  // namespace codeprof::server
