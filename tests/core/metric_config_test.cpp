// Per-metric thresholds: custom_metrics.<name>.warning / .critical / .direction from TOML, the
// environment and Config::set, with one clear line for bad values.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "codeprof/config.hpp"
#include "core/config_test_support.hpp"

namespace codeprof {
namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  return test::write_temp_config("codeprof_mcfg_", name, text);
}
std::string error_of(auto&& fn) { return test::config_error_of(fn); }

TEST(MetricConfig, TomlEnvironmentAndText) {
  const Config c = Config::load(write_temp("ok.toml",
                                           "[custom_metrics.pages_scored]\nwarning = 200\ncritical = 50\ndirection = \"below\"\n"
                                           "[custom_metrics.\"cache.hit_rate\"]\nwarning = 0.9\n"));
  ASSERT_EQ(c.custom_metrics.count("pages_scored"), 1u);
  const auto& pages = c.custom_metrics.at("pages_scored");
  EXPECT_EQ(pages.warning, 200.0);
  EXPECT_EQ(pages.critical, 50.0);
  EXPECT_TRUE(pages.below);
  EXPECT_EQ(c.custom_metrics.at("cache.hit_rate").warning, 0.9);
  EXPECT_FALSE(c.custom_metrics.at("cache.hit_rate").critical);
  EXPECT_EQ(c.get("custom_metrics.pages_scored.direction"), "below");
  EXPECT_EQ(c.get("custom_metrics.pages_scored.critical"), "50");

  ::setenv("CODEPROF_CUSTOM_METRICS_LOSS_CRITICAL", "3.5", 1);
  Config e;
  e.apply_env();
  ::unsetenv("CODEPROF_CUSTOM_METRICS_LOSS_CRITICAL");
  EXPECT_EQ(e.custom_metrics.at("loss").critical, 3.5);

  Config t;
  t.set("custom_metrics.queue_depth.warning", "100");
  EXPECT_EQ(t.custom_metrics.at("queue_depth").warning, 100.0);
  EXPECT_EQ(t.get("custom_metrics.queue_depth.critical"), "");
}

TEST(MetricConfig, BadValuesNameTheKey) {
  auto err = error_of([] { Config::load(write_temp("dir.toml", "[custom_metrics.loss]\ndirection = \"up\"\n")); });
  EXPECT_NE(err.find("'custom_metrics.loss.direction'"), std::string::npos) << err;
  EXPECT_NE(err.find("up"), std::string::npos) << err;
  EXPECT_NE(err.find("line 2"), std::string::npos) << err;

  err = error_of([] { Config::load(write_temp("type.toml", "[custom_metrics.loss]\nwarning = \"high\"\n")); });
  EXPECT_NE(err.find("'custom_metrics.loss.warning' expects a finite number"), std::string::npos) << err;

  err = error_of([] { Config::load(write_temp("field.toml", "[custom_metrics.loss]\nwarn = 2\n")); });
  EXPECT_NE(err.find("unknown key 'custom_metrics.loss.warn'"), std::string::npos) << err;

  err = error_of([] { Config::load(write_temp("order.toml", "[custom_metrics.pages]\nwarning = 10\ncritical = 100\ndirection = \"below\"\n")); });
  EXPECT_NE(err.find("'custom_metrics.pages.warning' expects a value >= custom_metrics.pages.critical"), std::string::npos) << err;

  Config c;
  err = error_of([&] { c.set("custom_metrics.loss.critical", "nan"); });
  EXPECT_NE(err.find("custom_metrics.loss.critical"), std::string::npos) << err;
  EXPECT_TRUE(c.custom_metrics.empty());  // a failed set changes nothing
}

}  // namespace
}  // namespace codeprof
