#pragma once
// Stacks sampled and symbolised outside the native sampler (e.g. by the Python package's sampler
// thread reading sys._current_frames()), handed to Profiler::add_samples. They are aggregated
// exactly like native samples: per-operation hot functions and lines, and the run's profile.
#include <cstdint>
#include <string>
#include <vector>

namespace codeprof {

// One frame of a sampled stack.
struct SampledFrame {
  std::string function;   // e.g. "tokenize" or "Tokenizer.encode"
  std::string file;       // e.g. "/app/pipeline/tokenizer.py" ("" when unknown)
  std::uint32_t line = 0; // the line executing in this frame (0 when unknown)
  std::string module;     // where the code lives; "" means the batch's mechanism (e.g. "python")
};

// One stack taken on one thread.
struct ExternalSample {
  std::vector<SampledFrame> frames;       // innermost first
  std::vector<std::uint32_t> operations;  // operation ids open on that thread, innermost first
                                          // (empty: no operation was open)
  std::uint64_t os_tid = 0;               // OS thread id (Python: threading.get_native_id())
  std::uint64_t count = 1;                // how many samples this stack stands for
};

// Samples taken by one mechanism since its previous batch.
struct SampleBatch {
  std::string mechanism = "python";  // shown in the report's sampling.sources
  double frequency_hz = 0.0;         // the mechanism's sampling rate
  std::uint64_t dropped = 0;         // samples it could not take or keep since the last batch
  std::vector<ExternalSample> samples;
};

}  // namespace codeprof
