#pragma once
// Reading a thread's own statistics (detail::ThreadBuffer) while it keeps recording.
#include <cstdint>

#include "codeprof/detail/recorder_state.hpp"
#include "core/aggregator.hpp"

namespace codeprof::core {

// Merges what `thread` recorded since the reset numbered `epoch` into `into`, as thread
// `thread_index`: operations, histograms, series, slowest calls, call-tree edges, probe
// aggregates and the thread's totals. Nothing when the thread has not recorded since that reset.
// Each operation's count, total, self, min, max, moments and slowest calls are read as one
// consistent set (a sequence lock, retried); its histogram, series and edges each on their own,
// so while the thread records they may include a few more calls than the count.
void merge_thread_statistics(const detail::ThreadBuffer& thread, std::uint32_t epoch, std::uint32_t thread_index,
                             const detail::TickScale& scale, Aggregator& into);

// Every call the thread recorded since it started (resets included).
std::uint64_t lifetime_events(const detail::ThreadBuffer& thread);

}  // namespace codeprof::core
