#pragma once
// Collective communication (all-reduce, all-gather, broadcast, barrier, ...): in a synchronous
// distributed job a rank waits there for the slowest rank, so the time outside collectives is what
// tells the ranks apart (the rank comparison, the Prometheus step metrics, the straggler alert).
#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

// Collective communication, by name (nccl:/gloo:/c10d:: annotations, NCCL kernels, all_reduce,
// all_gather, reduce_scatter, all_to_all, broadcast, barrier) or by the multi_gpu category.
bool is_collective(const OperationStats& op);

// Time in collectives: outermost collective calls (time a collective spends inside another one is
// not counted twice); NCCL kernels count only when no CPU-side collective was recorded.
double collective_seconds(const Snapshot& snapshot);

}  // namespace codeprof::analysis
