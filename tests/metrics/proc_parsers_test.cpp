// The /proc parsers on fixed texts (including awkward command names), and on the live files.
#include <gtest/gtest.h>

#include "metrics/proc_file.hpp"
#include "metrics/proc_io_probe.hpp"
#include "metrics/process_reader.hpp"
#include "metrics/rss_probe.hpp"

using namespace codeprof::metrics;

TEST(ProcParsers, IoFile) {
  const char* text =
      "rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 3\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
  IoCounters c;
  ASSERT_TRUE(parse_io(text, c));
  EXPECT_EQ(c.rchar, 6976);
  EXPECT_EQ(c.wchar, 12);
  EXPECT_EQ(c.syscr, 10);
  EXPECT_EQ(c.syscw, 3);
  EXPECT_EQ(c.read_bytes, 4096);
  EXPECT_EQ(c.write_bytes, 8192);
  EXPECT_FALSE(parse_io("rchar: 1\nwchar: 2\n", c));  // syscr/syscw missing
  EXPECT_FALSE(parse_io("", c));
  // "write_bytes" must not match "cancelled_write_bytes" or a prefix of another key.
  EXPECT_EQ(proc_field("cancelled_write_bytes: 5\nwrite_bytes: 7\n", "write_bytes"), 7);
  EXPECT_EQ(proc_field("rchars: 5\n", "rchar"), std::nullopt);
}

TEST(ProcParsers, NthNumber) {
  EXPECT_EQ(nth_number("765 438 410 5 0 123 0\n", 0), 765);
  EXPECT_EQ(nth_number("765 438 410 5 0 123 0\n", 1), 438);
  EXPECT_EQ(nth_number("765 438", 2), std::nullopt);
  EXPECT_EQ(nth_number("  12\t 34", 1), 34);
  EXPECT_EQ(nth_number("x 34", 0), std::nullopt);
}

TEST(ProcParsers, ThreadCountSurvivesSpacesAndParensInTheCommandName) {
  const char* text =
      "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1000 0 0 0 12 3 0 0 20 0 7 0 12345 1000000 250 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  std::int64_t threads = 0;
  ASSERT_TRUE(parse_thread_count(text, threads));
  EXPECT_EQ(threads, 7);
  EXPECT_FALSE(parse_thread_count("no parenthesis here", threads));
  EXPECT_FALSE(parse_thread_count("1 (x) S 1 2", threads));
}

TEST(ProcParsers, SystemCpuLine) {
  std::int64_t busy = 0, total = 0;
  ASSERT_TRUE(parse_system_cpu("cpu  100 5 20 800 50 1 2 3 0 0\ncpu0 1 2 3 4\n", busy, total));
  EXPECT_EQ(total, 100 + 5 + 20 + 800 + 50 + 1 + 2 + 3);
  EXPECT_EQ(busy, total - 800 - 50);
  EXPECT_FALSE(parse_system_cpu("cpu0 1 2 3 4\n", busy, total));
  EXPECT_FALSE(parse_system_cpu("", busy, total));
}

TEST(ProcParsers, LiveFilesOfThisProcess) {
  RssProbe rss;
  ASSERT_TRUE(rss.available()) << rss.unavailable_reason();
  EXPECT_GT(rss.rss_bytes(), 1 << 20);
  EXPECT_TRUE(thread_io_unavailable_reason().empty()) << thread_io_unavailable_reason();
  ProcessReader reader;
  EXPECT_TRUE(reader.problems().empty());
  const ProcessReading r = reader.read();
  EXPECT_TRUE(r.has_memory && r.has_threads && r.has_fds && r.has_io && r.has_system);
  EXPECT_GE(r.threads, 1);
  EXPECT_GE(r.open_fds, 3);
  EXPECT_GT(r.system_total_ticks, r.system_busy_ticks);
  EXPECT_GT(r.cpu_ns, 0);
}

TEST(ProcParsers, MissingFileIsReportedNotFatal) {
  ProcFile f("/proc/self/no_such_file");
  EXPECT_FALSE(f.is_open());
  EXPECT_NE(f.open_errno(), 0);
  char buf[16];
  EXPECT_TRUE(f.read(buf, sizeof buf).empty());
}
