#pragma once
// Per-operation allocation sites from a sampled profile: for each operation, the allocation
// samples whose innermost open operation it is, grouped by the site that allocated (the innermost
// frame outside the C++ standard library), most bytes first; and the same for the bytes still live.
#include "codeprof/snapshot.hpp"

namespace codeprof::sampling {

// Sets alloc_samples, alloc_sampled_bytes, live_sampled_bytes, hot_allocations and live_at_end of
// every operation in s.operations from s.profile (peak_live_sampled_bytes is left as it is).
void attribute_allocations(Snapshot& s);

}  // namespace codeprof::sampling
