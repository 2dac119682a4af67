// seo_pipeline: the codeprof demo. A page-quality model for an SEO engine, trained with libtorch on
// a synthetic web corpus and profiled end to end: corpus I/O, a threaded data loader, HTML clean-up
// and tokenisation, training with gradient accumulation, LR schedule, early stopping and (where it
// pays) bf16 autocast, then batched scoring of held-out pages. Every libtorch operator is captured
// by codeprof's observer under the pipeline stage that ran it. At the end: bottlenecks,
// classification and recommendations on stdout, reports in --output.
//
//   seo_pipeline                           a reasonable pipeline (about a minute on 2 cores)
//   seo_pipeline --plant no-workers,leak   the same with known problems planted
//   seo_pipeline --serve                   with the live dashboard
#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include <codeprof/codeprof.hpp>
#include <codeprof/exporters.hpp>
#include <codeprof/torch.hpp>
#if defined(SEO_HAVE_DASHBOARD)
#include <codeprof/dashboard.hpp>
#endif

#include "corpus.hpp"
#include "dataset.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "summary.hpp"
#include "training.hpp"
#include "vocabulary.hpp"

namespace {

using codeprof::Category;

#if defined(SEO_HAVE_DASHBOARD)
std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }
#endif

codeprof::Config profiler_config(const seo::PipelineOptions& o) {
  codeprof::Config cfg = codeprof::Config::from_env();  // CODEPROF_* variables still apply
  cfg.step_operation = "train_step";
  cfg.output_dir = o.output_dir;
  cfg.trace_enabled = true;  // for the Chrome trace; bounded by the budget
  // Bounded: kept trace events are the profiler's own memory (about 150 bytes each), which the RSS
  // timeline would otherwise show as steady growth.
  cfg.trace_budget_events = 100'000;
  cfg.sampler_interval_ms = 50;  // a finer RSS/CPU timeline: runs are short
  // Per-scope CPU time and I/O where scopes are coarse; the per-page preprocessing scopes and the
  // libtorch operators are too fine-grained to pay for a probe each. Memory growth is read from
  // the sampler's RSS timeline: a per-scope RSS delta is process-wide, so with loader threads
  // running beside the training thread it would be charged to whichever scope happens to be open.
  cfg.metrics.cpu = true;
  cfg.metrics.io = true;
  cfg.metrics.memory = false;
  cfg.metrics.categories[codeprof::index_of(Category::Preprocessing)] = false;
  cfg.metrics.categories[codeprof::index_of(Category::Cpu)] = false;
  // Line-level sampling (999 Hz of CPU time per thread): the report names the hot function and
  // line inside each operation, e.g. the per-character loop of --plant slow-tokenizer.
  if (!std::getenv("CODEPROF_SAMPLING_ENABLED")) cfg.sampling.enabled = true;
  for (const char* format : {"pprof", "folded"})
    if (std::find(cfg.export_formats.begin(), cfg.export_formats.end(), format) == cfg.export_formats.end())
      cfg.export_formats.push_back(format);
  cfg.validate();
  return cfg;
}

// Train / validation / held-out split by page id: 80 / 10 / 10.
struct Split {
  std::vector<std::size_t> train, val, test;
};
Split split_pages(const seo::CorpusIndex& index) {
  Split s;
  for (std::size_t i = 0; i < index.pages.size(); ++i) {
    const auto bucket = index.pages[i].id % 10;
    (bucket == 0 ? s.test : bucket == 1 ? s.val : s.train).push_back(i);
  }
  return s;
}

void write_predictions(const std::string& path, const std::vector<seo::Prediction>& predictions,
                       codeprof::Profiler& profiler) {
  CODEPROF_SCOPE(profiler, "write_predictions", Category::Io);
  std::ostringstream csv;
  csv << "id,predicted,actual\n";
  for (const auto& p : predictions) csv << p.id << ',' << p.predicted << ',' << p.actual << '\n';
  codeprof::io::write_file_atomic(path, csv.str());
}

// Writes every configured report format. The run's own facts (what was unavailable here and why,
// the model's results) were handed to the profiler, so they are in the snapshot (and on the live
// dashboard).
std::vector<std::string> export_reports(const codeprof::Profiler& profiler, const codeprof::Findings& findings,
                                        const std::string& dir) {
  const codeprof::Snapshot snapshot = profiler.snapshot();
  std::vector<std::string> paths;
  for (const auto& format : profiler.config().export_formats) {
    paths.push_back(codeprof::io::write_export(format, dir, snapshot, findings));
    if (format == "csv" && !snapshot.custom_metrics.empty()) {
      // The pipeline's own metrics (pages/s, tokens per batch, loss) as a table of their own.
      paths.push_back(dir + "/pipeline_metrics.csv");
      codeprof::io::write_file_atomic(paths.back(), codeprof::io::to_metrics_csv(snapshot));
    }
  }
  return paths;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

int run(const seo::PipelineOptions& o) {
  codeprof::Profiler profiler(profiler_config(o));
  profiler.set_thread_name("main");
  // The run's settings, in every snapshot from the start (the live dashboard shows them; the
  // analysis reads batch_size).
  std::string plants;
  for (const auto& p : o.plants) plants += (plants.empty() ? "" : ",") + p;
  profiler.set_metadata("pipeline", "seo_pipeline");
  profiler.set_metadata("plants", plants.empty() ? "none" : plants);
  profiler.set_metadata("loader.workers", std::to_string(o.workers));
  profiler.set_metadata("loader.prefetch", std::to_string(o.prefetch));
  profiler.set_metadata("batch_size", std::to_string(o.batch_size));
  seo::ProgressBar progress(stderr, o.progress);

#if defined(SEO_HAVE_DASHBOARD)
  std::unique_ptr<codeprof::Dashboard> dashboard;
  if (o.serve) {
    codeprof::DashboardOptions options;
    options.port = o.port;
    dashboard = std::make_unique<codeprof::Dashboard>(profiler, options);
    std::fprintf(stderr, "dashboard: %s\n", dashboard->url().c_str());
  }
#else
  if (o.serve) {
    std::fprintf(stderr, "seo_pipeline: --serve needs the dashboard (codeprof::dashboard), which this build lacks\n");
    return 2;
  }
#endif

  std::optional<codeprof::TorchObserver> observer;
  if (o.torch_ops_sample > 0) {
    codeprof::TorchObserverOptions options;
    options.sample_rate = o.torch_ops_sample;
    observer.emplace(profiler, options);
  }

  // ---- data
  seo::CorpusSpec spec{o.corpus_dir(), o.corpus_mb << 20, o.seed};
  bool generated = false;
  progress.message("corpus: " + spec.dir + (std::filesystem::exists(spec.dir) ? "" : " (generating on this first run)"));
  const auto generation_start = std::chrono::steady_clock::now();
  const seo::CorpusIndex index = seo::ensure_corpus(spec, profiler, &generated);
  progress.message("corpus: " + std::to_string(index.pages.size()) + " pages, " +
                   fixed(static_cast<double>(index.bytes) / (1 << 20), 1) + " MB" +
                   (generated ? " (generated in " +
                                    fixed(std::chrono::duration<double>(std::chrono::steady_clock::now() - generation_start).count(), 1) +
                                    " s; the profile starts after it)"
                              : ""));
  if (o.generate_only) return 0;
  if (generated) profiler.reset();  // a one-time preparation, not part of the pipeline being profiled

  const Split split = split_pages(index);
  const seo::CorpusStore store(index, profiler);
  const seo::Vocabulary vocabulary =
      seo::build_vocabulary(store, split.train, o.vocab_sample, o.vocab_size, o.tokenizer, profiler);
  progress.message("vocabulary: " + std::to_string(vocabulary.size()) + " tokens from " +
                   std::to_string(std::min(o.vocab_sample, split.train.size())) + " pages");
  const seo::DatasetOptions dataset_options{o.tokenizer, o.max_tokens, false};
  // Training pages are prepared on the fly every epoch, in the loader's workers; the validation and
  // held-out pages never change, so they are prepared once and kept.
  const seo::PageDataset train_dataset(index, store, vocabulary, dataset_options, profiler);
  const seo::PageDataset eval_dataset(index, store, vocabulary, {o.tokenizer, o.max_tokens, true}, profiler);

  // --plant no-cache: the training dataset is re-created every epoch, re-reading the corpus.
  std::unique_ptr<seo::CorpusStore> epoch_store;
  std::unique_ptr<seo::PageDataset> epoch_dataset;
  seo::TrainingSetup setup;
  setup.options = &o;
  setup.train_pages = split.train;
  setup.val_pages = split.val;
  setup.test_pages = split.test;
  setup.vocab_size = vocabulary.size();
  setup.eval_dataset = &eval_dataset;
  setup.train_dataset = [&](std::size_t) -> const seo::PageDataset& {
    if (!o.reread_corpus) return train_dataset;
    epoch_dataset.reset();
    epoch_store.reset();
    epoch_store = std::make_unique<seo::CorpusStore>(index, profiler);
    epoch_dataset = std::make_unique<seo::PageDataset>(index, *epoch_store, vocabulary, dataset_options, profiler);
    return *epoch_dataset;
  };

  // ---- model
  const seo::ModelRun result = seo::train_and_score(setup, profiler, progress);
  write_predictions(o.output_dir + "/predictions.csv", result.predictions, profiler);
  observer.reset();  // stop capturing libtorch operators before the analysis

  std::printf("\n== Model\n");
  std::printf("  epochs %zu%s (best %zu, validation MSE %.5f), %zu steps, %zu optimizer steps, final lr %.5f\n",
              result.epochs_run, result.early_stopped ? " (early stopped)" : "", result.best_epoch,
              result.best_val_loss, result.steps, result.optimizer_steps, result.final_lr);
  std::printf("  precision: %s (%s)\n", result.precision.c_str(), result.precision_reason.c_str());
  std::printf("  held-out: %zu pages scored at %.0f pages/s; MAE %.4f (predicting the mean: %.4f), correlation %.3f\n",
              result.predictions.size(), result.pages_per_second, result.mae, result.baseline_mae,
              result.correlation);
  if (!result.notes.empty()) {
    std::printf("\n== Not done on this machine\n");
    for (const auto& n : result.notes) std::printf("  %s: %s\n", n.what.c_str(), n.reason.c_str());
  }

  // ---- profile: the model's results join the run's facts (set at the start), so the
  // reports and the dashboard show them.
  for (const auto& n : result.notes) profiler.add_unavailable(n.what, n.reason);
  const std::map<std::string, std::string> metadata = {
      {"model.precision", result.precision},
      {"model.precision_reason", result.precision_reason},
      {"model.epochs", std::to_string(result.epochs_run)},
      {"model.early_stopped", result.early_stopped ? "true" : "false"},
      {"model.best_val_mse", fixed(result.best_val_loss, 6)},
      {"inference.pages_per_second", fixed(result.pages_per_second, 1)},
      {"inference.mae", fixed(result.mae, 5)},
      {"inference.correlation", fixed(result.correlation, 4)},
  };
  for (const auto& [key, value] : metadata) profiler.set_metadata(key, value);
  profiler.set_gauge("scoring_pages_per_second", result.pages_per_second);
  const codeprof::Findings findings = profiler.analyze();
  seo::print_findings(stdout, findings);
  {
    // The pipeline's own numbers, as the profiler aggregated them (docs/METRICS.md).
    const codeprof::Snapshot snapshot = profiler.snapshot();
    if (!snapshot.custom_metrics.empty()) std::printf("\n== The pipeline's own metrics\n");
    for (const auto& m : snapshot.custom_metrics) {
      const std::string unit = m.unit.empty() ? "" : " " + m.unit;
      const int digits = std::fabs(m.mean) >= 100 ? 1 : 4;
      if (m.kind == codeprof::MetricKind::Counter)
        std::printf("  %-26s %s%s, %s%s/s from its first to its last count\n", m.name.c_str(), fixed(m.sum, 0).c_str(),
                    unit.c_str(), fixed(m.last_ns > m.first_ns ? m.sum / (static_cast<double>(m.last_ns - m.first_ns) / 1e9) : 0.0, 1).c_str(),
                    unit.c_str());
      else if (m.kind == codeprof::MetricKind::Value)
        std::printf("  %-26s mean %s%s, min %s, max %s, last %s (%llu values)\n", m.name.c_str(),
                    fixed(m.mean, digits).c_str(), unit.c_str(), fixed(m.min, digits).c_str(), fixed(m.max, digits).c_str(),
                    fixed(m.last, digits).c_str(), static_cast<unsigned long long>(m.count));
      else
        std::printf("  %-26s %s%s (latest setting)\n", m.name.c_str(), fixed(m.last, digits).c_str(), unit.c_str());
    }
  }
  std::vector<std::string> paths = export_reports(profiler, findings, o.output_dir);
  paths.push_back(o.output_dir + "/predictions.csv");
  seo::print_paths(stdout, paths);
  std::fflush(stdout);

#if defined(SEO_HAVE_DASHBOARD)
  if (dashboard) {
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    std::fprintf(stderr, "\nrun finished; the dashboard stays up at %s (Ctrl-C to exit)\n", dashboard->url().c_str());
    while (!g_interrupted.load()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
#endif
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const seo::ParsedOptions parsed = seo::parse_options(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  try {
    return run(*parsed.options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seo_pipeline: %s\n", e.what());
    return 1;
  }
}
