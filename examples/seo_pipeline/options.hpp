#pragma once
// The demo's command line. Every value is checked; a bad one is a one-line error naming the flag.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer.hpp"

namespace seo {

enum class Precision { Auto, Fp32, Bf16 };

struct PipelineOptions {
  // data
  std::string data_dir = "seo_data";
  std::uint64_t corpus_mb = 32;
  std::uint64_t seed = 42;
  // loading and preprocessing
  std::size_t workers = 1;  // see default_workers()
  std::size_t prefetch = 4;
  std::size_t batch_size = 32;
  std::size_t max_tokens = 256;
  std::size_t vocab_size = 20000;
  std::size_t vocab_sample = 4000;
  TokenizerKind tokenizer = TokenizerKind::Fast;
  bool reread_corpus = false;  // re-read the corpus from disk every epoch (no cache)
  // model and training
  std::size_t epochs = 8;
  std::size_t embed_dim = 32;
  std::size_t hidden = 256;
  std::size_t grad_accum = 2;
  std::size_t patience = 2;
  double lr = 0.003;
  std::size_t lr_step = 2;
  double lr_gamma = 0.5;
  Precision precision = Precision::Auto;
  int threads = 1;
  double torch_ops_sample = 1.0;  // fraction of libtorch operators recorded; 0 = observer off
  bool leak = false;              // keep every step's tensors in a history (planted leak)
  // output
  std::string output_dir = "codeprof_output";
  bool serve = false;
  std::uint16_t port = 8765;
  bool progress = true;
  bool quick = false;
  bool generate_only = false;
  std::vector<std::string> plants;

  // Where this corpus lives: one directory per (size, seed) so runs of several sizes coexist.
  std::string corpus_dir() const;
};

// Loader workers when --workers is not given: the cores left beside the training thread, 1 to 4.
std::size_t default_workers(unsigned hardware_threads);

// The planted problems --plant accepts.
const std::vector<std::string>& plant_names();

// Parses argv. Returns the options, or an exit code (0 after --help, 2 after a bad flag; the
// message is already printed).
struct ParsedOptions {
  std::optional<PipelineOptions> options;
  int exit_code = 0;
};
ParsedOptions parse_options(int argc, char** argv);

}  // namespace seo
