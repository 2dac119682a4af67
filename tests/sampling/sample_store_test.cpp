// The sample store: frames interned once, stacks counted per (frames, operations, thread), hot
// functions and lines per operation, the stack limit, reset.
#include <gtest/gtest.h>

#include "sampling/hot_spots.hpp"
#include "sampling/sample_store.hpp"

namespace codeprof {
namespace {

std::vector<SiteInfo> sites() {
  return {{"load", Category::DataLoading, "", 0}, {"tokenize", Category::Preprocessing, "", 0}};
}

Snapshot with_operations(std::initializer_list<std::uint32_t> ids) {
  Snapshot s;
  for (auto id : ids) {
    OperationStats op;
    op.id = id;
    op.name = std::string("op").append(std::to_string(id));
    s.operations.push_back(op);
  }
  return s;
}

TEST(SampleStore, CountsDistinctStacksAndAttributesSelfSamples) {
  sampling::SampleStore store(100);
  {
    auto w = store.writer();
    w.note_source("perf_event", 999);
    const std::uint32_t hot = w.intern({"hot_loop", "/src/a.cpp", 10, "/bin/app", true});
    const std::uint32_t hot11 = w.intern({"hot_loop", "/src/a.cpp", 11, "/bin/app", true});
    const std::uint32_t caller = w.intern({"tokenize", "/src/a.cpp", 40, "/bin/app", false});
    EXPECT_EQ(w.intern({"hot_loop", "/src/a.cpp", 10, "/bin/app", true}), hot);
    const std::uint32_t s1[] = {hot, caller}, s2[] = {hot11, caller}, s3[] = {caller};
    const std::uint32_t ops[] = {1, 0};
    EXPECT_TRUE(w.add_cpu("perf_event", s1, ops, 77, 6));
    EXPECT_TRUE(w.add_cpu("perf_event", s2, ops, 77, 1));
    EXPECT_TRUE(w.add_cpu("perf_event", s3, ops, 77, 3));
    EXPECT_TRUE(w.add_cpu("perf_event", s1, ops, 77, 2));   // same stack: counted on the first
    EXPECT_TRUE(w.add_cpu("perf_event", s1, {}, 78, 5));    // outside every operation
    w.add_dropped("perf_event", 4);
  }
  Snapshot s = with_operations({0, 1});
  store.fill(s, sites());
  ASSERT_EQ(s.profile.stacks.size(), 4u);
  EXPECT_EQ(s.profile.stacks[0].cpu_samples, 8u);
  EXPECT_EQ(s.profile.frames.size(), 3u);
  ASSERT_EQ(s.profile.operations.size(), 2u);
  EXPECT_EQ(s.profile.operations[1].name, "tokenize");
  EXPECT_EQ(s.profile.operations[1].category, Category::Preprocessing);
  ASSERT_EQ(s.sampling.sources.size(), 1u);
  EXPECT_EQ(s.sampling.sources[0].samples, 17u);
  EXPECT_EQ(s.sampling.sources[0].dropped, 4u);
  EXPECT_EQ(s.sampling.sources[0].threads, 2u);
  EXPECT_EQ(s.sampling.sources[0].frequency_hz, 999.0);

  const OperationStats& tok = s.operations[1];
  EXPECT_EQ(tok.cpu_samples, 12u);
  EXPECT_EQ(s.operations[0].cpu_samples, 0u);  // the parent gets no self samples
  ASSERT_EQ(tok.hot_functions.size(), 2u);
  EXPECT_EQ(tok.hot_functions[0].function, "hot_loop");
  EXPECT_EQ(tok.hot_functions[0].samples, 9u);
  EXPECT_EQ(tok.hot_functions[0].line, 10u);  // its most sampled line
  EXPECT_DOUBLE_EQ(tok.hot_functions[0].share, 0.75);
  ASSERT_EQ(tok.hot_lines.size(), 3u);
  EXPECT_EQ(tok.hot_lines[0].line, 10u);
  EXPECT_EQ(tok.hot_lines[0].samples, 8u);
  EXPECT_EQ(tok.hot_lines[1].function, "tokenize");
  EXPECT_EQ(tok.hot_lines[1].samples, 3u);
  EXPECT_EQ(tok.hot_lines[2].line, 11u);
}

TEST(SampleStore, FullTableDropsNewStacksAndCountsThem) {
  sampling::SampleStore store(2);
  {
    auto w = store.writer();  // holds the store's lock until the end of this block
    const std::uint32_t a = w.intern({"a", "", 0, "m", false}), b = w.intern({"b", "", 0, "m", false}),
                        c = w.intern({"c", "", 0, "m", false});
    const std::uint32_t sa[] = {a}, sb[] = {b}, sc[] = {c};
    EXPECT_TRUE(w.add_cpu("timer", sa, {}, 1, 1));
    EXPECT_TRUE(w.add_cpu("timer", sb, {}, 1, 1));
    EXPECT_FALSE(w.add_cpu("timer", sc, {}, 1, 3));
    EXPECT_TRUE(w.add_cpu("timer", sa, {}, 1, 1));  // known stacks still count
  }
  Snapshot s;
  store.fill(s, {});
  EXPECT_EQ(s.sampling.samples, 3u);
  EXPECT_EQ(s.sampling.dropped, 3u);
  EXPECT_EQ(s.profile.stacks.size(), 2u);
}

TEST(SampleStore, ResetForgetsSamplesButKeepsSources) {
  sampling::SampleStore store(10);
  {
    auto w = store.writer();
    w.note_source("perf_event", 999);
    const std::uint32_t f[] = {w.intern({"f", "", 0, "m", false})};
    w.add_cpu("perf_event", f, {}, 1, 5);
  }
  store.reset();
  Snapshot s;
  store.fill(s, {});
  EXPECT_TRUE(s.profile.stacks.empty());
  EXPECT_TRUE(s.profile.frames.empty());
  ASSERT_EQ(s.sampling.sources.size(), 1u);
  EXPECT_EQ(s.sampling.sources[0].samples, 0u);
  EXPECT_EQ(s.sampling.sources[0].frequency_hz, 999.0);
}

TEST(HotSpots, StackWithoutFramesCountsAsUnknownAndListsAreBounded) {
  Snapshot s = with_operations({3});
  for (std::uint32_t i = 0; i < 30; ++i) s.profile.frames.push_back({std::string(1, 'f').append(std::to_string(i)), "x.cpp", i + 1, "m", false});
  s.profile.stacks.push_back({{}, {3}, 1, 50, 0, 0, 0});
  for (std::uint32_t i = 0; i < 30; ++i) s.profile.stacks.push_back({{i}, {3}, 1, 1 + i, 0, 0, 0});
  sampling::attribute_hot_spots(s);
  const auto& op = s.operations[0];
  EXPECT_EQ(op.cpu_samples, 50u + 30u * 31u / 2u);
  ASSERT_EQ(op.hot_functions.size(), kHotSpotsPerOperation);
  EXPECT_EQ(op.hot_functions[0].function, "[unknown]");
  EXPECT_EQ(op.hot_functions[1].function, "f29");
  EXPECT_EQ(op.hot_lines.size(), kHotSpotsPerOperation);
  double sum = 0;
  for (const auto& h : op.hot_lines) sum += h.share;
  EXPECT_LE(sum, 1.0);
}

}  // namespace
}  // namespace codeprof
