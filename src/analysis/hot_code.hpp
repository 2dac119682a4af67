#pragma once
// Where an operation's CPU samples fall, in words a user can act on: the hottest function and the
// line of the user's own code it runs from ("61 % of its samples in std::regex_replace
// (text_clean.cpp:88)"). Recommendations and bottlenecks about an operation cite it when the
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
  std::string function;  // the innermost function of the samples
  std::string file;      // the user's code they ran from: the innermost frame outside system
  std::uint32_t line = 0;  // headers and libraries (0: unknown)
  std::uint64_t samples = 0;
  double share = 0.0;    // of the operation's CPU samples
  std::string text() const;  // "61 % of its CPU samples in F (file.cpp:88)"
};

// The (function, user line) pair with the most samples of operation `id`; none below kMinSamplesToCite.
std::optional<HotCode> hottest_code(const Snapshot& s, std::uint32_t operation_id);

// Appends the hot code of the operation each finding is about to its evidence and text.
void cite_hot_code(const Snapshot& s, Findings& findings);

}  // namespace codeprof::analysis
