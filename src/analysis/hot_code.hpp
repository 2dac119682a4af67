#pragma once
// Where an operation's CPU samples fall, in words a user can act on: the line of the user's own
// code with the most samples under it, and the function most of them were in ("61 % of its CPU
// samples at text_clean.cpp:88, mostly in std::regex_replace"). Recommendations and bottlenecks about an operation cite it when the
// operation has enough samples (docs/RULES.md "Hot code").
#include <cstdint>
#include <optional>
#include <string>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

// Samples an operation needs before its hot code is cited: at 20 samples the standard error of a
// share is at most 11 points (sqrt(0.25 / 20)), enough to tell a dominant line from noise.
inline constexpr std::uint64_t kMinSamplesToCite = 20;

struct HotCode {
  std::string function;  // the innermost function most of those samples were in
  std::string file;      // the user's code: the innermost frame outside system headers and
  std::uint32_t line = 0;  // libraries (0: unknown)
  std::uint64_t samples = 0;  // samples under that line
  double share = 0.0;    // of the operation's CPU samples
  std::string text() const;  // "61 % of its CPU samples at file.cpp:88, mostly in F"
};

// The user line with the most samples of operation `id` under it; none below kMinSamplesToCite.
std::optional<HotCode> hottest_code(const Snapshot& s, std::uint32_t operation_id);

// Appends the hot code of the operation each finding is about to its evidence and text.
void cite_hot_code(const Snapshot& s, Findings& findings);

}  // namespace codeprof::analysis
