#pragma once
// Where a suspected leak was allocated, from allocation sampling: the memory-leak-suspected
// recommendation names the site holding most of the sampled bytes still live
// ("72.4 % of its sampled live bytes were allocated at history.cpp:42 in keep_history()").
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

// Appends the top live_at_end site of the leaking operation (else of the operation holding the
// most sampled live bytes) to memory-leak-suspected's evidence and action.
void cite_leak_sites(const Snapshot& s, Findings& findings);

}  // namespace codeprof::analysis
