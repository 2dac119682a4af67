// Overhead of codeprof::TorchObserver: the same small text model (the demo's default shape:
// EmbeddingBag 32 wide + MLP 256/128, Adam, fp32) trained and run with no observer, with every
// operator recorded, and with 10 % sampling. Prints the ratios to the no-observer baseline
// measured in the same run.
#include <benchmark/benchmark.h>

#include <ATen/Parallel.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <codeprof/codeprof.hpp>
#include <codeprof/torch.hpp>

#include "ratio_reporter.hpp"

namespace {

using codeprof::Category;

struct TextModelImpl : torch::nn::Module {
  TextModelImpl()
      : bag(register_module("bag", torch::nn::EmbeddingBag(torch::nn::EmbeddingBagOptions(4000, 32).mode(torch::kMean).padding_idx(0)))),
        fc1(register_module("fc1", torch::nn::Linear(32 + 12, 256))),
        fc2(register_module("fc2", torch::nn::Linear(256, 128))),
        head(register_module("head", torch::nn::Linear(128, 1))) {}
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& features) {
    torch::Tensor x = torch::cat({bag(tokens), features}, 1);
    return torch::sigmoid(head(torch::relu(fc2(torch::relu(fc1(x)))))).squeeze(1);
  }
  torch::nn::EmbeddingBag bag;
  torch::nn::Linear fc1, fc2, head;
};
TORCH_MODULE(TextModel);

codeprof::Profiler& profiler() {
  static codeprof::Profiler p([] {
    codeprof::Config c;
    c.sampler_enabled = false;  // no background thread competing with the measured one
    return c;
  }());
  return p;
}

struct Fixture {
  TextModel model;
  torch::optim::Adam optimizer{model->parameters(), torch::optim::AdamOptions(1e-3)};
  torch::Tensor tokens = torch::randint(1, 4000, {32, 256}, torch::kLong);
  torch::Tensor features = torch::rand({32, 12});
  torch::Tensor targets = torch::rand({32});
};

void train_step(Fixture& f) {
  f.optimizer.zero_grad();
  torch::mse_loss(f.model->forward(f.tokens, f.features), f.targets).backward();
  f.optimizer.step();
}

Fixture& fixture() {
  static Fixture f = [] {
    at::set_num_threads(1);
    torch::manual_seed(1);
    return Fixture{};
  }();
  static const bool warm = [] {  // first steps allocate Adam state and warm the allocator
    for (int i = 0; i < 30; ++i) train_step(f);
    return true;
  }();
  (void)warm;
  return f;
}

// mode: 0 no observer, 1 every operator, 2 sampled at 10 %.
std::unique_ptr<codeprof::TorchObserver> observer_for(std::int64_t mode) {
  if (mode == 0) return nullptr;
  codeprof::TorchObserverOptions options;
  options.sample_rate = mode == 1 ? 1.0 : 0.1;
  return std::make_unique<codeprof::TorchObserver>(profiler(), options);
}

void BM_TrainStep(benchmark::State& state) {
  Fixture& f = fixture();
  auto observer = observer_for(state.range(0));
  for (auto _ : state) {
    CODEPROF_SCOPE(profiler(), "train_step", Category::TrainingLoop);
    train_step(f);
  }
  if (observer)
    state.counters["ops_per_iter"] = static_cast<double>(observer->recorded()) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_TrainStep)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->MinTime(codeprof::bench::min_time(1.0));

void BM_Inference(benchmark::State& state) {
  Fixture& f = fixture();
  auto observer = observer_for(state.range(0));
  c10::InferenceMode inference;
  const torch::Tensor one_tokens = f.tokens.slice(0, 0, 1), one_features = f.features.slice(0, 0, 1);
  for (auto _ : state) {
    CODEPROF_SCOPE(profiler(), "score_page", Category::ModelInference);
    benchmark::DoNotOptimize(f.model->forward(one_tokens, one_features).data_ptr());
  }
  if (observer)
    state.counters["ops_per_iter"] = static_cast<double>(observer->recorded()) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Inference)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->MinTime(codeprof::bench::min_time(1.0));

}  // namespace

int main(int argc, char** argv) {
  return codeprof::bench::run_with_ratios(argc, argv, [](const codeprof::bench::RunTimes& t) {
    for (const std::string what : {"BM_TrainStep", "BM_Inference"}) {
      const double base = t.real_ns(what + "/0");
      if (base <= 0) continue;
      std::printf("\n%s (batch %s), no observer: %.1f us\n", what.c_str(), what == "BM_TrainStep" ? "32" : "1", base);
      for (const auto& [arg, label] : {std::pair{"/1", "every operator"}, std::pair{"/2", "10 % sampled"}}) {
        const std::string name = what + arg;
        if (!t.has(name)) continue;
        const double ops = t.counter(name, "ops_per_iter");
        std::printf("  observer, %-15s %8.1f us = %.3fx  (%.0f ops recorded/iter, %.2f us extra per recorded op)\n",
                    label, t.real_ns(name), t.real_ns(name) / base, ops, ops > 0 ? (t.real_ns(name) - base) / ops : 0.0);
      }
    }
  });
}
