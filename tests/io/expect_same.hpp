#pragma once
// Round-trip comparisons of Snapshots and Findings: every field a report carries, through the
// structs' operator==. Not compared: run.source/source_path (they say where a copy came from), the
// metadata a reader adds, and the raw trace events (not part of a report). Compared with a
// tolerance: an operation's mean and standard deviation, which the report writes in seconds (a
// division by 1e9 and a multiplication back, so the last bit may differ).
#include <gtest/gtest.h>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::test {

// `b` as `a` should be after a round trip: the fields a report does not carry, or carries with a
// rounding, taken from `a` once their allowed difference is checked.
inline Snapshot as_written(const Snapshot& a, Snapshot b) {
  b.run.source = a.run.source;
  b.run.source_path = a.run.source_path;
  for (const auto& [key, value] : a.run.metadata) {
    const auto it = b.run.metadata.find(key);
    EXPECT_TRUE(it != b.run.metadata.end() && it->second == value) << "run.metadata " << key;
  }
  b.run.metadata = a.run.metadata;
  b.trace_events = a.trace_events;
  if (b.operations.size() == a.operations.size())
    for (std::size_t i = 0; i < a.operations.size(); ++i) {
      SCOPED_TRACE(a.operations[i].name);
      EXPECT_DOUBLE_EQ(a.operations[i].mean_ns, b.operations[i].mean_ns);
      EXPECT_DOUBLE_EQ(a.operations[i].stddev_ns, b.operations[i].stddev_ns);
      b.operations[i].mean_ns = a.operations[i].mean_ns;
      b.operations[i].stddev_ns = a.operations[i].stddev_ns;
    }
  return b;
}

inline void expect_same_snapshot(const Snapshot& a, const Snapshot& read_back) {
  const Snapshot b = as_written(a, read_back);
  // Part by part first, so a failure says where; then the whole, for the scalars.
  EXPECT_TRUE(a.run == b.run) << "run";
  ASSERT_EQ(a.operations.size(), b.operations.size());
  for (std::size_t i = 0; i < a.operations.size(); ++i)
    EXPECT_TRUE(a.operations[i] == b.operations[i]) << "operations[" << i << "] " << a.operations[i].name;
  EXPECT_TRUE(a.call_tree == b.call_tree) << "call_tree";
  EXPECT_TRUE(a.threads == b.threads) << "threads";
  EXPECT_TRUE(a.timelines == b.timelines) << "timelines";
  EXPECT_TRUE(a.steps == b.steps) << "steps";
  EXPECT_TRUE(a.devices == b.devices) << "devices";
  EXPECT_TRUE(a.sampling == b.sampling) << "sampling";
  EXPECT_TRUE(a.profile == b.profile) << "profile";
  EXPECT_TRUE(a.custom_metrics == b.custom_metrics) << "custom_metrics";
  EXPECT_TRUE(a.alerts == b.alerts) << "alerts";
  EXPECT_TRUE(a == b) << "the Snapshot's counters (events, trace window, sync time, alert delivery)";
}

inline void expect_same_findings(const Findings& a, const Findings& b) {
  EXPECT_TRUE(a.bottlenecks == b.bottlenecks) << "bottlenecks";
  EXPECT_TRUE(a.classification == b.classification) << "classification";
  EXPECT_TRUE(a.step_timing == b.step_timing) << "step_timing";
  EXPECT_TRUE(a.trends == b.trends) << "trends";
  ASSERT_EQ(a.recommendations.size(), b.recommendations.size());
  for (std::size_t i = 0; i < a.recommendations.size(); ++i)
    EXPECT_TRUE(a.recommendations[i] == b.recommendations[i]) << "recommendations[" << i << "] " << a.recommendations[i].id;
  EXPECT_TRUE(a.inconclusive == b.inconclusive) << "inconclusive";
}

}  // namespace codeprof::test
