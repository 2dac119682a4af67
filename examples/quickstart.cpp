// codeprof quick start: profile a small pipeline-shaped workload (no libtorch needed) and print
// what codeprof found. Build the `codeprof_quickstart` target and run it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <codeprof/codeprof.hpp>

using codeprof::Category;

namespace {

// "Data loading": parse a batch of comma-separated records (built in memory).
std::vector<std::vector<float>> load_batch(std::mt19937& rng, std::size_t rows) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::string text;
  for (std::size_t r = 0; r < rows; ++r) {
    for (int c = 0; c < 32; ++c) text += std::to_string(value(rng)) + (c == 31 ? "\n" : ",");
  }
  std::vector<std::vector<float>> batch;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::vector<float> row;
    const std::size_t end = text.find('\n', pos);
    std::size_t field = pos;
    while (field < end) {
      std::size_t next = text.find(',', field);
      if (next == std::string::npos || next > end) next = end;
      row.push_back(std::stof(text.substr(field, next - field)));
      field = next + 1;
    }
    batch.push_back(std::move(row));
    pos = end + 1;
  }
  return batch;
}

// "Preprocessing": standardise every column.
void normalise(std::vector<std::vector<float>>& batch) {
  const std::size_t cols = batch.front().size();
  for (std::size_t c = 0; c < cols; ++c) {
    double mean = 0, sq = 0;
    for (const auto& row : batch) mean += row[c];
    mean /= static_cast<double>(batch.size());
    for (const auto& row : batch) sq += (row[c] - mean) * (row[c] - mean);
    const double sd = std::sqrt(sq / static_cast<double>(batch.size())) + 1e-6;
    for (auto& row : batch) row[c] = static_cast<float>((row[c] - mean) / sd);
  }
}

// "Training step": one gradient step of a linear model on a synthetic target.
double train_step(const std::vector<std::vector<float>>& batch, std::vector<double>& weights) {
  double loss = 0;
  std::vector<double> grad(weights.size(), 0.0);
  for (const auto& row : batch) {
    double y = 0, target = row[0] * 0.5 - row[1];
    for (std::size_t i = 0; i < weights.size(); ++i) y += weights[i] * row[i];
    const double err = y - target;
    loss += err * err;
    for (std::size_t i = 0; i < weights.size(); ++i) grad[i] += 2 * err * row[i];
  }
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] -= 0.01 * grad[i] / static_cast<double>(batch.size());
  return loss / static_cast<double>(batch.size());
}

}  // namespace

int main() {
  codeprof::Config config;            // defaults; codeprof::Config::from_env() reads CODEPROF_* too
  config.step_operation = "train_step";
  codeprof::Profiler profiler(config);

  std::mt19937 rng(7);
  std::vector<double> weights(32, 0.0);
  double loss = 0;
  for (int step = 0; step < 200; ++step) {
    CODEPROF_SCOPE(profiler, "train_step", Category::TrainingLoop);
    std::vector<std::vector<float>> batch;
    {
      CODEPROF_SCOPE(profiler, "load_batch", Category::DataLoading);
      batch = load_batch(rng, 256);
    }
    {
      CODEPROF_SCOPE(profiler, "normalise", Category::Preprocessing);
      normalise(batch);
    }
    CODEPROF_SCOPE(profiler, "forward_backward", Category::ModelInference);
    loss = train_step(batch, weights);
  }
  std::printf("final loss %.4f\n\n", loss);

  const codeprof::Snapshot snapshot = profiler.snapshot();
  std::printf("%-18s %8s %12s %12s %12s\n", "operation", "calls", "mean (us)", "p95 (us)", "self (ms)");
  for (const auto& op : snapshot.operations)
    std::printf("%-18s %8llu %12.1f %12.1f %12.2f\n", op.name.c_str(), static_cast<unsigned long long>(op.count),
                op.mean_ns / 1e3, static_cast<double>(op.p95_ns) / 1e3, static_cast<double>(op.self_ns) / 1e6);

  const codeprof::Findings findings = profiler.analyze();
  std::printf("\n%s\n", findings.classification.summary.c_str());
  for (const auto& b : findings.bottlenecks)
    std::printf("bottleneck [%s] %s: %s\n", std::string(to_string(b.optimization_priority)).c_str(), b.operation.c_str(), b.reason.c_str());
  for (const auto& r : findings.recommendations)
    std::printf("recommendation [%s] %s (%s)\n  evidence: %s\n  action:   %s\n", std::string(to_string(r.priority)).c_str(), r.title.c_str(),
                r.id.c_str(), r.evidence_text.c_str(), r.action.c_str());
  std::printf("\nJSON report: %s\n", profiler.export_profiling_data("codeprof_output").c_str());
  return 0;
}
