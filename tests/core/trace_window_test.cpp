// The raw trace's window: the first or the last events within a budget of events and bytes, and
// the count of those outside; through the Recorder, which events a run's trace shows.
#include "core/trace_window.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "codeprof/scope.hpp"
#include "core/recorder.hpp"

using namespace codeprof;
using core::TraceBudget;
using core::TracePolicy;
using core::TraceWindow;

namespace {

TraceEvent event(std::int64_t start, std::int64_t duration, bool probes = false) {
  TraceEvent e;
  e.operation_id = static_cast<std::uint32_t>(start);
  e.start_ns = start;
  e.duration_ns = duration;
  if (probes) e.probes.set(ProbeMetric::CpuTimeNs, start);
  return e;
}

}  // namespace

TEST(TraceWindow, LastKeepsTheMostRecentEventsAndCountsTheRest) {
  TraceWindow w(TraceBudget{TracePolicy::Last, 3, 0});
  for (int i = 0; i < 10; ++i) w.add(event(i * 100, 50));
  Snapshot s;
  w.fill(s);
  ASSERT_EQ(s.trace_events.size(), 3u);
  EXPECT_EQ(s.trace_events[0].start_ns, 700);
  EXPECT_EQ(s.trace_events[2].start_ns, 900);
  EXPECT_EQ(s.trace_events_dropped, 7u);
  EXPECT_EQ(s.trace_policy, "last");
  EXPECT_EQ(s.trace_window_start_ns, 700);
  EXPECT_EQ(s.trace_window_end_ns, 950);
}

TEST(TraceWindow, FirstKeepsTheFirstEvents) {
  TraceWindow w(TraceBudget{TracePolicy::First, 3, 0});
  for (int i = 0; i < 10; ++i) w.add(event(i * 100, 50));
  Snapshot s;
  w.fill(s);
  ASSERT_EQ(s.trace_events.size(), 3u);
  EXPECT_EQ(s.trace_events[0].start_ns, 0);
  EXPECT_EQ(s.trace_events[2].start_ns, 200);
  EXPECT_EQ(s.trace_events_dropped, 7u);
  EXPECT_EQ(s.trace_policy, "first");
  EXPECT_EQ(s.trace_window_end_ns, 250);
}

TEST(TraceWindow, ByteBudgetCountsProbeValuesAndKeepsThemWithTheirEvents) {
  // Room for one event with probe values (32 + sizeof(ProbeDeltas) bytes) but not for two events
  // when one of them has probe values; plain events fill it by the number that fits.
  const std::uint64_t budget = TraceWindow::kEventBytes + TraceWindow::kProbeBytes + 4;
  ASSERT_GT(2 * TraceWindow::kEventBytes + TraceWindow::kProbeBytes, budget);
  const std::uint64_t plain_fit = budget / TraceWindow::kEventBytes;
  ASSERT_LT(plain_fit, 100u);
  TraceWindow w(TraceBudget{TracePolicy::Last, 1000, budget});
  for (int i = 0; i < 6; ++i) w.add(event(i, 1, i % 2 == 1));
  Snapshot s;
  w.fill(s);
  ASSERT_EQ(s.trace_events.size(), 1u);
  EXPECT_EQ(s.trace_events[0].start_ns, 5);
  EXPECT_EQ(s.trace_events[0].probes.get(ProbeMetric::CpuTimeNs), 5);
  EXPECT_EQ(s.trace_events_dropped, 5u);

  TraceWindow plain(TraceBudget{TracePolicy::Last, 1000, budget});
  const int added = static_cast<int>(plain_fit) + 1;
  for (int i = 0; i < added; ++i) plain.add(event(i, 1));
  plain.fill(s);
  EXPECT_EQ(s.trace_events.size(), plain_fit);
  EXPECT_EQ(s.trace_events_dropped, 1u);
  EXPECT_EQ(s.trace_events.front().start_ns, 1);
}

TEST(TraceWindow, ShrinkingTheBudgetLeavesOutTheRightEnd) {
  TraceWindow last(TraceBudget{TracePolicy::Last, 10, 0});
  TraceWindow first(TraceBudget{TracePolicy::First, 10, 0});
  for (int i = 0; i < 10; ++i) {
    last.add(event(i, 1));
    first.add(event(i, 1));
  }
  last.set_budget(TraceBudget{TracePolicy::Last, 4, 0});
  first.set_budget(TraceBudget{TracePolicy::First, 4, 0});
  Snapshot a, b;
  last.fill(a);
  first.fill(b);
  ASSERT_EQ(a.trace_events.size(), 4u);
  ASSERT_EQ(b.trace_events.size(), 4u);
  EXPECT_EQ(a.trace_events.front().start_ns, 6);
  EXPECT_EQ(b.trace_events.back().start_ns, 3);
  EXPECT_EQ(a.trace_events_dropped, 6u);
  EXPECT_EQ(b.trace_events_dropped, 6u);
}

// A run of 1,000 calls with a budget of 100: "last" shows the end of the run, "first" its start.
TEST(TraceWindow, ARecordersTraceShowsTheEndOfTheRunByDefault) {
  for (TracePolicy policy : {TracePolicy::Last, TracePolicy::First}) {
    core::RecorderOptions o;
    o.keep_trace = true;
    o.trace_budget = 100;
    o.trace_policy = policy;
    core::Recorder rec(o);
    const SiteId site = register_site("window.call", Category::Custom);
    for (int i = 0; i < 1000; ++i) Scope s(rec.state(), site);
    Snapshot s;
    rec.fill(s);
    ASSERT_EQ(s.trace_events.size(), 100u);
    EXPECT_EQ(s.trace_events_dropped, 900u);
    EXPECT_EQ(s.find("window.call")->count, 1000u);
    const OperationStats& op = *s.find("window.call");
    if (policy == TracePolicy::Last) {
      EXPECT_EQ(s.trace_policy, "last");
      EXPECT_LE(std::abs(s.trace_window_end_ns - op.last_seen_ns), 2);  // start + duration vs end: rounding
      EXPECT_GT(s.trace_window_start_ns, op.first_seen_ns);
    } else {
      EXPECT_EQ(s.trace_policy, "first");
      EXPECT_LE(std::abs(s.trace_window_start_ns - op.first_seen_ns), 2);
      EXPECT_LT(s.trace_window_end_ns, op.last_seen_ns);
    }
  }
}

// A copy of only some categories' events (the alert monitor's): the others are left out, probe
// values stay with their own events, and the window fields and the drop count are the whole
// window's, so a reader can tell a trace was kept.
TEST(TraceWindow, ACopyOfSomeCategoriesKeepsTheWholeWindowsFields) {
  core::RecorderOptions o;
  o.keep_trace = true;
  o.trace_budget = 300;
  core::Recorder rec(o);
  const SiteId load = register_site("window.load", Category::DataLoading);
  const SiteId work = register_site("window.work", Category::Cpu);
  for (int i = 0; i < 200; ++i) {
    { Scope s(rec.state(), work); }
    if (i % 4 == 0) Scope s(rec.state(), load);
  }
  Snapshot all, some;
  rec.fill(all);
  rec.fill(some, category_bit(Category::DataLoading));
  EXPECT_EQ(all.trace_categories, kAllCategoriesMask);
  EXPECT_EQ(some.trace_categories, category_bit(Category::DataLoading));
  ASSERT_EQ(all.trace_events.size(), 250u);
  ASSERT_EQ(some.trace_events.size(), 50u);
  std::vector<TraceEvent> loads;
  for (const TraceEvent& e : all.trace_events)
    if (e.operation_id == load.id) loads.push_back(e);
  EXPECT_EQ(some.trace_events, loads) << "the same events, in the same order, probe values included";
  EXPECT_EQ(some.trace_window_start_ns, all.trace_window_start_ns);
  EXPECT_EQ(some.trace_window_end_ns, all.trace_window_end_ns);
  EXPECT_EQ(some.trace_events_dropped, all.trace_events_dropped);
  EXPECT_EQ(some.trace_policy, all.trace_policy);
}
