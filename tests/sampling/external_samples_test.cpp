// Profiler::add_samples: stacks symbolised elsewhere (the Python package's sampler) are attributed
// to the operations of a real Profiler, survive the JSON report, and reset() forgets them.
#include <gtest/gtest.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "codeprof/exporters.hpp"
#include "codeprof/profiler.hpp"
#include "io/report_reader.hpp"

namespace codeprof {
namespace {

Config quiet() {
  Config c;
  c.sampler_enabled = false;
  return c;
}

TEST(ExternalSamples, AttributedToTheProfilersOperations) {
  Profiler p(quiet());
  const SiteId step = register_site("ext_step", Category::TrainingLoop);
  const SiteId tok = register_site("ext_tokenize", Category::Preprocessing);
  { auto s = p.scope(step); auto t = p.scope(tok); }

  SampleBatch batch;
  batch.mechanism = "python";
  batch.frequency_hz = 100;
  batch.dropped = 2;
  ExternalSample hot;
  hot.frames = {{"split_words", "/app/tok.py", 31, ""}, {"tokenize", "/app/tok.py", 12, ""}, {"<module>", "/app/main.py", 5, ""}};
  hot.operations = {tok.id, step.id};
  hot.os_tid = 4321;
  hot.count = 7;
  ExternalSample other = hot;
  other.frames.erase(other.frames.begin());
  other.count = 3;
  ExternalSample outside;
  outside.frames = {{"<module>", "/app/main.py", 9, ""}};
  outside.os_tid = 4321;
  batch.samples = {hot, other, outside};
  p.add_samples(batch);
  p.add_samples(batch);  // a second batch adds up

  const Snapshot s = p.snapshot();
  const OperationStats* op = s.find("ext_tokenize");
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->cpu_samples, 20u);
  ASSERT_EQ(op->hot_lines.size(), 2u);
  EXPECT_EQ(op->hot_lines[0].function, "split_words");
  EXPECT_EQ(op->hot_lines[0].file, "/app/tok.py");
  EXPECT_EQ(op->hot_lines[0].line, 31u);
  EXPECT_EQ(op->hot_lines[0].samples, 14u);
  EXPECT_DOUBLE_EQ(op->hot_lines[0].share, 0.7);
  EXPECT_EQ(s.find("ext_step")->cpu_samples, 0u);
  ASSERT_EQ(s.sampling.sources.size(), 1u);
  EXPECT_EQ(s.sampling.sources[0].name, "python");
  EXPECT_EQ(s.sampling.sources[0].samples, 22u);
  EXPECT_EQ(s.sampling.sources[0].dropped, 4u);
  EXPECT_EQ(s.sampling.sources[0].threads, 1u);
  EXPECT_FALSE(s.sampling.enabled);  // native sampling stays off
  ASSERT_EQ(s.profile.stacks.size(), 3u);
  EXPECT_EQ(s.profile.frames[s.profile.stacks[0].frames[0]].module, "python");
  ASSERT_EQ(s.profile.operations.size(), 2u);
  EXPECT_EQ(s.profile.operations[0].id, std::min(step.id, tok.id));

  const Snapshot back = io::parse_json_report(io::to_json_report(s, {}));
  ASSERT_NE(back.find("ext_tokenize"), nullptr);
  EXPECT_EQ(back.find("ext_tokenize")->hot_lines.size(), 2u);
  EXPECT_EQ(back.profile.frames, s.profile.frames);
  EXPECT_EQ(back.sampling.samples, 22u);

  p.reset();
  const Snapshot after = p.snapshot();
  EXPECT_TRUE(after.profile.stacks.empty());
  EXPECT_EQ(after.sampling.samples, 0u);
}

TEST(ExternalSamples, ConcurrentBatchesAreAllCounted) {
  Profiler p(quiet());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      SampleBatch b;
      ExternalSample sample;
      sample.frames = {{std::string(1, 'f').append(std::to_string(t % 2)), "x.py", 1, ""}};
      sample.os_tid = static_cast<std::uint64_t>(100 + t);
      b.samples = {sample};
      for (int i = 0; i < 500; ++i) p.add_samples(b);
    });
  for (auto& t : threads) t.join();
  const Snapshot s = p.snapshot();
  EXPECT_EQ(s.sampling.samples, 2000u);
  EXPECT_EQ(s.profile.stacks.size(), 4u);  // one per thread
  EXPECT_EQ(s.sampling.sources[0].threads, 4u);
}

// What a sampler on its own thread (the Python package's) reads: the operations open on another
// thread, innermost first, while that thread holds them open, and nothing once it closed them or
// exited (the listed entry stays readable after the exit).
TEST(ExternalSamples, AnotherThreadsOpenOperationsAreReadable) {
  Profiler p(quiet());
  const SiteId outer = register_site("ext_outer", Category::DataLoading);
  const SiteId inner = register_site("ext_inner", Category::Preprocessing);
  std::mutex m;
  std::condition_variable cv;
  int phase = 0;  // 1: scopes open, 2: closed, 3: may exit
  std::atomic<std::uint64_t> tid{0};
  auto wait_for = [&](int wanted) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return phase >= wanted; });
  };
  auto advance = [&](int to) {
    { std::lock_guard lock(m); phase = to; }
    cv.notify_all();
  };
  std::thread t([&] {
    tid = static_cast<std::uint64_t>(::syscall(SYS_gettid));
    {
      auto a = p.scope(outer);
      auto b = p.scope(inner);
      advance(1);
      wait_for(2);
    }
    advance(3);
    wait_for(4);
  });
  wait_for(1);
  auto find = [&](const std::vector<detail::RecordingThread>& threads) -> const detail::RecordingThread* {
    for (const auto& r : threads)
      if (r.os_tid == tid.load()) return &r;
    return nullptr;
  };
  std::vector<detail::RecordingThread> listed = p.recording_threads();
  const detail::RecordingThread* rec = find(listed);
  ASSERT_NE(rec, nullptr);
  std::uint32_t ids[8];
  ASSERT_EQ(detail::read_open_operations(*rec, ids, 8), 2);
  EXPECT_EQ(ids[0], inner.id);
  EXPECT_EQ(ids[1], outer.id);
  ASSERT_EQ(detail::read_open_operations(*rec, ids, 1), 1);  // the innermost when fewer fit
  EXPECT_EQ(ids[0], inner.id);
  advance(2);
  wait_for(3);
  EXPECT_EQ(detail::read_open_operations(*rec, ids, 8), 0);
  advance(4);
  t.join();
  EXPECT_EQ(detail::read_open_operations(*rec, ids, 8), 0);  // still readable: the entry keeps it
  EXPECT_EQ(find(p.recording_threads()), nullptr);           // an exited thread is no longer listed
}

TEST(ExternalSamples, NativeSamplerCanBeSwitchedOff) {
  Config c = quiet();
  c.sampling.enabled = true;
  c.sampling_native = "off";
  Profiler p(c);
  { auto s = p.profile_operation("ext_native_off", Category::Custom); }
  const Snapshot s = p.snapshot();
  EXPECT_TRUE(s.sampling.enabled);
  EXPECT_TRUE(s.sampling.unwinder.empty());
  EXPECT_TRUE(s.sampling.sources.empty());
  c.sampling_native = "sometimes";
  EXPECT_THROW(c.validate(), ConfigError);
}

}  // namespace
}  // namespace codeprof
