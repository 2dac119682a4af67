// The sampled profile as pprof (read back by the real pprof tool from Debian's Go toolchain, and
// decoded with the .proto) and as folded stacks.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>

#include "codeprof/exporters.hpp"
#include "io/profile.pb.h"
#include "io/run_command.hpp"
#include "io/sample_snapshot.hpp"

namespace codeprof {
namespace {

std::string gunzip(const std::string& gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out;
  char buf[65536];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  EXPECT_EQ(rc, Z_STREAM_END);
  return out;
}

TEST(Pprof, DecodesWithTheProtoAndKeepsStacksLabelsAndInlinedLines) {
  const Snapshot s = test::sample_snapshot();
  perftools::profiles::Profile p;
  ASSERT_TRUE(p.ParseFromString(gunzip(io::to_pprof(s))));
  const auto str = [&](std::int64_t i) { return p.string_table(static_cast<int>(i)); };
  EXPECT_EQ(p.string_table(0), "");
  ASSERT_EQ(p.sample_type_size(), 6);  // allocation samples exist in the sample snapshot
  EXPECT_EQ(str(p.sample_type(0).type()), "samples");
  EXPECT_EQ(str(p.sample_type(1).type()), "cpu");
  EXPECT_EQ(str(p.sample_type(2).type()), "alloc_objects");
  EXPECT_EQ(str(p.sample_type(3).type()), "alloc_space");
  EXPECT_EQ(str(p.sample_type(4).type()), "inuse_objects");
  EXPECT_EQ(str(p.sample_type(5).type()), "inuse_space");
  // The stack with allocations: estimated objects and bytes, allocated and still live.
  const auto& alloc = p.sample(1);
  EXPECT_EQ(alloc.value(2), 96);
  EXPECT_EQ(alloc.value(3), 6'291'456);
  EXPECT_EQ(alloc.value(4), 32);
  EXPECT_EQ(alloc.value(5), 2'097'152);
  EXPECT_EQ(p.period(), static_cast<std::int64_t>(1e9 / 999.0));
  ASSERT_EQ(p.sample_size(), static_cast<int>(s.profile.stacks.size()));
  const auto& first = p.sample(0);
  EXPECT_EQ(first.value(0), 900);
  // Frames 0 (inlined) and 1 share one location: two lines, inlined first.
  ASSERT_EQ(first.location_id_size(), 2);
  const auto& loc = p.location(static_cast<int>(first.location_id(0) - 1));
  ASSERT_EQ(loc.line_size(), 2);
  EXPECT_EQ(loc.line(0).line(), 88);
  EXPECT_EQ(str(p.function(static_cast<int>(loc.line(0).function_id() - 1)).name()), "count_tokens(std::string_view)");
  bool has_operation = false;
  for (const auto& l : first.label())
    if (str(l.key()) == "operation") has_operation = str(l.str()) == s.profile.operations[1].name;
  EXPECT_TRUE(has_operation);
}

TEST(Pprof, TheRealPprofToolReadsIt) {
  if (std::string(CODEPROF_PPROF).empty()) GTEST_SKIP() << "pprof not found (Debian golang-1.19-go ships it)";
  test::TempDir dir("pprof");
  const std::string path = dir.file("cpu.pb.gz");
  io::write_export("pprof", path, test::sample_snapshot(), {});
  const auto top = test::run_command(std::string(CODEPROF_PPROF) + " -top -sample_index=samples " + test::shell_quote(path));
  ASSERT_EQ(top.exit_code, 0) << top.output;
  EXPECT_NE(top.output.find("count_tokens"), std::string::npos) << top.output;
  EXPECT_NE(top.output.find("1240 total"), std::string::npos) << top.output;  // every sample
  // The operation label filters: only the tokenizer's 1200 samples.
  const auto focus = test::run_command(std::string(CODEPROF_PPROF) + " -top -sample_index=samples -tagfocus=operation=tokenize " +
                                       test::shell_quote(path));
  ASSERT_EQ(focus.exit_code, 0) << focus.output;
  EXPECT_NE(focus.output.find("Showing nodes accounting for 1200, "), std::string::npos) << focus.output;
  EXPECT_NE(focus.output.find("count_tokens (inline)"), std::string::npos) << focus.output;
  const auto lines = test::run_command(std::string(CODEPROF_PPROF) + " -top -lines -sample_index=samples " + test::shell_quote(path));
  EXPECT_NE(lines.output.find("tok.cpp:88"), std::string::npos) << lines.output;
}

TEST(Folded, OperationsAreRootFramesAndCountsAddUp) {
  const std::string folded = io::to_folded(test::sample_snapshot());
  EXPECT_NE(folded.find("operation:train_step;operation:tokenize, \"fast\" v2;main;tokenize(std::vector<std::string> const&);"
                        "count_tokens(std::string_view) 900\n"),
            std::string::npos)
      << folded;
  EXPECT_NE(folded.find("operation:still_open;encode 40\n"), std::string::npos) << folded;
  std::uint64_t total = 0;
  std::istringstream in(folded);
  for (std::string line; std::getline(in, line);) total += std::stoull(line.substr(line.rfind(' ') + 1));
  EXPECT_EQ(total, 1240u);  // the stack with allocations only has no CPU samples
  EXPECT_EQ(io::to_folded(Snapshot{}), "");
}

TEST(Folded, AllocationsFoldBytesAllocatedAndBytesStillLive) {
  const Snapshot s = test::sample_snapshot();
  const std::string allocated = io::to_folded(s, io::FoldedAllocations::Allocated);
  EXPECT_EQ(allocated,
            "main;[libfoo.so.1+0x1f30] 2621440\n"
            "operation:train_step;operation:tokenize, \"fast\" v2;main;tokenize(std::vector<std::string> const&) 6291456\n");
  EXPECT_EQ(io::to_folded(s, io::FoldedAllocations::Live),
            "operation:train_step;operation:tokenize, \"fast\" v2;main;tokenize(std::vector<std::string> const&) 2097152\n");
}

TEST(Pprof, TheRealPprofToolReadsTheAllocationSampleTypes) {
  if (std::string(CODEPROF_PPROF).empty()) GTEST_SKIP() << "pprof not found (Debian golang-1.19-go ships it)";
  test::TempDir dir("pprof_alloc");
  const std::string path = dir.file("cpu.pb.gz");
  io::write_export("pprof", path, test::sample_snapshot(), {});
  const auto space = test::run_command(std::string(CODEPROF_PPROF) + " -top -sample_index=alloc_space " + test::shell_quote(path));
  ASSERT_EQ(space.exit_code, 0) << space.output;
  EXPECT_NE(space.output.find("8.50MB total"), std::string::npos) << space.output;  // 6 MiB + 2.5 MiB
  const auto inuse = test::run_command(std::string(CODEPROF_PPROF) + " -top -sample_index=inuse_space " + test::shell_quote(path));
  ASSERT_EQ(inuse.exit_code, 0) << inuse.output;
  EXPECT_NE(inuse.output.find("2MB total"), std::string::npos) << inuse.output;
  EXPECT_NE(inuse.output.find("tokenize"), std::string::npos) << inuse.output;
  const auto objects = test::run_command(std::string(CODEPROF_PPROF) + " -top -sample_index=alloc_objects " + test::shell_quote(path));
  ASSERT_EQ(objects.exit_code, 0) << objects.output;
  EXPECT_NE(objects.output.find("136 total"), std::string::npos) << objects.output;  // 96 + 40 estimated allocations
  const auto live = test::run_command(std::string(CODEPROF_PPROF) + " -top -sample_index=inuse_objects " + test::shell_quote(path));
  ASSERT_EQ(live.exit_code, 0) << live.output;
  EXPECT_NE(live.output.find("32 total"), std::string::npos) << live.output;
}

}  // namespace
}  // namespace codeprof
