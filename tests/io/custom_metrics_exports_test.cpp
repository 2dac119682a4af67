// The program's own metrics in the exports: Prometheus families (valid for promtool), the metrics
// CSV and the HTML report's table and charts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "codeprof/exporters.hpp"
#include "io/run_command.hpp"
#include "io/sample_snapshot.hpp"

namespace codeprof {
namespace {

Snapshot with_gauge() {
  Snapshot s = test::sample_snapshot();
  CustomMetric depth;
  depth.name = "queue.depth";  // sanitised for Prometheus
  depth.kind = MetricKind::Gauge;
  depth.unit = "items";
  depth.count = 3;
  depth.last = 5;
  depth.min = 1;
  depth.max = 9;
  depth.mean = 5;
  s.custom_metrics.push_back(depth);
  return s;
}

TEST(CustomMetricExports, PrometheusCountersGaugesAndSummaries) {
  const std::string text = io::to_prometheus(with_gauge(), test::sample_findings());
  EXPECT_NE(text.find("# TYPE codeprof_custom_pages_scored_pages_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("codeprof_custom_pages_scored_pages_total{job_name=\"nightly-bert\""), std::string::npos);
  EXPECT_NE(text.find("# TYPE codeprof_custom_loss summary\n"), std::string::npos);
  EXPECT_NE(text.find("quantile=\"0.99\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("codeprof_custom_loss_count{"), std::string::npos);
  EXPECT_NE(text.find("# TYPE codeprof_custom_queue_depth_items gauge\n"), std::string::npos);
  if (!std::filesystem::exists("/usr/bin/promtool")) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  const auto path = std::filesystem::temp_directory_path() / ("codeprof_custom_" + std::to_string(::getpid()) + ".prom");
  io::write_file_atomic(path.string(), text);
  const auto r = test::run_command("/usr/bin/promtool check metrics < " + test::shell_quote(path.string()));
  std::filesystem::remove(path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "promtool lint findings";
}

TEST(CustomMetricExports, CsvHasOneRowPerMetric) {
  const std::string csv = io::to_metrics_csv(with_gauge());
  EXPECT_EQ(csv.substr(0, csv.find("\r\n")),
            "name,kind,unit,count,sum,last,min,max,mean,p50,p90,p95,p99,first_seen_s,last_seen_s,rejected");
  EXPECT_NE(csv.find("\r\npages_scored,counter,pages,40,1280,1280,16,64,32,,,,,0.001,7.9,0\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\r\nloss,value,,2,3,1,1,2,1.5,1,2,2,2,0,0,1\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\r\nqueue.depth,gauge,items,3,"), std::string::npos) << csv;
}

TEST(CustomMetricExports, HtmlReportHasTheTableAndChartData) {
  const std::string html = io::to_html_report(with_gauge(), test::sample_findings());
  EXPECT_NE(html.find("<section id=\"custom-metrics\">"), std::string::npos);
  EXPECT_NE(html.find("<td>pages_scored</td><td>counter</td><td>pages</td>"), std::string::npos);
  const std::size_t data = html.find("\"custom_metrics\":[{");
  ASSERT_NE(data, std::string::npos);
  EXPECT_NE(html.find("\"name\":\"pages_scored\"", data), std::string::npos);
  EXPECT_NE(html.find("\"unit\":\"pages/s\"", data), std::string::npos);
}

}  // namespace
}  // namespace codeprof
