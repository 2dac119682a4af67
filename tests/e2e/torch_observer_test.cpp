// codeprof::TorchObserver against real libtorch: operators and autograd nodes become codeprof
// operations nested under the scope that ran them; sampling, one-at-a-time and removal.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>
#include <torch/nn/modules/linear.h>

#include <map>
#include <stdexcept>
#include <string>

#include <codeprof/codeprof.hpp>
#include <codeprof/torch.hpp>

namespace {

using codeprof::Category;

codeprof::Config quiet_config() {
  codeprof::Config c;
  c.sampler_enabled = false;
  return c;
}

// Child operation name -> calls, for the edges whose parent is `parent`.
std::map<std::string, std::uint64_t> children_of(const codeprof::Snapshot& s, const std::string& parent) {
  std::map<std::string, std::uint64_t> out;
  const codeprof::OperationStats* p = s.find(parent);
  if (!p) return out;
  for (const auto& e : s.call_tree)
    if (e.parent_id == p->id) out[s.find(e.child_id)->name] += e.count;
  return out;
}

void train_steps(codeprof::Profiler& profiler, torch::nn::Linear& layer, int steps) {
  for (int i = 0; i < steps; ++i) {
    CODEPROF_SCOPE(profiler, "step", Category::TrainingLoop);
    torch::Tensor loss;
    {
      CODEPROF_SCOPE(profiler, "forward", Category::TrainingLoop);
      loss = layer(torch::ones({4, 8})).sum();
    }
    CODEPROF_SCOPE(profiler, "backward", Category::TrainingLoop);
    loss.backward();
  }
}

}  // namespace

TEST(TorchObserver, RecordsOperatorsAndAutogradNodesUnderTheEnclosingScope) {
  at::set_num_threads(1);
  codeprof::Profiler profiler(quiet_config());
  torch::nn::Linear layer(8, 2);
  {
    codeprof::TorchObserver observer(profiler);
    train_steps(profiler, layer, 5);
    EXPECT_GT(observer.recorded(), 0u);
  }
  const codeprof::Snapshot s = profiler.snapshot();

  const auto forward = children_of(s, "forward");
  std::string names;
  for (const auto& [name, calls] : forward) names += name + "=" + std::to_string(calls) + " ";
  // Linear's forward is addmm on the transposed weight; the loss is a sum.
  ASSERT_TRUE(forward.count("aten::addmm")) << "forward's children: " << names;
  EXPECT_EQ(forward.at("aten::addmm"), 5u) << names;
  EXPECT_EQ(forward.at("aten::sum"), 5u) << names;
  // Operators nest in each other too (e.g. ones -> empty + fill_).
  bool nested = false;
  for (const auto& e : s.call_tree) {
    const auto* parent = e.parent_id == codeprof::kRootOperation ? nullptr : s.find(e.parent_id);
    nested |= parent && parent->name.rfind("aten::", 0) == 0 && s.find(e.child_id)->name.rfind("aten::", 0) == 0;
  }
  EXPECT_TRUE(nested);

  const auto backward = children_of(s, "backward");
  bool autograd_node = false;
  for (const auto& [name, calls] : backward) autograd_node |= name.find("Backward") != std::string::npos;
  EXPECT_TRUE(autograd_node);
  EXPECT_TRUE(s.find("AddmmBackward0") || s.find("autograd::engine::evaluate_function: AddmmBackward0"));

  const codeprof::OperationStats* addmm = s.find("aten::addmm");
  ASSERT_NE(addmm, nullptr);
  EXPECT_EQ(addmm->category, Category::Cpu);
  EXPECT_EQ(addmm->count, 5u);
  EXPECT_GT(addmm->total_ns, 0u);
}

TEST(TorchObserver, NothingIsRecordedAfterItIsRemovedOrWhenSamplingIsZero) {
  codeprof::Profiler profiler(quiet_config());
  torch::nn::Linear layer(8, 2);
  { codeprof::TorchObserver observer(profiler); }
  train_steps(profiler, layer, 2);
  {
    codeprof::TorchObserverOptions options;
    options.sample_rate = 0.0;
    codeprof::TorchObserver observer(profiler, options);
    train_steps(profiler, layer, 2);
    EXPECT_EQ(observer.recorded(), 0u);
  }
  const codeprof::Snapshot s = profiler.snapshot();
  ASSERT_NE(s.find("step"), nullptr);
  for (const auto& op : s.operations) EXPECT_EQ(op.name.rfind("aten::", 0), std::string::npos) << op.name;
}

TEST(TorchObserver, SamplesAFractionOfOperatorCalls) {
  codeprof::Profiler profiler(quiet_config());
  torch::nn::Linear layer(8, 2);
  const torch::Tensor x = torch::ones({2, 8});
  codeprof::TorchObserverOptions options;
  options.sample_rate = 0.25;
  options.autograd = false;
  codeprof::TorchObserver observer(profiler, options);
  c10::InferenceMode inference;
  constexpr int kCalls = 4000;
  for (int i = 0; i < kCalls; ++i) (void)torch::relu(x);
  // Binomial(4000, 0.25): mean 1000, sd 27; 8 sd either side never fails by chance.
  const auto relu = profiler.snapshot().find("aten::relu");
  ASSERT_NE(relu, nullptr);
  EXPECT_GT(relu->count, 780u);
  EXPECT_LT(relu->count, 1220u);
}

TEST(TorchObserver, CategoryIsConfigurable) {
  codeprof::Profiler profiler(quiet_config());
  codeprof::TorchObserverOptions options;
  options.category = Category::Gpu;
  codeprof::TorchObserver observer(profiler, options);
  (void)torch::relu(torch::ones({2}));
  const auto relu = profiler.snapshot().find("aten::relu");
  ASSERT_NE(relu, nullptr);
  EXPECT_EQ(relu->category, Category::Gpu);
}

TEST(TorchObserver, OneAtATimeAndValidSamplingOnly) {
  codeprof::Profiler profiler(quiet_config());
  codeprof::TorchObserverOptions bad;
  bad.sample_rate = 1.5;
  EXPECT_THROW(codeprof::TorchObserver(profiler, bad), std::invalid_argument);
  codeprof::TorchObserver first(profiler);
  EXPECT_THROW(codeprof::TorchObserver second(profiler), std::logic_error);
}
