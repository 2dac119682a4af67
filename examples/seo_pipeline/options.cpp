#include "options.hpp"

#include <algorithm>
#include <thread>

#include <CLI/CLI.hpp>

namespace seo {

const std::vector<std::string>& plant_names() {
  static const std::vector<std::string> names = {"no-workers", "batch-size-1", "no-cache", "slow-tokenizer", "leak"};
  return names;
}

std::size_t default_workers(unsigned hardware_threads) {
  return std::clamp<std::size_t>(hardware_threads > 1 ? hardware_threads - 1 : 1, 1, 4);
}

std::string PipelineOptions::corpus_dir() const {
  return data_dir + "/corpus_" + std::to_string(corpus_mb) + "mb_seed" + std::to_string(seed);
}

ParsedOptions parse_options(int argc, char** argv) {
  PipelineOptions o;
  CLI::App app{
      "seo_pipeline: trains and runs a small page-quality model (libtorch) on a synthetic web corpus,\n"
      "profiled end to end by codeprof. Prints the bottlenecks and recommendations and writes the\n"
      "reports (JSON, Chrome trace, HTML, CSV, Prometheus, pprof, folded stacks) and its own metrics and\n"
      "predictions (pipeline_metrics.csv, predictions.csv) to --output."};
  app.option_defaults()->always_capture_default();

  std::string precision = "auto";
  app.add_option("--data-dir", o.data_dir, "Where the corpus is generated on the first run");
  auto* corpus_mb = app.add_option("--corpus-mb", o.corpus_mb, "Corpus size in MB")->check(CLI::Range(1, 4096));
  app.add_option("--seed", o.seed, "Seed of the corpus and the model");
  auto* workers = app.add_option("--workers", o.workers,
                                 "Loader worker threads (0: load on the training thread; default: one per core "
                                 "beyond the training thread's, at least 1, at most 4)")
                      ->check(CLI::Range(0, 64));
  auto* prefetch = app.add_option("--prefetch", o.prefetch, "Batches the loader prepares ahead")->check(CLI::Range(0, 1024));
  auto* batch = app.add_option("--batch-size", o.batch_size, "Pages per batch")->check(CLI::Range(1, 4096));
  app.add_option("--max-tokens", o.max_tokens, "Tokens kept per page")->check(CLI::Range(1, 100000));
  auto* vocab = app.add_option("--vocab-size", o.vocab_size, "Vocabulary entries")->check(CLI::Range(16, 1000000));
  auto* vocab_sample = app.add_option("--vocab-sample", o.vocab_sample, "Training pages read to build the vocabulary")
                           ->check(CLI::Range(1, 10000000));
  auto* epochs = app.add_option("--epochs", o.epochs, "Maximum epochs (early stopping may end sooner)")->check(CLI::Range(1, 1000));
  app.add_option("--embed-dim", o.embed_dim, "Embedding width")->check(CLI::Range(1, 4096));
  app.add_option("--hidden", o.hidden, "Hidden layer width")->check(CLI::Range(1, 16384));
  app.add_option("--grad-accum", o.grad_accum, "Micro-batches per optimizer step")->check(CLI::Range(1, 1024));
  app.add_option("--patience", o.patience, "Epochs without validation improvement before stopping")->check(CLI::Range(1, 1000));
  app.add_option("--lr", o.lr, "Learning rate")->check(CLI::Range(1e-7, 10.0));
  app.add_option("--lr-step", o.lr_step, "Epochs between learning-rate decays")->check(CLI::Range(1, 1000));
  app.add_option("--lr-gamma", o.lr_gamma, "Learning-rate decay factor")->check(CLI::Range(0.01, 1.0));
  app.add_option("--precision", precision, "auto (bf16 autocast when it is faster here), fp32 or bf16")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  app.add_option("--threads", o.threads, "libtorch intra-op threads")->check(CLI::Range(1, 256));
  app.add_option("--torch-ops", o.torch_ops_sample,
                 "Fraction of libtorch operators recorded by the codeprof observer (0: off)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--plant", o.plants,
                 "Plant a known problem (comma-separated): no-workers, batch-size-1, no-cache, slow-tokenizer, leak")
      ->delimiter(',')
      ->check(CLI::IsMember(plant_names()));
  app.add_option("--output,-o", o.output_dir, "Directory for the reports");
  app.add_flag("--serve", o.serve, "Serve the live dashboard during the run and keep it up afterwards");
  app.add_option("--port", o.port, "Dashboard port (with --serve)")->check(CLI::Range(1, 65535));
  app.add_flag("!--no-progress", o.progress, "No progress bar");
  app.add_flag("--quick", o.quick, "A small run for tests: 4 MB corpus, 8 epochs, vocabulary from 300 pages");
  app.add_flag("--generate-only", o.generate_only, "Generate the corpus and exit");

  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("seo_pipeline: ") + e.what() + " (see --help)\n";  // one line
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the help, or the flag and what was wrong with it
    return {std::nullopt, code == 0 ? 0 : 2};
  }

  if (workers->count() == 0) o.workers = default_workers(std::thread::hardware_concurrency());
  o.precision = precision == "fp32" ? Precision::Fp32 : precision == "bf16" ? Precision::Bf16 : Precision::Auto;
  if (o.quick) {
    // Explicit flags win over the quick defaults.
    if (corpus_mb->count() == 0) o.corpus_mb = 4;
    if (epochs->count() == 0) o.epochs = 8;
    if (vocab->count() == 0) o.vocab_size = 8000;
    if (vocab_sample->count() == 0) o.vocab_sample = 300;
  }
  for (const auto& plant : o.plants) {
    if (plant == "no-workers") {
      if (workers->count() == 0) o.workers = 0;
      if (prefetch->count() == 0) o.prefetch = 0;
    } else if (plant == "batch-size-1") {
      if (batch->count() == 0) o.batch_size = 1;
    } else if (plant == "no-cache") {
      o.reread_corpus = true;
    } else if (plant == "slow-tokenizer") {
      o.tokenizer = TokenizerKind::SlowPerCharacter;
    } else if (plant == "leak") {
      o.leak = true;
    }
  }
  return {o, 0};
}

}  // namespace seo
