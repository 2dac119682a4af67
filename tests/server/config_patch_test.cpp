// Configuration writes over HTTP: every key goes through Config::set and Config::validate on a
// copy, so a bad request changes nothing.
#include "server/config_patch.hpp"

#include <gtest/gtest.h>

namespace codeprof::server {
namespace {

std::string patch_error(const Config& base, std::string_view body) {
  try {
    apply_config_patch(base, body);
  } catch (const PatchError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigPatch, ControlKeysExistInTheConfigTable) {
  // The page's controls use these names; a rename in config.cpp must fail here, not in a browser.
  std::vector<std::string> names;
  for (const auto& k : config_keys()) names.push_back(k.name);
  const auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  EXPECT_TRUE(has(std::string(kEnabledKey)));
  for (std::size_t i = 0; i < kCategoryCount; ++i) {
    const auto c = static_cast<Category>(i);
    EXPECT_TRUE(has(category_key(c))) << category_key(c);
    EXPECT_TRUE(has(warning_key(c))) << warning_key(c);
    EXPECT_TRUE(has(critical_key(c))) << critical_key(c);
    EXPECT_TRUE(is_runtime_key(category_key(c)));
  }
}

TEST(ConfigPatch, AppliesSwitchesThresholdsAndAnalysisKeys) {
  const Config base;
  const Config next = apply_config_patch(
      base, R"({"enabled": false, "categories.io": false, "thresholds.data_loading.warning": 0.25,
                "thresholds.data_loading.critical": 2, "analysis.step_operation": "train_step"})");
  EXPECT_FALSE(next.enabled);
  EXPECT_FALSE(next.category_enabled[index_of(Category::Io)]);
  EXPECT_TRUE(next.category_enabled[index_of(Category::Preprocessing)]);
  EXPECT_DOUBLE_EQ(next.thresholds[index_of(Category::DataLoading)].warning_s, 0.25);
  EXPECT_DOUBLE_EQ(next.thresholds[index_of(Category::DataLoading)].critical_s, 2.0);
  EXPECT_EQ(next.step_operation, "train_step");
  // Untouched keys keep their values.
  EXPECT_EQ(next.buffer_events, base.buffer_events);
  EXPECT_EQ(next.thresholds[index_of(Category::Io)].warning_s, base.thresholds[index_of(Category::Io)].warning_s);
}

TEST(ConfigPatch, ThresholdPairsMoveTogetherInEitherDirection) {
  // Config::set checks warning <= critical after each key: only one order of the two fits.
  const Config lowered =
      apply_config_patch(Config{}, R"({"thresholds.io.warning": 0.0005, "thresholds.io.critical": 0.001})");
  EXPECT_DOUBLE_EQ(lowered.thresholds[index_of(Category::Io)].warning_s, 0.0005);
  EXPECT_DOUBLE_EQ(lowered.thresholds[index_of(Category::Io)].critical_s, 0.001);
  const Config raised =
      apply_config_patch(lowered, R"({"thresholds.io.warning": 500, "thresholds.io.critical": 900})");
  EXPECT_DOUBLE_EQ(raised.thresholds[index_of(Category::Io)].warning_s, 500.0);
  EXPECT_DOUBLE_EQ(raised.thresholds[index_of(Category::Io)].critical_s, 900.0);
}

TEST(ConfigPatch, MalformedJsonNamesTheByte) {
  const std::string e = patch_error(Config{}, R"({"enabled": fals})");
  EXPECT_NE(e.find("malformed JSON"), std::string::npos) << e;
  EXPECT_NE(e.find("byte"), std::string::npos) << e;
}

TEST(ConfigPatch, RejectsWrongShapes) {
  EXPECT_NE(patch_error(Config{}, "[1,2]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(patch_error(Config{}, "{}").find("empty patch"), std::string::npos);
  EXPECT_NE(patch_error(Config{}, R"({"enabled": null})").find("'enabled'"), std::string::npos);
  EXPECT_NE(patch_error(Config{}, R"({"enabled": {"a": 1}})").find("expected a boolean"), std::string::npos);
}

TEST(ConfigPatch, UnknownAndStartupOnlyKeysAreNamed) {
  EXPECT_NE(patch_error(Config{}, R"({"enabeld": true})").find("unknown config key 'enabeld'"), std::string::npos);
  const std::string e = patch_error(Config{}, R"({"buffer.events_per_thread": 1024})");
  EXPECT_NE(e.find("'buffer.events_per_thread' cannot change while the profiler runs"), std::string::npos) << e;
  EXPECT_NE(patch_error(Config{}, R"({"dashboard.token": "abcdefgh123"})").find("cannot change"), std::string::npos);
}

TEST(ConfigPatch, BadValuesAreRejectedByConfigValidation) {
  // Not a boolean.
  std::string e = patch_error(Config{}, R"({"categories.io": "maybe"})");
  EXPECT_NE(e.find("categories.io"), std::string::npos) << e;
  // Out of range.
  e = patch_error(Config{}, R"({"thresholds.io.warning": -1})");
  EXPECT_NE(e.find("thresholds.io.warning"), std::string::npos) << e;
  // Each value fine alone, inconsistent together: warning above critical.
  e = patch_error(Config{}, R"({"thresholds.io.warning": 9, "thresholds.io.critical": 3})");
  EXPECT_NE(e.find("thresholds.io"), std::string::npos) << e;
  // A good key before a bad one: nothing is returned, so nothing can be half-applied.
  e = patch_error(Config{}, R"({"enabled": false, "categories.gpu": 7})");
  EXPECT_NE(e.find("categories.gpu"), std::string::npos) << e;
}

TEST(ConfigPatch, ConfigJsonListsEveryKeyAndHidesTheToken) {
  Config c;
  c.dashboard_token = "abcdefgh12345";
  c.category_enabled[index_of(Category::Gpu)] = false;
  const auto j = config_json(c, false);
  EXPECT_EQ(j["values"].size(), config_keys().size());
  EXPECT_EQ(j["values"]["dashboard.token"], "(set)");
  EXPECT_EQ(j["values"]["categories.gpu"], "false");
  ASSERT_EQ(j["categories"].size(), kCategoryCount);
  EXPECT_EQ(j["categories"][index_of(Category::Gpu)]["category"], "gpu");
  EXPECT_EQ(j["categories"][index_of(Category::Gpu)]["enabled"], false);
  EXPECT_EQ(j["categories"][index_of(Category::Gpu)]["enabled_key"], "categories.gpu");
  bool found_writable = false, found_fixed = false;
  for (const auto& k : j["keys"]) {
    if (k["name"] == "thresholds.io.warning") found_writable = k["writable"].get<bool>();
    if (k["name"] == "sampler.interval_ms") found_fixed = !k["writable"].get<bool>();
  }
  EXPECT_TRUE(found_writable);
  EXPECT_TRUE(found_fixed);
  // Read-only: nothing writable.
  const auto read_only = config_json(c, true);
  for (const auto& k : read_only["keys"]) EXPECT_FALSE(k["writable"].get<bool>()) << k["name"];
}

}  // namespace
}  // namespace codeprof::server
