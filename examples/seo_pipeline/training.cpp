// The only translation unit of the demo that includes libtorch (narrow headers, not torch/torch.h,
// to keep its compile time at seconds rather than a minute).
#include "training.hpp"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/schedulers/step_lr.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>

#include <codeprof/codeprof.hpp>

#include "data_loader.hpp"

namespace seo {
namespace {

using codeprof::Category;
using Clock = std::chrono::steady_clock;

// Page quality from the words (mean of word embeddings) and the dense SEO features.
struct SeoModelImpl : torch::nn::Module {
  SeoModelImpl(std::int64_t vocab, std::int64_t dim, std::int64_t hidden)
      : bag(register_module("bag", torch::nn::EmbeddingBag(torch::nn::EmbeddingBagOptions(vocab, dim)
                                                                .mode(torch::kMean)
                                                                .padding_idx(Vocabulary::kPad)))),
        fc1(register_module("fc1", torch::nn::Linear(dim + static_cast<std::int64_t>(kFeatureCount), hidden))),
        fc2(register_module("fc2", torch::nn::Linear(hidden, std::max<std::int64_t>(hidden / 2, 1)))),
        head(register_module("head", torch::nn::Linear(std::max<std::int64_t>(hidden / 2, 1), 1))) {}

  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& features) {
    torch::Tensor x = torch::cat({bag(tokens), features}, 1);
    x = torch::relu(fc1(x));
    x = torch::relu(fc2(x));
    return torch::sigmoid(head(x)).squeeze(1);
  }

  torch::nn::EmbeddingBag bag;
  torch::nn::Linear fc1, fc2, head;
};
TORCH_MODULE(SeoModel);

struct BatchTensors {
  torch::Tensor tokens, features, targets;
};

// Views of the batch's vectors (no copy); `own` copies them so they outlive the batch.
BatchTensors to_tensors(Batch& b, bool own) {
  const auto n = static_cast<std::int64_t>(b.size);
  BatchTensors t;
  t.tokens = torch::from_blob(b.tokens.data(), {n, static_cast<std::int64_t>(b.length)}, torch::kLong);
  t.features = torch::from_blob(b.features.data(), {n, static_cast<std::int64_t>(kFeatureCount)}, torch::kFloat);
  t.targets = torch::from_blob(b.targets.data(), {n}, torch::kFloat);
  if (own) {
    t.tokens = t.tokens.clone();
    t.features = t.features.clone();
    t.targets = t.targets.clone();
  }
  return t;
}

// bf16 autocast on the CPU for the lifetime of the guard.
class CpuAutocast {
 public:
  explicit CpuAutocast(bool on) : on_(on) {
    if (!on_) return;
    previous_ = at::autocast::is_cpu_enabled();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  }
  ~CpuAutocast() {
    if (!on_) return;
    at::autocast::set_cpu_enabled(previous_);
    at::autocast::clear_cache();
  }
  CpuAutocast(const CpuAutocast&) = delete;
  CpuAutocast& operator=(const CpuAutocast&) = delete;

 private:
  bool on_;
  bool previous_ = false;
};

torch::Tensor predict(SeoModel& model, const BatchTensors& t, bool bf16) {
  CpuAutocast autocast(bf16);
  return model->forward(t.tokens, t.features).to(torch::kFloat);
}

std::string cpu_bf16_instructions() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    if (line.find(" amx_bf16") != std::string::npos) return "amx_bf16";
    if (line.find(" avx512_bf16") != std::string::npos) return "avx512_bf16";
    return "";
  }
  return "";
}

double milliseconds_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Decides whether training runs under bf16 autocast: on request, or (auto) when a measured
// forward + backward on a real batch is faster than fp32 here.
bool choose_bf16(const PipelineOptions& o, SeoModel& model, Batch probe_batch, codeprof::Profiler& profiler,
                 std::vector<Note>& notes, std::string& precision, std::string& why) {
  CODEPROF_SCOPE(profiler, "bf16_autocast_probe", Category::MixedPrecision);
  if (o.precision == Precision::Fp32) {
    precision = "fp32";
    why = "--precision fp32";
    notes.push_back({"mixed_precision", "disabled by --precision fp32"});
    return false;
  }
  BatchTensors t = to_tensors(probe_batch, false);
  auto time_passes = [&](bool bf16) {
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < 4; ++i) {  // the first pass warms up; keep the best of the rest
      const auto t0 = Clock::now();
      torch::mse_loss(predict(model, t, bf16), t.targets).backward();
      if (i > 0) best = std::min(best, milliseconds_since(t0));
    }
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    return best;
  };
  double bf16_ms = 0.0, fp32_ms = 0.0;
  try {
    bf16_ms = time_passes(true);
  } catch (const std::exception& e) {
    precision = "fp32";
    why = std::string("bf16 autocast on the CPU failed in this libtorch: ") + e.what();
    notes.push_back({"mixed_precision", why});
    return false;
  }
  if (o.precision == Precision::Bf16) {
    precision = "bf16 autocast";
    why = "--precision bf16";
    return true;
  }
  fp32_ms = time_passes(false);
  const std::string isa = cpu_bf16_instructions();
  char reason[256];
  if (bf16_ms < 0.8 * fp32_ms) {  // a clear win only: the timings are noisy
    precision = "bf16 autocast";
    std::snprintf(reason, sizeof reason, "bf16 autocast is faster here: %.2f ms vs %.2f ms fp32 per forward+backward",
                  bf16_ms, fp32_ms);
    why = reason;
    return true;
  }
  precision = "fp32";
  std::snprintf(reason, sizeof reason,
                "bf16 autocast works but is not faster on this CPU (%s): %.2f ms vs %.2f ms fp32 per "
                "forward+backward; trained in fp32 (--precision bf16 forces it)",
                isa.empty() ? "no avx512_bf16/amx_bf16 instructions" : isa.c_str(), bf16_ms, fp32_ms);
  why = reason;
  notes.push_back({"mixed_precision", reason});
  return false;
}

Batch first_batch(const PageDataset& dataset, const std::vector<std::size_t>& pages, std::size_t batch_size) {
  std::vector<Example> examples;
  for (std::size_t i = 0; i < std::min(batch_size, pages.size()); ++i) examples.push_back(dataset.get(pages[i]));
  return collate(0, std::move(examples));
}

LoaderOptions loader_options(const PipelineOptions& o) { return {o.batch_size, o.workers, o.prefetch}; }

double validate(SeoModel& model, const TrainingSetup& setup, bool bf16, codeprof::Profiler& profiler) {
  CODEPROF_SCOPE(profiler, "validate", Category::ModelInference);
  torch::NoGradGuard no_grad;
  model->eval();
  DataLoader loader(*setup.eval_dataset, setup.val_pages, loader_options(*setup.options), profiler);
  double loss_sum = 0.0;
  std::size_t pages = 0;
  for (std::size_t s = 0; s < loader.batches(); ++s) {
    std::optional<Batch> batch;
    {
      CODEPROF_SCOPE(profiler, "next_batch", Category::DataLoading);
      batch = loader.next();
    }
    CODEPROF_SCOPE(profiler, "val_forward", Category::ModelInference);
    const BatchTensors t = to_tensors(*batch, false);
    loss_sum += torch::mse_loss(predict(model, t, bf16), t.targets, at::Reduction::Sum).item<double>();
    pages += batch->size;
  }
  model->train();
  return pages ? loss_sum / static_cast<double>(pages) : 0.0;
}

}  // namespace

ModelRun train_and_score(const TrainingSetup& setup, codeprof::Profiler& profiler, ProgressBar& progress) {
  const PipelineOptions& o = *setup.options;
  ModelRun run;
  at::set_num_threads(o.threads);
  torch::manual_seed(o.seed);

  std::size_t devices = 0;
  {
    CODEPROF_SCOPE(profiler, "cuda_device_query", Category::Gpu);
    if (torch::cuda::is_available()) devices = torch::cuda::device_count();
  }
  if (devices == 0)
    run.notes.push_back({"gpu", "no CUDA device: torch::cuda::is_available() is false (CPU build of libtorch); "
                                "the model runs on the CPU"});
  {
    CODEPROF_SCOPE(profiler, "data_parallel_setup", Category::MultiGpu);
    if (devices < 2)
      run.notes.push_back({"multi_gpu", "skipped: data-parallel training needs 2 or more CUDA devices, found " +
                                            std::to_string(devices)});
  }

  SeoModel model(static_cast<std::int64_t>(setup.vocab_size), static_cast<std::int64_t>(o.embed_dim),
                 static_cast<std::int64_t>(o.hidden));
  const bool bf16 = choose_bf16(o, model, first_batch(*setup.eval_dataset, setup.val_pages, o.batch_size), profiler,
                                run.notes, run.precision, run.precision_reason);
  // Known now: on the live dashboard from here on, not only in the reports at the end.
  for (const Note& n : run.notes) profiler.add_unavailable(n.what, n.reason);

  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(o.lr));
  torch::optim::StepLR scheduler(optimizer, static_cast<unsigned>(o.lr_step), o.lr_gamma);
  std::vector<torch::Tensor> best_weights;
  run.best_val_loss = std::numeric_limits<double>::infinity();
  std::size_t epochs_without_improvement = 0;
  // --plant leak: a "debugging" history of every step's inputs, predictions and gradients that is
  // never cleared (about 0.6 MB per step with the default model: the embedding gradient is dense).
  std::vector<torch::Tensor> step_history;

  // The next epoch's loader starts as soon as an epoch's steps end, so its workers prefetch while
  // validation runs (what torch's persistent_workers buys).
  auto make_loader = [&](std::size_t epoch) {
    return std::make_unique<DataLoader>(setup.train_dataset(epoch), epoch_order(setup.train_pages, o.seed, epoch),
                                        loader_options(o), profiler);
  };
  std::unique_ptr<DataLoader> next_loader = make_loader(0);
  for (std::size_t epoch = 0; epoch < o.epochs; ++epoch) {
    std::unique_ptr<DataLoader> current = std::move(next_loader);
    DataLoader& loader = *current;
    progress.start("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs), loader.batches());
    model->train();
    double loss_sum = 0.0;
    std::size_t pages = 0;
    char detail[64];
    for (std::size_t s = 0; s < loader.batches(); ++s) {
      CODEPROF_SCOPE(profiler, "train_step", Category::TrainingLoop);
      std::optional<Batch> batch;
      {
        CODEPROF_SCOPE(profiler, "next_batch", Category::DataLoading);
        batch = loader.next();
      }
      BatchTensors t;
      {
        CODEPROF_SCOPE(profiler, "batch_to_tensors", Category::Memory);
        t = to_tensors(*batch, o.leak);
      }
      torch::Tensor prediction;
      if (bf16) {
        CODEPROF_SCOPE(profiler, "forward_bf16_autocast", Category::MixedPrecision);
        prediction = predict(model, t, true);
      } else {
        CODEPROF_SCOPE(profiler, "forward", Category::TrainingLoop);
        prediction = predict(model, t, false);
      }
      torch::Tensor loss;
      {
        CODEPROF_SCOPE(profiler, "loss", Category::TrainingLoop);
        // Scaled so that the accumulated gradient is the mean over the accumulated micro-batches.
        loss = torch::mse_loss(prediction, t.targets) / static_cast<double>(o.grad_accum);
      }
      {
        CODEPROF_SCOPE(profiler, "backward", Category::TrainingLoop);
        loss.backward();
      }
      if (o.leak) {
        step_history.insert(step_history.end(), {t.tokens, t.features, prediction.detach()});
        for (const auto& p : model->parameters()) step_history.push_back(p.grad().clone());
      }
      ++run.steps;
      if (run.steps % o.grad_accum == 0 || s + 1 == loader.batches()) {
        CODEPROF_SCOPE(profiler, "optimizer_step", Category::GradientAccumulation);
        optimizer.step();
        optimizer.zero_grad();
        ++run.optimizer_steps;
      }
      const double step_loss = loss.item<double>() * static_cast<double>(o.grad_accum);
      loss_sum += step_loss * static_cast<double>(batch->size);
      pages += batch->size;
      // The pipeline's own numbers (docs/METRICS.md): throughput, batch contents, loss.
      profiler.add_counter("pages_trained", static_cast<double>(batch->size), "pages");
      profiler.record_value("tokens_per_batch",
                            static_cast<double>(std::count_if(batch->tokens.begin(), batch->tokens.end(),
                                                              [](std::int64_t id) { return id != Vocabulary::kPad; })),
                            "tokens");
      profiler.record_value("train_loss", step_loss);
      std::snprintf(detail, sizeof detail, "loss %.4f", pages ? loss_sum / static_cast<double>(pages) : 0.0);
      progress.update(s + 1, detail);
    }
    current.reset();  // before the next dataset is made: with --plant no-cache it replaces this one
    if (epoch + 1 < o.epochs) next_loader = make_loader(epoch + 1);
    const double val_loss = validate(model, setup, bf16, profiler);
    profiler.record_value("validation_loss", val_loss);
    profiler.set_gauge("learning_rate", optimizer.param_groups()[0].options().get_lr());
    ++run.epochs_run;
    std::snprintf(detail, sizeof detail, "train loss %.4f, validation loss %.4f, lr %.5f",
                  pages ? loss_sum / static_cast<double>(pages) : 0.0, val_loss,
                  optimizer.param_groups()[0].options().get_lr());
    progress.finish(detail);

    bool stop = false;
    {
      CODEPROF_SCOPE(profiler, "early_stopping_check", Category::EarlyStopping);
      if (val_loss < run.best_val_loss - 1e-5) {
        run.best_val_loss = val_loss;
        run.best_epoch = epoch + 1;
        epochs_without_improvement = 0;
        CODEPROF_SCOPE(profiler, "save_best_weights", Category::Memory);
        torch::NoGradGuard no_grad;
        best_weights.clear();
        for (const auto& p : model->parameters()) best_weights.push_back(p.detach().clone());
      } else if (++epochs_without_improvement >= o.patience) {
        stop = epoch + 1 < o.epochs;
      }
    }
    if (stop) {
      run.early_stopped = true;
      progress.message("early stopping: no validation improvement for " + std::to_string(o.patience) +
                       " epochs (best " + std::to_string(run.best_val_loss) + " at epoch " +
                       std::to_string(run.best_epoch) + ")");
      break;
    }
    CODEPROF_SCOPE(profiler, "lr_scheduler_step", Category::LrScheduling);
    scheduler.step();
  }
  run.final_lr = optimizer.param_groups()[0].options().get_lr();
  if (!best_weights.empty()) {
    CODEPROF_SCOPE(profiler, "restore_best_weights", Category::Memory);
    torch::NoGradGuard no_grad;
    auto params = model->parameters();
    for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(best_weights[i]);
  }

  // Held-out scoring: batched, without autograd.
  {
    CODEPROF_SCOPE(profiler, "score_held_out", Category::ModelInference);
    c10::InferenceMode inference;
    model->eval();
    DataLoader loader(*setup.eval_dataset, setup.test_pages, loader_options(o), profiler);
    progress.start("scoring", loader.batches());
    const auto t0 = Clock::now();
    for (std::size_t s = 0; s < loader.batches(); ++s) {
      std::optional<Batch> batch;
      {
        CODEPROF_SCOPE(profiler, "next_batch", Category::DataLoading);
        batch = loader.next();
      }
      CODEPROF_SCOPE(profiler, "score_batch", Category::ModelInference);
      const BatchTensors t = to_tensors(*batch, false);
      const torch::Tensor scores = predict(model, t, bf16).contiguous();
      const float* p = scores.data_ptr<float>();
      for (std::size_t i = 0; i < batch->size; ++i)
        run.predictions.push_back({batch->ids[i], p[i], batch->targets[i]});
      profiler.add_counter("pages_scored", static_cast<double>(batch->size), "pages");
      progress.update(s + 1);
    }
    run.scoring_seconds = milliseconds_since(t0) / 1e3;
  }
  const double n = static_cast<double>(run.predictions.size());
  run.pages_per_second = run.scoring_seconds > 0 ? n / run.scoring_seconds : 0.0;
  if (n > 0) {
    double train_mean = 0.0;
    for (std::size_t i : setup.train_pages) train_mean += setup.eval_dataset->score(i);
    train_mean /= std::max<double>(1.0, static_cast<double>(setup.train_pages.size()));
    double sp = 0, sa = 0, spp = 0, saa = 0, spa = 0;
    for (const auto& p : run.predictions) {
      run.mae += std::abs(p.predicted - p.actual);
      run.baseline_mae += std::abs(train_mean - p.actual);
      sp += p.predicted;
      sa += p.actual;
      spp += static_cast<double>(p.predicted) * p.predicted;
      saa += static_cast<double>(p.actual) * p.actual;
      spa += static_cast<double>(p.predicted) * p.actual;
    }
    run.mae /= n;
    run.baseline_mae /= n;
    const double cov = spa / n - (sp / n) * (sa / n);
    const double vp = spp / n - (sp / n) * (sp / n), va = saa / n - (sa / n) * (sa / n);
    run.correlation = vp > 0 && va > 0 ? cov / std::sqrt(vp * va) : 0.0;
  }
  char detail[96];
  std::snprintf(detail, sizeof detail, "%zu pages, %.0f pages/s, MAE %.4f", run.predictions.size(),
                run.pages_per_second, run.mae);
  progress.finish(detail);
  return run;
}

}  // namespace seo
