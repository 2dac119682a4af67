#include "server/config_patch.hpp"

#include <charconv>
#include <system_error>
#include <utility>
#include <vector>

#include "core/config_changes.hpp"

namespace codeprof::server {
namespace {

using Json = nlohmann::json;

std::string number_text(const Json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  const double d = v.get<double>();
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(d);
}

// The text form Config::set accepts, as in the environment ("true", "1.5", "json,csv").
std::string value_text(const std::string& key, const Json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return number_text(v);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const Json& item : v) {
      if (!item.is_string())
        throw PatchError("config key '" + key + "': expected a list of strings, got an element " + item.dump());
      if (!out.empty()) out += ',';
      out += item.get<std::string>();
    }
    return out;
  }
  throw PatchError("config key '" + key + "': expected a boolean, number, string or list of strings, got " +
                   std::string(v.type_name()));
}

bool is_known_key(std::string_view key) {
  for (const ConfigKey& k : config_keys())
    if (k.name == key) return true;
  return false;
}

}  // namespace

std::string category_key(Category c) { return "categories." + std::string(to_string(c)); }
std::string warning_key(Category c) { return "thresholds." + std::string(to_string(c)) + ".warning"; }
std::string critical_key(Category c) { return "thresholds." + std::string(to_string(c)) + ".critical"; }

bool is_runtime_key(std::string_view key) { return core::key_change(key) == core::KeyChange::Live; }

Config apply_config_patch(const Config& base, std::string_view body) {
  Json patch;
  try {
    patch = Json::parse(body.begin(), body.end());
  } catch (const Json::parse_error& e) {
    throw PatchError("malformed JSON body at byte " + std::to_string(e.byte) +
                     ": expected an object such as {\"enabled\": false}");
  }
  if (!patch.is_object())
    throw PatchError(std::string("expected a JSON object of config keys, got ") + patch.type_name());
  if (patch.empty()) throw PatchError("empty patch: expected at least one config key");

  std::vector<std::pair<std::string, std::string>> pending;  // key, text value
  for (const auto& [key, value] : patch.items()) {
    if (!is_known_key(key))
      throw PatchError("unknown config key '" + key + "' (GET /api/config lists the keys)");
    if (!is_runtime_key(key))
      throw PatchError("config key '" + key +
                       "' cannot change while the profiler runs; set it in the config file or environment");
    pending.emplace_back(key, value_text(key, value));
  }
  // Config::set checks the whole configuration after each key, so a pair like a warning and a
  // critical threshold raised together only fits in one order: apply what fits, then retry the
  // rest, until everything is applied or a pass makes no progress.
  Config next = base;
  while (!pending.empty()) {
    std::vector<std::pair<std::string, std::string>> failed;
    std::string first_error;
    for (auto& [key, text] : pending) {
      try {
        next.set(key, text);
      } catch (const std::exception& e) {  // ConfigError, or a conversion error of a bad value
        if (first_error.empty()) first_error = e.what();
        failed.emplace_back(std::move(key), std::move(text));
      }
    }
    if (failed.size() == pending.size()) throw PatchError(first_error);
    pending = std::move(failed);
  }
  try {
    next.validate();
  } catch (const ConfigError& e) {
    throw PatchError(e.what());
  }
  return next;
}

Json config_json(const Config& config, bool read_only) {
  Json values = Json::object();
  Json keys = Json::array();
  for (const ConfigKey& k : config_keys()) {
    // The token is a secret: whoever holds it has no need to read it back.
    std::string value = config.get(k.name);
    if (k.name == "dashboard.token" && !value.empty()) value = "(set)";
    values[k.name] = value;
    keys.push_back({{"name", k.name},
                    {"type", k.type},
                    {"default", k.default_value},
                    {"description", k.description},
                    {"env", k.env},
                    {"value", value},
                    {"writable", !read_only && is_runtime_key(k.name)}});
  }
  Json categories = Json::array();
  for (std::size_t i = 0; i < kCategoryCount; ++i) {
    const auto c = static_cast<Category>(i);
    categories.push_back({{"category", kCategoryNames[i]},
                          {"enabled", config.category_enabled[i]},
                          {"enabled_key", category_key(c)},
                          {"warning_s", config.thresholds[i].warning_s},
                          {"warning_key", warning_key(c)},
                          {"critical_s", config.thresholds[i].critical_s},
                          {"critical_key", critical_key(c)}});
  }
  return {{"read_only", read_only},
          {"enabled", config.enabled},
          {"enabled_key", kEnabledKey},
          {"categories", std::move(categories)},
          {"values", std::move(values)},
          {"keys", std::move(keys)}};
}

}  // namespace codeprof::server
