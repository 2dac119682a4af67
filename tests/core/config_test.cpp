#include "codeprof/config.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/config_changes.hpp"
#include "core/config_test_support.hpp"

using namespace codeprof;

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  return test::write_temp_config("codeprof_cfg_", name, text);
}
std::string error_of(auto&& fn) { return test::config_error_of(fn); }
struct EnvVar {
  std::string name;
  EnvVar(std::string n, const char* v) : name(std::move(n)) { ::setenv(name.c_str(), v, 1); }
  ~EnvVar() { ::unsetenv(name.c_str()); }
};
}  // namespace

TEST(Config, DefaultsFollowTheSeed) {
  Config c;
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.thresholds[index_of(Category::DataLoading)], (Thresholds{1.0, 5.0}));
  EXPECT_EQ(c.thresholds[index_of(Category::ModelInference)], (Thresholds{2.0, 10.0}));
  EXPECT_EQ(c.thresholds[index_of(Category::TrainingLoop)], (Thresholds{10.0, 30.0}));
  EXPECT_EQ(c.sampler_interval_ms, 100u);
  EXPECT_EQ(c.dashboard_host, "127.0.0.1");
  EXPECT_GE(config_keys().size(), 50u);
  EXPECT_NO_THROW(c.validate());
}

TEST(Config, TomlFileIsReadIntoEveryKind) {
  const auto path = write_temp("ok.toml", R"(
enabled = true
[categories]
io = false
[thresholds.data_loading]
warning = 0.25
critical = 2
[metrics]
cpu = true
[metrics.categories]
gpu = false
[sampler]
interval_ms = 50
[output]
dir = "out"
formats = ["json", "csv"]
[dashboard]
port = 8765
)");
  const Config c = Config::load(path);
  EXPECT_FALSE(c.category_enabled[index_of(Category::Io)]);
  EXPECT_DOUBLE_EQ(c.thresholds[index_of(Category::DataLoading)].warning_s, 0.25);
  EXPECT_DOUBLE_EQ(c.thresholds[index_of(Category::DataLoading)].critical_s, 2.0);
  EXPECT_TRUE(c.metrics.cpu);
  EXPECT_FALSE(c.metrics.categories[index_of(Category::Gpu)]);
  EXPECT_EQ(c.sampler_interval_ms, 50u);
  EXPECT_EQ(c.output_dir, "out");
  EXPECT_EQ(c.export_formats, (std::vector<std::string>{"json", "csv"}));
  EXPECT_EQ(c.dashboard_port, 8765);
}

TEST(Config, BadFilesNameTheKeyTheExpectationAndTheValue) {
  auto err = error_of([&] { Config::load(write_temp("unknown.toml", "[sampler]\ninterval = 5\n")); });
  EXPECT_NE(err.find("unknown key 'sampler.interval'"), std::string::npos) << err;
  EXPECT_NE(err.find("line 2"), std::string::npos) << err;

  err = error_of([&] { Config::load(write_temp("type.toml", "[metrics]\ncpu = \"yes please\"\n")); });
  EXPECT_NE(err.find("'metrics.cpu' expects a bool"), std::string::npos) << err;
  EXPECT_NE(err.find("yes please"), std::string::npos) << err;

  err = error_of([&] { Config::load(write_temp("range.toml", "[dashboard]\nport = 70000\n")); });
  EXPECT_NE(err.find("'dashboard.port' expects an integer in [0, 65535]"), std::string::npos) << err;
  EXPECT_NE(err.find("70000"), std::string::npos) << err;

  err = error_of([&] { Config::load(write_temp("order.toml", "[thresholds.io]\nwarning = 9\ncritical = 3\n")); });
  EXPECT_NE(err.find("thresholds.io.warning"), std::string::npos) << err;

  err = error_of([&] { Config::load(write_temp("syntax.toml", "enabled = \n")); });
  EXPECT_NE(err.find("invalid TOML"), std::string::npos) << err;
  EXPECT_NE(err.find("line 1"), std::string::npos) << err;

  err = error_of([&] { Config::load("/nonexistent/codeprof.toml"); });
  EXPECT_NE(err.find("/nonexistent/codeprof.toml"), std::string::npos) << err;

  err = error_of([&] { Config::load(write_temp("fmt.toml", "[output]\nformats = [\"json\", \"pdf\"]\n")); });
  EXPECT_NE(err.find("'output.formats'"), std::string::npos) << err;
  EXPECT_NE(err.find("pdf"), std::string::npos) << err;
}

TEST(Config, EnvironmentOverridesTheFile) {
  const auto path = write_temp("env.toml", "[sampler]\ninterval_ms = 50\n[metrics]\nio = true\n");
  EnvVar a("CODEPROF_SAMPLER_INTERVAL_MS", "250");
  EnvVar b("CODEPROF_THRESHOLDS_MODEL_INFERENCE_WARNING", "0.5");
  EnvVar c("CODEPROF_CATEGORIES_IO", "off");
  const Config cfg = Config::load(path);
  EXPECT_EQ(cfg.sampler_interval_ms, 250u);
  EXPECT_TRUE(cfg.metrics.io);
  EXPECT_DOUBLE_EQ(cfg.thresholds[index_of(Category::ModelInference)].warning_s, 0.5);
  EXPECT_FALSE(cfg.category_enabled[index_of(Category::Io)]);
  EnvVar d("CODEPROF_CONFIG", path.c_str());
  EXPECT_EQ(Config::from_env().sampler_interval_ms, 250u);
}

TEST(Config, BadEnvironmentIsAnErrorAndChangesNothing) {
  Config c;
  {
    EnvVar a("CODEPROF_SAMPLER_INTERVAL_MS", "fast");
    const auto err = error_of([&] { c.apply_env(); });
    EXPECT_NE(err.find("CODEPROF_SAMPLER_INTERVAL_MS"), std::string::npos) << err;
    EXPECT_NE(err.find("'fast'"), std::string::npos) << err;
  }
  {
    EnvVar a("CODEPROF_SAMPLER_INTERVAL_MS", "20");
    EnvVar b("CODEPROF_NO_SUCH_KEY", "1");
    const auto err = error_of([&] { c.apply_env(); });
    EXPECT_NE(err.find("unknown variable 'CODEPROF_NO_SUCH_KEY'"), std::string::npos) << err;
  }
  EXPECT_EQ(c, Config{});  // nothing half-applied
}

TEST(Config, TextSetAndGetRoundTrip) {
  Config c;
  c.set("thresholds.preprocessing.critical", "4.5");
  EXPECT_EQ(c.get("thresholds.preprocessing.critical"), "4.5");
  c.set("output.formats", "html, json");
  EXPECT_EQ(c.get("output.formats"), "html,json");
  EXPECT_THROW(c.set("nope", "1"), ConfigError);
  EXPECT_THROW(c.set("run.rank", "-2"), ConfigError);
  for (const auto& k : config_keys()) EXPECT_EQ(c.get(k.name).empty() && k.type != "string", false) << k.name;
}

TEST(Config, DocsListEveryKey) {
  std::ifstream in(std::string(CODEPROF_SOURCE_DIR) + "/docs/CONFIG.md");
  ASSERT_TRUE(in) << "docs/CONFIG.md missing";
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& k : config_keys()) {
    EXPECT_NE(doc.find("`" + k.name + "`"), std::string::npos) << k.name;
    EXPECT_NE(doc.find(k.env), std::string::npos) << k.env;
  }
}

// One table says when each key may change: fixed at start, by the program, or live (dashboard).
TEST(ConfigKeyChanges, EveryKeyHasOneAnswer) {
  using core::KeyChange;
  EXPECT_EQ(core::key_change("enabled"), KeyChange::Live);
  EXPECT_EQ(core::key_change("categories.io"), KeyChange::Live);
  EXPECT_EQ(core::key_change("thresholds.io.warning"), KeyChange::Live);
  EXPECT_EQ(core::key_change("trace.policy"), KeyChange::Live);
  EXPECT_EQ(core::key_change("alerts.window_s"), KeyChange::Live);
  EXPECT_EQ(core::key_change("alerts.enabled"), KeyChange::AtStart);
  EXPECT_EQ(core::key_change("alerts.webhook.url"), KeyChange::AtStart);
  EXPECT_EQ(core::key_change("output.dir"), KeyChange::ByProgram);
  EXPECT_EQ(core::key_change("run.rank"), KeyChange::ByProgram);
  EXPECT_EQ(core::key_change("run.local_rank"), KeyChange::AtStart);
  EXPECT_EQ(core::key_change("sampler.interval_ms"), KeyChange::AtStart);
  EXPECT_EQ(core::key_change("metrics.categories.io"), KeyChange::AtStart);
  EXPECT_EQ(core::key_change("no.such.key"), KeyChange::AtStart);
}

TEST(ConfigKeyChanges, KeepingStartOnlyKeysTakesTheRest) {
  const Config old;
  Config next;
  next.buffer_events = 1024;
  next.sampling.frequency_hz = 50;
  next.sampling_mechanism = "timer";
  next.metrics.cpu = true;
  next.dashboard_port = 8080;
  next.alerts.interval_ms = 200;
  next.alerts.webhook_retries = 0;
  next.local_rank = 2;
  next.job_name = "other";
  next.output_dir = "elsewhere";
  next.rank = 3;
  next.trace_enabled = true;
  next.alerts.window_s = 5.0;
  next.thresholds[index_of(Category::Io)] = {0.001, 0.002};
  core::keep_start_only_keys(next, old);
  EXPECT_EQ(next.buffer_events, old.buffer_events);
  EXPECT_EQ(next.sampling, old.sampling);
  EXPECT_EQ(next.sampling_mechanism, old.sampling_mechanism);
  EXPECT_EQ(next.metrics, old.metrics);
  EXPECT_EQ(next.dashboard_port, old.dashboard_port);
  EXPECT_EQ(next.alerts.interval_ms, old.alerts.interval_ms);
  EXPECT_EQ(next.alerts.webhook_retries, old.alerts.webhook_retries);
  EXPECT_EQ(next.local_rank, old.local_rank);
  EXPECT_EQ(next.job_name, old.job_name);
  EXPECT_EQ(next.output_dir, "elsewhere");
  EXPECT_EQ(next.rank, 3);
  EXPECT_TRUE(next.trace_enabled);
  EXPECT_EQ(next.alerts.window_s, 5.0);
  EXPECT_EQ(next.thresholds[index_of(Category::Io)].critical_s, 0.002);
}
