// The alert webhook against a real HTTP receiver on loopback: both Alertmanager-compatible
// formats, a hung receiver that must not block the caller (bounded queue, drops counted), retries
// with backoff, and the profiler's alert monitor end to end (rule fires, is logged, posted, resolves).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "codeprof/profiler.hpp"
#include "server/alert_receiver.hpp"
#include "server/alert_webhook.hpp"

namespace codeprof {
namespace {

using Json = nlohmann::json;

Alert firing_alert(const std::string& rank = "2") {
  Alert a;
  a.name = "SlowSteps";
  a.state = "firing";
  a.severity = "warning";
  a.summary = "mean step time 250 ms (threshold 100 ms)";
  a.labels = {{"job_name", "bert"}, {"rank", rank}, {"host", "node-1"}};
  a.value = 0.25;
  a.threshold = 0.1;
  a.source = "the user's own step-time budget";
  a.active_since_unix_ns = 1'700'000'000'000'000'000;
  a.fired_unix_ns = 1'700'000'060'000'000'000;
  return a;
}

// Polls `done` every 10 ms for at most 30 s: the receiver sees a body before the sender has counted
// its answer, so counters are waited for, never assumed.
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 3000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

server::WebhookOptions options_for(const test::AlertReceiver& receiver) {
  server::WebhookOptions o;
  o.url = receiver.url();
  o.timeout = std::chrono::seconds(10);
  o.backoff = std::chrono::milliseconds(1);
  return o;
}

TEST(AlertWebhook, PostsAlertmanagersWebhookPayloadForFiringThenResolved) {
  test::AlertReceiver receiver;
  server::AlertWebhook hook(options_for(receiver));
  Alert a = firing_alert();
  hook.notify({a}, {a}, 0);
  a.state = "resolved";
  a.resolved_unix_ns = 1'700'000'120'000'000'000;
  hook.notify({a}, {}, 0);
  hook.notify({}, {}, 0);  // nothing changed: nothing sent
  ASSERT_TRUE(receiver.wait_for([](const auto& bodies, int) { return bodies.size() >= 2; }));
  const Json firing = Json::parse(receiver.bodies()[0]);
  EXPECT_EQ(firing["version"], "4");
  EXPECT_EQ(firing["status"], "firing");
  EXPECT_EQ(firing["receiver"], "codeprof");
  EXPECT_EQ(firing["groupLabels"], (Json{{"alertname", "SlowSteps"}}));
  EXPECT_EQ(firing["commonLabels"]["rank"], "2");
  ASSERT_EQ(firing["alerts"].size(), 1u);
  const Json& alert = firing["alerts"][0];
  EXPECT_EQ(alert["status"], "firing");
  EXPECT_EQ(alert["labels"], (Json{{"alertname", "SlowSteps"}, {"severity", "warning"}, {"job_name", "bert"}, {"rank", "2"},
                                   {"host", "node-1"}}));
  EXPECT_EQ(alert["annotations"]["summary"], "mean step time 250 ms (threshold 100 ms)");
  EXPECT_EQ(alert["annotations"]["threshold_source"], "the user's own step-time budget");
  EXPECT_EQ(alert["startsAt"], "2023-11-14T22:14:20.000Z");
  EXPECT_EQ(alert["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(alert["fingerprint"].get<std::string>().size(), 16u);
  const Json resolved = Json::parse(receiver.bodies()[1]);
  EXPECT_EQ(resolved["status"], "resolved");
  EXPECT_EQ(resolved["alerts"][0]["endsAt"], "2023-11-14T22:15:20.000Z");
  EXPECT_EQ(resolved["alerts"][0]["fingerprint"], alert["fingerprint"]) << "the same alert";
  ASSERT_TRUE(eventually([&] { return hook.delivery().sent == 2; }));
  const AlertDelivery d = hook.delivery();
  EXPECT_EQ(d.queued, 2u);
  EXPECT_EQ(d.failed + d.dropped + d.retries, 0u);
  EXPECT_EQ(d.target, receiver.url());
}

TEST(AlertWebhook, AlertmanagerFormatIsItsApiBodyAndResendsFiringAlerts) {
  test::AlertReceiver receiver;
  server::WebhookOptions o = options_for(receiver);
  o.format = "alertmanager";
  o.resend = std::chrono::milliseconds(0);  // every evaluation, so the test needs no clock
  server::AlertWebhook hook(o);
  const Alert a = firing_alert();
  hook.notify({a}, {a}, 1);
  hook.notify({}, {a}, 2);  // unchanged but firing: sent again so Alertmanager keeps it
  ASSERT_TRUE(receiver.wait_for([](const auto& bodies, int) { return bodies.size() >= 2; }));
  for (const auto& body : receiver.bodies()) {
    const Json j = Json::parse(body);
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0]["labels"]["alertname"], "SlowSteps");
    EXPECT_EQ(j[0]["startsAt"], "2023-11-14T22:14:20.000Z");
    EXPECT_FALSE(j[0].contains("endsAt")) << "a firing alert lasts until Alertmanager's resolve_timeout";
  }
}

TEST(AlertWebhook, AHungReceiverNeverBlocksTheCallerTheQueueIsBoundedAndDropsAreCounted) {
  test::AlertReceiver receiver;
  server::WebhookOptions o = options_for(receiver);
  o.queue = 4;
  server::AlertWebhook hook(o);
  receiver.close_gate();
  const Alert a = firing_alert();
  hook.notify({a}, {a}, 0);
  ASSERT_TRUE(receiver.wait_for([](const auto&, int entered) { return entered >= 1; }));  // one request held
  // Had notify() waited for the receiver, this loop would never end (the receiver is held).
  for (int i = 0; i < 10; ++i) hook.notify({firing_alert(std::to_string(i))}, {}, 0);
  AlertDelivery d = hook.delivery();
  EXPECT_EQ(d.queued, 5u);  // the one in flight and four waiting
  EXPECT_EQ(d.dropped, 6u);
  EXPECT_EQ(d.sent, 0u);
  receiver.open_gate();
  ASSERT_TRUE(receiver.wait_for([](const auto& bodies, int) { return bodies.size() >= 5; }));
  ASSERT_TRUE(eventually([&] { return hook.delivery().sent == 5; }));
  d = hook.delivery();
  EXPECT_EQ(d.dropped, 6u);
}

TEST(AlertWebhook, FailuresAreRetriedWithBackoffThenCountedAsFailed) {
  test::AlertReceiver receiver;
  server::WebhookOptions o = options_for(receiver);
  o.retries = 3;
  server::AlertWebhook hook(o);
  receiver.fail_next(2);  // two 500s, then accepted
  hook.notify({firing_alert()}, {}, 0);
  ASSERT_TRUE(receiver.wait_for([](const auto& bodies, int) { return bodies.size() >= 1; }));
  ASSERT_TRUE(eventually([&] { return hook.delivery().sent == 1; }));
  AlertDelivery d = hook.delivery();
  EXPECT_EQ(d.retries, 2u);
  EXPECT_EQ(d.failed, 0u);

  receiver.always_fail(true);
  hook.notify({firing_alert()}, {}, 0);
  ASSERT_TRUE(eventually([&] { return hook.delivery().failed == 1; }));
  d = hook.delivery();
  EXPECT_EQ(d.retries, 5u);  // 2 before + 3 now
  EXPECT_EQ(d.last_error, receiver.url() + ": HTTP 500");
}

TEST(AlertWebhook, AnUnreachableReceiverIsAFailureNamingTheCause) {
  server::WebhookOptions o;
  {
    test::AlertReceiver gone;  // a port that was just free again
    o.url = gone.url();
  }
  o.retries = 1;
  o.backoff = std::chrono::milliseconds(1);
  o.timeout = std::chrono::milliseconds(2000);
  server::AlertWebhook hook(o);
  hook.notify({firing_alert()}, {}, 0);
  ASSERT_TRUE(eventually([&] { return hook.delivery().failed == 1; }));
  const AlertDelivery d = hook.delivery();
  EXPECT_NE(d.last_error.find(o.url + ": "), std::string::npos);
}

TEST(AlertWebhook, BadUrlsAndFormatsAreRefusedWithOneLine) {
  server::WebhookOptions o;
  o.url = "ftp://example/hook";
  EXPECT_THROW(server::AlertWebhook{o}, std::invalid_argument);
  o.url = "http://";
  EXPECT_THROW(server::AlertWebhook{o}, std::invalid_argument);
  o.url = "http://127.0.0.1:9/hook";
  o.format = "slack";
  try {
    server::AlertWebhook hook(o);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "alerts.webhook.format 'slack': expected webhook or alertmanager");
  }
  Config c;
  EXPECT_THROW(c.set("alerts.webhook.url", "example.com/hook"), ConfigError);
  EXPECT_THROW(c.set("alerts.webhook.format", "slack"), ConfigError);
}

// The profiler's own monitor: a step-time rule fires while steps are slow, is posted with the
// job's identity, shows in the snapshot, and resolves once no step is slow any more.
TEST(AlertMonitor, ARuleFiresIsPostedAndResolvesWhileTheProgramRuns) {
  test::AlertReceiver receiver;
  Config c;
  c.rank = 3;
  c.world_size = 4;
  c.job_name = "alert-test";
  c.sampler_enabled = false;
  c.alerts.interval_ms = 50;
  c.alerts.window_s = 0.5;
  c.alerts.keep_firing_for_s = 0;
  c.alerts.log = false;
  c.alerts.step_time_s = 0.001;  // any step of ours is slower than 1 ms
  c.alerts.step_time_for_s = 0;
  c.alerts.webhook_url = receiver.url();
  c.alerts.webhook_backoff_ms = 1;
  Profiler profiler(c);
  std::atomic<bool> stepping{true};
  std::thread steps([&] {
    while (stepping) {
      auto step = profiler.profile_operation("train_step", Category::TrainingLoop);
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  const bool fired = receiver.wait_for([](const auto& bodies, int) { return !bodies.empty(); });
  stepping = false;
  steps.join();
  ASSERT_TRUE(fired);
  const Json body = Json::parse(receiver.bodies()[0]);
  EXPECT_EQ(body["status"], "firing");
  EXPECT_EQ(body["alerts"][0]["labels"]["alertname"], "SlowSteps");
  EXPECT_EQ(body["alerts"][0]["labels"]["rank"], "3");
  EXPECT_EQ(body["alerts"][0]["labels"]["job_name"], "alert-test");
  // No steps in the window any more: the series is gone and the alert resolves. On a loaded machine
  // the step thread can stall for a whole window while it still runs, so the alert may resolve and
  // fire again before the end: what must hold is that the last word is "resolved". Once a window
  // and a tick have passed since the last step, nothing can fire again.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const auto last_resolved = [](const auto& bodies, int) {
    return bodies.size() >= 2 && Json::parse(bodies.back())["status"] == "resolved";
  };
  ASSERT_TRUE(receiver.wait_for(last_resolved));
  ASSERT_TRUE(eventually([&] { return profiler.snapshot().alert_delivery.sent >= receiver.bodies().size(); }));
  const Snapshot s = profiler.snapshot();
  ASSERT_FALSE(s.alerts.empty());
  EXPECT_EQ(s.alerts[0].name, "SlowSteps");
  EXPECT_EQ(s.alerts[0].state, "resolved");
  EXPECT_EQ(Json::parse(receiver.bodies().back())["status"], "resolved") << "fired again with no steps running";
  EXPECT_EQ(s.alert_delivery.target, receiver.url());
}

}  // namespace
}  // namespace codeprof
