// `codeprof serve --ranks`: the job view polls live dashboards (real Profilers with real HTTP
// servers on loopback, one of them token-protected), names the straggler, raises RankStraggler over
// its window, shows unreachable ranks, and serves its page and /api/job under the security rules.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <fstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/job_view.hpp"
#include "codeprof/dashboard.hpp"
#include "codeprof/profiler.hpp"

namespace codeprof {
namespace {

using Json = nlohmann::json;

struct LiveRank {
  explicit LiveRank(int rank, std::string token = "") {
    Config c;
    c.rank = rank;
    c.world_size = 3;
    c.job_name = "view-test";
    c.sampler_enabled = false;
    c.alerts.enabled = false;
    profiler = std::make_unique<Profiler>(c);
    DashboardOptions o;
    o.port = 0;
    o.cache_ttl = std::chrono::milliseconds(0);
    o.token = std::move(token);
    dashboard = std::make_unique<Dashboard>(*profiler, o);
  }
  // Steps of compute then an all-reduce; the straggler computes longer and waits less.
  void steps(int n, int compute_ms, int allreduce_ms) {
    for (int i = 0; i < n; ++i) {
      auto step = profiler->profile_operation("train_step", Category::TrainingLoop);
      {
        auto compute = profiler->profile_operation("forward", Category::ModelInference);
        std::this_thread::sleep_for(std::chrono::milliseconds(compute_ms));
      }
      auto allreduce = profiler->profile_operation("allreduce_gradients", Category::MultiGpu);
      std::this_thread::sleep_for(std::chrono::milliseconds(allreduce_ms));
    }
  }
  std::unique_ptr<Profiler> profiler;
  std::unique_ptr<Dashboard> dashboard;
};

TEST(RankEndpoints, UrlsTokensAndFilesWithOneLineErrors) {
  const auto e = cli::parse_rank_endpoint("http://node-3:8765/?token=secret-token-1");
  EXPECT_EQ(e.url, "http://node-3:8765/");
  EXPECT_EQ(e.token, "secret-token-1");
  EXPECT_EQ(cli::parse_rank_endpoint("http://node-3:8765").url, "http://node-3:8765/");
  try {
    cli::parse_rank_endpoint("node-3:8765");
    FAIL();
  } catch (const cli::UsageError& err) {
    EXPECT_STREQ(err.what(), "--ranks: 'node-3:8765': expected a dashboard URL such as http://node-3:8765/ (or @FILE)");
  }
  const std::string path = ::testing::TempDir() + "ranks.txt";
  {
    std::ofstream f(path);
    f << "# ranks of job view-test\nhttp://a:1/\n\n  http://b:2/?token=abcdefgh12  \nb:3\n";
  }
  try {
    cli::rank_endpoints({"@" + path});
    FAIL();
  } catch (const cli::UsageError& err) {
    EXPECT_EQ(std::string(err.what()).rfind(path + " line 5: --ranks: 'b:3'", 0), 0u) << err.what();
  }
  EXPECT_THROW(cli::rank_endpoints({"@/no/such/file"}), cli::UsageError);
}

TEST(JobView, PollsEveryRankWithItsTokenAndNamesTheStraggler) {
  LiveRank r0(0), r1(1, "rank-one-token"), r2(2);
  std::uint16_t gone_port = 0;
  {
    LiveRank gone(9);
    gone_port = gone.dashboard->port();
  }
  cli::JobViewOptions o;
  o.ranks = {cli::parse_rank_endpoint(r0.dashboard->url()),
             cli::parse_rank_endpoint(r1.dashboard->url() + "?token=rank-one-token"),
             cli::parse_rank_endpoint(r2.dashboard->url()),
             cli::parse_rank_endpoint("http://127.0.0.1:" + std::to_string(gone_port) + "/"),
             cli::parse_rank_endpoint(r1.dashboard->url() + "?token=the-wrong-token")};
  o.port = 0;
  o.start_poller = false;
  o.straggler_alert_for_s = 0;
  // Rank 1 computes 6x as long as the others; the steps of all three are equal by design, but
  // sleeps of a few ms overshoot on a loaded machine (rank 0 once measured +25 % per step), so
  // the threshold sits well above that noise and well below rank 1's difference.
  o.straggler_threshold = 0.5;
  o.request_timeout = std::chrono::milliseconds(5000);
  cli::JobView view(o);

  r0.steps(8, 1, 6);
  r1.steps(8, 6, 1);  // the straggler
  r2.steps(8, 1, 6);
  view.poll_once();
  r0.steps(8, 1, 6);
  r1.steps(8, 6, 1);
  r2.steps(8, 1, 6);
  view.poll_once();
  const Json job = Json::parse(view.state_json());

  ASSERT_EQ(job["ranks"].size(), 5u);
  EXPECT_EQ(job["ranks_reachable"], 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(job["ranks"][i]["reachable"]) << job["ranks"][i]["error"];
    EXPECT_EQ(job["ranks"][i]["rank"], i);
    EXPECT_EQ(job["ranks"][i]["job_name"], "view-test");
    EXPECT_EQ(job["ranks"][i]["steps"], 16);
  }
  EXPECT_EQ(job["ranks"][1]["open_url"], r1.dashboard->url() + "?token=rank-one-token");
  EXPECT_FALSE(job["ranks"][3]["reachable"]);
  EXPECT_FALSE(job["ranks"][3]["error"].get<std::string>().empty());
  EXPECT_EQ(job["ranks"][4]["error"].get<std::string>().substr(0, 8), "HTTP 401");

  ASSERT_TRUE(job["one_job"]) << job["note"];
  bool rank1 = false;
  for (const auto& s : job["stragglers"]) {
    EXPECT_EQ(s["rank"], 1) << s["description"];
    rank1 |= s["measure"] == "compute_time";
  }
  EXPECT_TRUE(rank1) << job["stragglers"].dump();
  EXPECT_NE(job["classification"]["summary"].get<std::string>().find("straggler: rank 1"), std::string::npos);
  // Over the window between the two polls rank 1 needed several times the others' compute time.
  ASSERT_EQ(job["alerts"].size(), 1u) << job["alerts"].dump();
  EXPECT_EQ(job["alerts"][0]["name"], "RankStraggler");
  EXPECT_EQ(job["alerts"][0]["state"], "firing");
  EXPECT_EQ(job["alerts"][0]["labels"]["rank"], "1");
  EXPECT_GT(job["ranks"][1]["compute_ratio"].get<double>(), 1.2);
  EXPECT_LT(job["ranks"][0]["compute_ratio"].get<double>(), 1.2);
}

TEST(JobView, ServesItsPageAndTheJobDocumentUnderTheDashboardRules) {
  LiveRank r0(0);
  cli::JobViewOptions o;
  o.ranks = {cli::parse_rank_endpoint(r0.dashboard->url())};
  o.port = 0;
  o.token = "job-view-token";
  o.start_poller = false;
  cli::JobView view(o);
  view.poll_once();
  httplib::Client c("127.0.0.1", view.port());
  EXPECT_EQ(c.Get("/api/job")->status, 401);
  const httplib::Headers auth = {{"Authorization", "Bearer job-view-token"}};
  const auto job = c.Get("/api/job", auth);
  ASSERT_EQ(job->status, 200);
  EXPECT_EQ(Json::parse(job->body)["ranks"][0]["rank"], 0);
  const auto page = c.Get("/", auth);
  ASSERT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("codeprof job"), std::string::npos);
  EXPECT_FALSE(page->get_header_value("Content-Security-Policy").empty());
  EXPECT_EQ(c.Get("/job.js", auth)->status, 200);
  EXPECT_EQ(c.Get("/app.js", auth)->status, 404) << "only the job view's own files";
  // Without a token the job view listens on loopback only.
  cli::JobViewOptions open = o;
  open.token.clear();
  open.host = "0.0.0.0";
  EXPECT_THROW(cli::JobView{open}, DashboardError);
}

}  // namespace
}  // namespace codeprof
