// Allocation sampling through a real Profiler, with codeprof::alloc linked into this binary: the
// planted 70 % site comes first with its share, the estimate of the bytes is unbiased, a planted
// leak is live at the end, reset forgets, the report carries it all, and threads that allocate,
// free each other's blocks and take snapshots at once stay consistent (run under TSan too), and
// the pprof heap profile read back holds unbiased estimates of both objects and bytes.
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <thread>

#include "codeprof/exporters.hpp"
#include "codeprof/profiler.hpp"
#include "io/profile.pb.h"
#include "io/run_command.hpp"
#include "sampling/planted_allocations.hpp"

namespace codeprof {
namespace {

Config alloc_config(std::uint32_t interval_bytes) {
  Config c;
  c.sampler_enabled = false;
  c.sampling.alloc_enabled = true;
  c.sampling.alloc_interval_bytes = interval_bytes;
  return c;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

void print_sites(const char* what, const std::vector<AllocSite>& sites) {
  for (const auto& a : sites)
    std::printf("%s: %s %s:%u samples=%llu bytes=%llu share=%.3f\n", what, a.function.c_str(), a.file.c_str(), a.line,
                static_cast<unsigned long long>(a.samples), static_cast<unsigned long long>(a.bytes), a.share);
}

TEST(AllocSampling, PlantedSiteComesFirstWithItsShare) {
  Profiler p(alloc_config(64 * 1024));
  const SiteId planted = register_site("alloc.planted", Category::Preprocessing);
  std::size_t requested = 0;
  {
    auto scope = p.scope(planted);
    requested = test::allocate_planted(96u << 20);
  }
  const Snapshot s = p.snapshot();
  for (const auto& u : s.sampling.unavailable) std::printf("unavailable: %s: %s\n", u.what.c_str(), u.reason.c_str());
  const OperationStats* op = s.find("alloc.planted");
  ASSERT_NE(op, nullptr);
  print_sites("hot", op->hot_allocations);
  EXPECT_EQ(s.sampling.alloc_interval_bytes, 64u * 1024);
  EXPECT_GE(s.sampling.alloc_samples, op->alloc_samples);
  ASSERT_GT(op->alloc_samples, 500u);  // 96 MiB at a 64 KiB mean: ~1500 expected
  ASSERT_GE(op->hot_allocations.size(), 2u);
  const AllocSite& first = op->hot_allocations.front();
  EXPECT_TRUE(ends_with(first.file, test::kPlantedAllocFile)) << first.file;
  EXPECT_EQ(first.line, test::kHotAllocLine);
  EXPECT_NEAR(first.share, 0.70, 0.10);
  const AllocSite& second = op->hot_allocations[1];
  EXPECT_EQ(second.line, test::kColdAllocLine);
  EXPECT_NEAR(second.share, 0.30, 0.10);
  // Usable sizes are a little above the requests; the estimate is unbiased, its error ~1/sqrt(n).
  EXPECT_NEAR(static_cast<double>(op->alloc_sampled_bytes) / static_cast<double>(requested), 1.0, 0.2);
  EXPECT_LT(op->live_sampled_bytes, op->alloc_sampled_bytes / 20);  // everything was freed
  // Stacks start at the caller of operator new.
  for (const ProfileStack& st : s.profile.stacks) {
    if (st.alloc_samples > 0 && !st.frames.empty()) {
      EXPECT_EQ(s.profile.frames[st.frames.front()].function.find("operator new"), std::string::npos);
    }
  }
}

TEST(AllocSampling, PlantedLeakIsLiveAtTheEndAndReportedAsSuch) {
  Profiler p(alloc_config(64 * 1024));
  const SiteId leaky = register_site("alloc.leaky", Category::Preprocessing);
  std::vector<std::unique_ptr<char[]>> kept;
  kept.reserve(256);
  {
    auto scope = p.scope(leaky);
    test::leak_planted(kept, 256, 64 * 1024);  // 16 MiB kept
    test::allocate_planted(16u << 20);          // 16 MiB allocated and freed
  }
  const Snapshot s = p.snapshot();
  const OperationStats* op = s.find("alloc.leaky");
  ASSERT_NE(op, nullptr);
  print_sites("live", op->live_at_end);
  ASSERT_FALSE(op->live_at_end.empty());
  EXPECT_EQ(op->live_at_end.front().line, test::kLeakLine);
  EXPECT_GT(op->live_at_end.front().share, 0.9);
  EXPECT_NEAR(static_cast<double>(op->live_sampled_bytes) / (16 << 20), 1.0, 0.3);
  for (const AllocSite& a : op->live_at_end) EXPECT_NE(a.line, test::kHotAllocLine);  // freed: not a suspect
  EXPECT_GE(op->peak_live_sampled_bytes, static_cast<std::int64_t>(op->live_sampled_bytes));
  EXPECT_GE(s.sampling.alloc_peak_live_bytes, static_cast<std::int64_t>(op->live_sampled_bytes));
  EXPECT_GT(s.sampling.alloc_peak_at_ns, 0);

  // The report carries it, and pprof gets the allocation sample types.
  const std::string json = io::to_json_report(s, {});
  EXPECT_NE(json.find("\"live_at_end\""), std::string::npos);
  EXPECT_NE(io::to_pprof(s).size(), 0u);

  // Freeing the leak empties live_at_end; reset forgets the samples, and frees of blocks sampled
  // before it change nothing.
  kept.resize(128);
  const Snapshot half = p.snapshot();
  EXPECT_LT(half.find("alloc.leaky")->live_sampled_bytes, op->live_sampled_bytes);
  p.reset();
  kept.clear();
  const Snapshot after = p.snapshot();  // the profiler's own allocations since the reset may be sampled
  EXPECT_LT(after.sampling.alloc_samples, s.sampling.alloc_samples / 10);
  for (const ProfileStack& st : after.profile.stacks)
    for (const std::uint32_t f : st.frames) EXPECT_NE(after.profile.frames[f].line, test::kLeakLine);
}

TEST(AllocSampling, WithoutTheSwitchNothingIsSampled) {
  Config c = alloc_config(4096);
  c.sampling.alloc_enabled = false;
  Profiler p(c);
  {
    auto scope = p.scope(register_site("alloc.off", Category::Preprocessing));
    test::allocate_planted(4u << 20);
  }
  const Snapshot s = p.snapshot();
  EXPECT_EQ(s.sampling.alloc_interval_bytes, 0u);
  EXPECT_EQ(s.sampling.alloc_samples, 0u);
  EXPECT_TRUE(s.find("alloc.off")->hot_allocations.empty());
}

// Blocks allocated on one thread are freed on another while a third takes snapshots: the sampled
// table is shared, and everything freed leaves nothing live.
TEST(AllocSampling, ThreadsFreeingEachOthersBlocksLeaveNothingLive) {
  Profiler p(alloc_config(4096));
  const SiteId op = register_site("alloc.threads", Category::Preprocessing);
  constexpr int kThreads = 4;
  std::mutex handoff_mutex;
  std::vector<char*> handoff;
  std::atomic<int> running{kThreads};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto scope = p.scope(op);
      for (int i = 0; i < 4000; ++i) {
        char* block = new char[512 + static_cast<std::size_t>((i * 37 + t * 11) % 2048)];
        block[0] = static_cast<char>(i);
        char* other = nullptr;
        {
          std::lock_guard lock(handoff_mutex);
          handoff.push_back(block);
          if (handoff.size() > 8) {
            other = handoff.front();
            handoff.erase(handoff.begin());
          }
        }
        delete[] other;
      }
      running.fetch_sub(1);
    });
  while (running.load() > 0) {
    const Snapshot s = p.snapshot();
    ASSERT_GE(s.sampling.alloc_peak_live_bytes, 0);
  }
  for (auto& th : threads) th.join();
  for (char* b : handoff) delete[] b;
  const Snapshot s = p.snapshot();
  const OperationStats* stats = s.find("alloc.threads");
  ASSERT_NE(stats, nullptr);
  EXPECT_GT(stats->alloc_samples, 100u);
  EXPECT_EQ(stats->live_sampled_bytes, 0u);
  EXPECT_TRUE(stats->live_at_end.empty());
}

// The pointer escapes, so the compiler cannot drop a new/delete pair.
void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

// pprof's sample values summed by sample type, over the samples labelled with `operation`.
std::map<std::string, std::int64_t> pprof_totals(const std::string& gz_path, const std::string& operation) {
  gzFile f = gzopen(gz_path.c_str(), "rb");
  std::string raw;
  char buf[65536];
  for (int n; f && (n = gzread(f, buf, sizeof buf)) > 0;) raw.append(buf, static_cast<std::size_t>(n));
  if (f) gzclose(f);
  perftools::profiles::Profile p;
  EXPECT_TRUE(p.ParseFromString(raw)) << gz_path;
  const auto str = [&](std::int64_t i) { return p.string_table(static_cast<int>(i)); };
  std::map<std::string, std::int64_t> totals;
  for (const auto& sample : p.sample()) {
    bool in_operation = false;
    for (const auto& l : sample.label()) in_operation = in_operation || (str(l.key()) == "operation" && str(l.str()) == operation);
    if (!in_operation) continue;
    for (int i = 0; i < sample.value_size(); ++i) totals[str(p.sample_type(i).type())] += sample.value(i);
  }
  return totals;
}

// Many small blocks (a sample stands for ~30 of them) and fewer large ones kept live: a heap
// profile that counts sampled allocations instead of the allocations they stand for would
// report ~1,400 objects instead of 41,000.
TEST(AllocSampling, PprofHeapProfileScalesObjectsAndBytesAlike) {
  constexpr std::size_t kSmall = 40'000, kSmallBytes = 2'000, kLarge = 1'000, kLargeBytes = 16'000;
  Profiler p(alloc_config(64 * 1024));
  const SiteId counted = register_site("alloc.counted", Category::Preprocessing);
  std::vector<std::unique_ptr<char[]>> kept;
  kept.reserve(kLarge);
  {
    auto scope = p.scope(counted);
    for (std::size_t i = 0; i < kSmall; ++i) {
      auto block = std::make_unique<char[]>(kSmallBytes);
      keep(block.get());
    }
    for (std::size_t i = 0; i < kLarge; ++i) kept.push_back(std::make_unique<char[]>(kLargeBytes));
  }
  const Snapshot s = p.snapshot();
  test::TempDir dir("alloc_pprof");
  const std::string path = dir.file("heap.pb.gz");
  io::write_export("pprof", path, s, {});
  auto totals = pprof_totals(path, "alloc.counted");
  std::printf("alloc_objects=%lld alloc_space=%lld inuse_objects=%lld inuse_space=%lld samples=%llu\n",
              static_cast<long long>(totals["alloc_objects"]), static_cast<long long>(totals["alloc_space"]),
              static_cast<long long>(totals["inuse_objects"]), static_cast<long long>(totals["inuse_space"]),
              static_cast<unsigned long long>(s.find("alloc.counted")->alloc_samples));
  // Usable sizes are up to 16 bytes above the requests. Errors ~1/sqrt(samples): ~1,400 samples
  // in all, ~220 of the live blocks.
  const double objects = kSmall + kLarge, bytes = kSmall * kSmallBytes + kLarge * kLargeBytes;
  EXPECT_NEAR(static_cast<double>(totals["alloc_objects"]) / objects, 1.0, 0.15);
  EXPECT_NEAR(static_cast<double>(totals["alloc_space"]) / bytes, 1.0, 0.15);
  EXPECT_NEAR(static_cast<double>(totals["inuse_objects"]) / kLarge, 1.0, 0.3);
  EXPECT_NEAR(static_cast<double>(totals["inuse_space"]) / (kLarge * kLargeBytes), 1.0, 0.3);
  // The profile's values are the snapshot's, and the report says the same.
  std::uint64_t alloc_objects = 0, live_objects = 0;
  for (const ProfileStack& st : s.profile.stacks)
    if (!st.operations.empty() && st.operations.front() == s.find("alloc.counted")->id) {
      alloc_objects += st.alloc_objects;
      live_objects += st.live_objects;
    }
  EXPECT_EQ(totals["alloc_objects"], static_cast<std::int64_t>(alloc_objects));
  EXPECT_EQ(totals["inuse_objects"], static_cast<std::int64_t>(live_objects));
  EXPECT_NE(io::to_json_report(s, {}).find("\"alloc_objects\""), std::string::npos);
}

}  // namespace
}  // namespace codeprof
