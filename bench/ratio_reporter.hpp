#pragma once
// The benchmarks' targets are ratios against a baseline measured in the same run (a busy or slow
// machine moves both). Each program prints Google Benchmark's table, then its ratios from the
// times collected here: run_with_ratios(argc, argv, [](const RunTimes& t) { ... }).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace codeprof::bench {

// A benchmark's minimum time: `seconds`, unless CODEPROF_BENCH_MIN_TIME says otherwise (the smoke
// runs in the test command set it, so that each benchmark runs about once).
inline double min_time(double seconds) {
  const char* env = std::getenv("CODEPROF_BENCH_MIN_TIME");
  return env && *env ? std::atof(env) : seconds;
}

// What the runs measured, per benchmark: by "BM_X/args" (its arguments, without the min_time,
// iterations or repetition suffixes) and by "BM_X" alone. With --benchmark_repetitions, the
// median. Failed runs are left out. A name that did not run reads 0.
class RunTimes {
 public:
  void add(const benchmark::BenchmarkReporter::Run& r) {
    if (r.error_occurred) return;
    if (r.run_type == benchmark::BenchmarkReporter::Run::RT_Aggregate) {
      if (r.aggregate_name != "median") return;
      repeated_ = true;
    }
    const std::string& function = r.run_name.function_name;
    for (const std::string& name : {r.run_name.args.empty() ? function : function + "/" + r.run_name.args, function}) {
      cpu_ns_[name] = r.GetAdjustedCPUTime();
      real_ns_[name] = r.GetAdjustedRealTime();
      for (const auto& [key, counter] : r.counters) counters_[name][key] = counter.value;
    }
    if (r.run_type != benchmark::BenchmarkReporter::Run::RT_Aggregate)
      order_.push_back(r.run_name.args.empty() ? function : function + "/" + r.run_name.args);
  }

  bool has(const std::string& name) const { return cpu_ns_.count(name) > 0; }
  double cpu_ns(const std::string& name) const { return value(cpu_ns_, name); }
  double real_ns(const std::string& name) const { return value(real_ns_, name); }
  double counter(const std::string& name, const std::string& key) const {
    const auto it = counters_.find(name);
    return it == counters_.end() ? 0.0 : value(it->second, key);
  }
  bool repeated() const { return repeated_; }
  // The runs' names with arguments, in the order they ran (each once).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const std::string& n : order_)
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    return out;
  }

 private:
  static double value(const std::map<std::string, double>& m, const std::string& key) {
    const auto it = m.find(key);
    return it == m.end() ? 0.0 : it->second;
  }
  std::map<std::string, double> cpu_ns_, real_ns_;
  std::map<std::string, std::map<std::string, double>> counters_;
  std::vector<std::string> order_;
  bool repeated_ = false;
};

// The console table, then `summary` over everything that ran.
class RatioReporter final : public benchmark::ConsoleReporter {
 public:
  using Summary = std::function<void(const RunTimes&)>;
  explicit RatioReporter(Summary summary) : summary_(std::move(summary)) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) times_.add(r);
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    summary_(times_);
  }

 private:
  Summary summary_;
  RunTimes times_;
};

// A benchmark program's main: Google Benchmark's flags, the runs, then the ratios.
inline int run_with_ratios(int argc, char** argv, RatioReporter::Summary summary) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter(std::move(summary));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace codeprof::bench
