#pragma once
// The model stage: training (forward, loss, backward, optimizer step with gradient accumulation,
// learning-rate schedule, validation with early stopping, bf16 autocast where it pays) and batched
// scoring of the held-out pages. libtorch stays inside training.cpp; this interface is plain C++.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dataset.hpp"
#include "options.hpp"
#include "progress.hpp"

namespace codeprof {
class Profiler;
}

namespace seo {

// Something the run could not do here, and why (reported, never silently skipped).
struct Note {
  std::string what;
  std::string reason;
};

struct TrainingSetup {
  const PipelineOptions* options = nullptr;
  std::vector<std::size_t> train_pages;
  std::vector<std::size_t> val_pages;
  std::vector<std::size_t> test_pages;
  std::size_t vocab_size = 0;
  // The dataset a training epoch reads; called once at the start of every epoch.
  std::function<const PageDataset&(std::size_t epoch)> train_dataset;
  const PageDataset* eval_dataset = nullptr;  // validation and held-out scoring
};

struct Prediction {
  std::uint64_t id = 0;
  float predicted = 0.0f;
  float actual = 0.0f;
};

struct ModelRun {
  // training
  std::size_t epochs_run = 0;
  bool early_stopped = false;
  std::size_t best_epoch = 0;
  double best_val_loss = 0.0;
  double final_lr = 0.0;
  std::size_t steps = 0;
  std::size_t optimizer_steps = 0;
  std::string precision;         // "fp32" or "bf16 autocast"
  std::string precision_reason;  // how it was chosen, with the measured times
  // held-out scoring
  std::vector<Prediction> predictions;
  double scoring_seconds = 0.0;
  double pages_per_second = 0.0;
  double mae = 0.0;
  double correlation = 0.0;
  double baseline_mae = 0.0;  // predicting the training mean for every page
  // what could not run here
  std::vector<Note> notes;
};

ModelRun train_and_score(const TrainingSetup& setup, codeprof::Profiler& profiler, ProgressBar& progress);

}  // namespace seo
