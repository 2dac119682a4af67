#pragma once
// Per-operation hot functions and hot lines from a sampled profile: for each operation, where its
// own CPU samples fell (the innermost frame of each sample whose innermost open operation it is).
#include "codeprof/snapshot.hpp"

namespace codeprof::sampling {

// Sets cpu_samples, hot_functions and hot_lines of every operation in s.operations from s.profile.
void attribute_hot_spots(Snapshot& s);

// The frame a sample is charged to when it has no frames at all (the unwinder found none).
const ProfileFrame& unknown_frame();

}  // namespace codeprof::sampling
