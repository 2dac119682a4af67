#pragma once
// Reading and writing the configuration over HTTP. Writes go through Config::set (the same
// parsing and validation as the TOML file and the environment) onto a copy, then
// Config::validate(): a request that fails anywhere changes nothing.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "codeprof/category.hpp"
#include "codeprof/config.hpp"

namespace codeprof::server {

// The configuration keys behind the page's controls (docs/CONFIG.md).
inline constexpr std::string_view kEnabledKey = "enabled";
std::string category_key(Category c);   // "categories.<name>"
std::string warning_key(Category c);    // "thresholds.<name>.warning"
std::string critical_key(Category c);   // "thresholds.<name>.critical"

// Keys the dashboard may change while the profiler runs (KeyChange::Live in the key table,
// core/config_changes.hpp): the switches, thresholds, trace recording, analysis settings and alert
// rules. Output paths and ranks only the program may change (Profiler::update_config); buffers,
// sampler, probes, the dashboard and the alert thread are fixed when the profiler starts.
bool is_runtime_key(std::string_view key);

// A request that changes nothing: 400 with a message naming the key and what was expected.
class PatchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `body` is a JSON object {"<config key>": value, ...}; values are booleans, numbers, strings
// or lists of strings. Returns `base` with every change applied and validated; throws PatchError.
Config apply_config_patch(const Config& base, std::string_view body);

// GET /api/config: every key with its current value, and the control keys for the page.
nlohmann::json config_json(const Config& config, bool read_only);

}  // namespace codeprof::server
