// The hot code a finding cites: the share it names belongs to the place it names.
#include <gtest/gtest.h>

#include "analysis/hot_code.hpp"

namespace codeprof {
namespace {

// One operation with 100 CPU samples: 40 in libA's f_a and 35 in libB's f_b (no debug information
// in either), 25 at the user's helper.cpp:3 (called from x.cpp:10).
Snapshot libraries_without_lines() {
  Snapshot s;
  OperationStats op;
  op.id = 1;
  op.name = "aten::mm";
  op.count = 1;
  op.cpu_samples = 100;
  s.operations.push_back(op);
  SampleProfile& p = s.profile;
  p.frames = {{"f_a", "", 0, "/opt/libA.so", false},
              {"f_b", "", 0, "/opt/libB.so", false},
              {"leaf_in_user_line", "/src/helper.cpp", 3, "/opt/app", false},
              {"user_fn", "/src/x.cpp", 10, "/opt/app", false}};
  const auto stack = [](std::vector<std::uint32_t> frames, std::uint64_t samples) {
    ProfileStack st;
    st.frames = std::move(frames);
    st.operations = {1};
    st.cpu_samples = samples;
    return st;
  };
  p.stacks = {stack({0}, 40), stack({1}, 35), stack({2, 3}, 25)};
  return s;
}

TEST(HotCode, FunctionsWithoutLinesAreNotPooledUnderOneName) {
  const auto hot = analysis::hottest_code(libraries_without_lines(), 1);
  ASSERT_TRUE(hot.has_value());
  EXPECT_EQ(hot->function, "f_a");
  EXPECT_EQ(hot->samples, 40u);
  EXPECT_DOUBLE_EQ(hot->share, 0.40);
  EXPECT_EQ(hot->text(), "40.0 % of its CPU samples in f_a");
}

TEST(HotCode, AUserLineGathersTheFunctionsUnderIt) {
  Snapshot s = libraries_without_lines();
  s.profile.stacks[2].cpu_samples = 60;  // now the user's line leads
  s.operations[0].cpu_samples = 135;
  const auto hot = analysis::hottest_code(s, 1);
  ASSERT_TRUE(hot.has_value());
  EXPECT_EQ(hot->file, "/src/helper.cpp");
  EXPECT_EQ(hot->line, 3u);
  EXPECT_EQ(hot->function, "leaf_in_user_line");
  EXPECT_EQ(hot->samples, 60u);
}

}  // namespace
}  // namespace codeprof
