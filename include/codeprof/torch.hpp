#pragma once
// Automatic libtorch operator capture (opt-in: link codeprof::torch, which needs libtorch).
//
//   codeprof::Profiler profiler;
//   codeprof::TorchObserver observer(profiler);   // every aten op and autograd node from now on
//   { CODEPROF_SCOPE(profiler, "train_step", codeprof::Category::TrainingLoop); model->forward(x); ... }
//
// Each operator call becomes a codeprof operation named as libtorch names it ("aten::addmm",
// "EmbeddingBagBackward0", ...), nested under whatever codeprof scope is open on the thread that
// runs it, so the call tree gives an operator breakdown per pipeline stage with no annotation.
// Implemented with a global at::RecordFunction callback; this header itself needs no torch header.
#include <cstdint>

#include "codeprof/category.hpp"

namespace codeprof {

class Profiler;

struct TorchObserverOptions {
  // Fraction of operator calls recorded, in [0, 1] (libtorch's own sampling decides per call, so
  // unsampled calls cost almost nothing). Counts of sampled operators scale with it.
  double sample_rate = 1.0;
  bool operators = true;  // aten operators and other RecordScope::FUNCTION events
  bool autograd = true;   // autograd nodes run by the backward pass (RecordScope::BACKWARD_FUNCTION)
  // Category of the recorded operators. CPU libtorch runs them on the CPU; the enclosing scope's
  // category (training_loop, model_inference, ...) stays the stage they are attributed to.
  Category category = Category::Cpu;
};

// Installs the callback on construction and removes it on destruction. One at a time per process
// (a second one throws std::logic_error); the profiler must outlive it. sample_rate outside [0, 1]
// throws std::invalid_argument. Asynchronous RecordFunctions (those that may end on another
// thread) are not recorded: a codeprof scope ends on the thread that began it.
class TorchObserver {
 public:
  explicit TorchObserver(Profiler& profiler, TorchObserverOptions options = {});
  ~TorchObserver();
  TorchObserver(const TorchObserver&) = delete;
  TorchObserver& operator=(const TorchObserver&) = delete;

  const TorchObserverOptions& options() const noexcept { return options_; }
  // Operator calls recorded so far by this observer (after sampling).
  std::uint64_t recorded() const noexcept;

 private:
  TorchObserverOptions options_;
  std::uint64_t handle_ = 0;
};

}  // namespace codeprof
