// Statistics from other processes: the part codec, the exact merge, and the datagram channel with
// real processes (fork) and real sockets.
#include "codeprof/process_parts.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <thread>

#include "codeprof/codeprof.hpp"
#include "core/log_histogram.hpp"

using namespace codeprof;

namespace {

Config no_sampler_config(bool trace = false) {
  Config c;
  c.sampler_enabled = false;
  c.trace_enabled = trace;
  return c;
}

void spin_ns(std::int64_t ns) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < until) {
  }
}

// Records a small pipeline: `steps` steps, each with loads of varying length, on the calling
// thread and on one helper thread.
void record_pipeline(Profiler& p, int steps, unsigned seed) {
  std::mt19937 rng(seed);
  auto body = [&p, steps, seed] {
    std::mt19937 local(seed * 7 + 1);
    for (int i = 0; i < steps; ++i) {
      CODEPROF_SCOPE(p, "pp.step", Category::TrainingLoop);
      {
        auto load = p.profile_operation("pp.load", Category::DataLoading);
        spin_ns(2000 + static_cast<std::int64_t>(local() % 20000));
      }
      spin_ns(1000);
    }
  };
  std::thread helper(body);
  body();
  helper.join();
  (void)rng;
}

ProcessPart part_of(const Profiler& p, const std::string& source) {
  ProcessPart part;
  part.source = source;
  part.label = "worker " + source;
  part.pid = ::getpid();
  part.snapshot = p.snapshot();
  return part;
}

}  // namespace

TEST(ProcessPartCodec, RoundTripsEveryMergedField) {
  Config c = no_sampler_config(true);
  c.metrics.cpu = true;
  Profiler p(c);
  p.set_thread_name("codec-main");
  record_pipeline(p, 40, 1);
  ProcessPart part = part_of(p, "42:0");
  part.sequence = 7;
  part.updates_dropped = 3;
  part.generation = 2;
  part.snapshot.run.unavailable.push_back({"gpu_memory", "no NVIDIA driver"});

  const ProcessPart back = decode_process_part(encode_process_part(part));
  EXPECT_EQ(back.source, part.source);
  EXPECT_EQ(back.label, part.label);
  EXPECT_EQ(back.pid, part.pid);
  EXPECT_EQ(back.sequence, 7u);
  EXPECT_EQ(back.updates_dropped, 3u);
  EXPECT_EQ(back.generation, 2u);
  const Snapshot& a = part.snapshot;
  const Snapshot& b = back.snapshot;
  EXPECT_EQ(b.run.start_unix_ns, a.run.start_unix_ns);
  EXPECT_EQ(b.run.wall_ns, a.run.wall_ns);
  ASSERT_EQ(b.run.unavailable.size(), a.run.unavailable.size());
  EXPECT_EQ(b.run.unavailable.back().reason, "no NVIDIA driver");
  ASSERT_EQ(b.operations.size(), a.operations.size());
  for (std::size_t i = 0; i < a.operations.size(); ++i) {
    const OperationStats &x = a.operations[i], &y = b.operations[i];
    EXPECT_EQ(y.id, x.id);
    EXPECT_EQ(y.name, x.name);
    EXPECT_EQ(y.category, x.category);
    EXPECT_EQ(y.file, x.file);
    EXPECT_EQ(y.line, x.line);
    EXPECT_EQ(y.count, x.count);
    EXPECT_EQ(y.total_ns, x.total_ns);
    EXPECT_EQ(y.self_ns, x.self_ns);
    EXPECT_EQ(y.min_ns, x.min_ns);
    EXPECT_EQ(y.max_ns, x.max_ns);
    EXPECT_EQ(y.mean_ns, x.mean_ns);
    EXPECT_EQ(y.stddev_ns, x.stddev_ns);
    EXPECT_EQ(y.p99_ns, x.p99_ns);
    EXPECT_EQ(y.first_seen_ns, x.first_seen_ns);
    EXPECT_EQ(y.last_seen_ns, x.last_seen_ns);
    ASSERT_EQ(y.histogram.size(), x.histogram.size());
    for (std::size_t k = 0; k < x.histogram.size(); ++k) EXPECT_EQ(y.histogram[k].count, x.histogram[k].count);
    ASSERT_EQ(y.series.size(), x.series.size());
    for (std::size_t k = 0; k < x.series.size(); ++k) EXPECT_EQ(y.series[k].total_ns, x.series[k].total_ns);
    ASSERT_EQ(y.slowest.size(), x.slowest.size());
    for (std::size_t m = 0; m < kProbeMetricCount; ++m) {
      EXPECT_EQ(y.resources[m].samples, x.resources[m].samples);
      EXPECT_EQ(y.resources[m].total, x.resources[m].total);
    }
  }
  EXPECT_GT(a.operations[0].resources[index_of(ProbeMetric::CpuTimeNs)].samples, 0u);
  ASSERT_EQ(b.call_tree.size(), a.call_tree.size());
  ASSERT_EQ(b.threads.size(), a.threads.size());
  for (std::size_t i = 0; i < a.threads.size(); ++i) {
    EXPECT_EQ(b.threads[i].name, a.threads[i].name);
    EXPECT_EQ(b.threads[i].operations.size(), a.threads[i].operations.size());
  }
  ASSERT_EQ(b.trace_events.size(), a.trace_events.size());
  EXPECT_GT(b.trace_events.size(), 0u);
  EXPECT_EQ(b.trace_events.back().start_ns, a.trace_events.back().start_ns);
  EXPECT_EQ(b.events_recorded, a.events_recorded);
}

TEST(ProcessPartCodec, DamagedBytesAreAnErrorNeverACrash) {
  Profiler p(no_sampler_config());
  record_pipeline(p, 10, 2);
  const std::string bytes = encode_process_part(part_of(p, "1:0"));
  for (std::size_t cut = 0; cut < bytes.size(); cut += std::max<std::size_t>(1, bytes.size() / 97))
    EXPECT_THROW(decode_process_part(std::string_view(bytes).substr(0, cut)), ProcessPartError) << cut;
  EXPECT_THROW(decode_process_part(bytes + "x"), ProcessPartError);
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    std::string damaged = bytes;
    for (int k = 0; k < 4; ++k) damaged[rng() % damaged.size()] = static_cast<char>(rng());
    try {
      (void)decode_process_part(damaged);
    } catch (const ProcessPartError&) {
    }
  }
  try {
    (void)decode_process_part("garbage");
    FAIL() << "no error";
  } catch (const ProcessPartError& e) {
    EXPECT_NE(std::string(e.what()).find("not a codeprof process part"), std::string::npos) << e.what();
  }
}

// Two profilers stand for two processes; the merge must equal the statistics of all their calls,
// recomputed from the raw events each kept.
TEST(ProcessPartMerge, EqualsTheStatisticsOfAllCallsTogether) {
  Profiler parent(no_sampler_config(true)), worker(no_sampler_config(true));
  record_pipeline(parent, 60, 3);
  record_pipeline(worker, 45, 4);
  Snapshot merged = parent.snapshot();
  const Snapshot a = merged, b = worker.snapshot();
  merge_process_part(merged, b, "dataloader worker 0 (pid 7)");

  std::map<std::string, std::vector<double>> durations;
  for (const Snapshot* s : {&a, &b})
    for (const TraceEvent& e : s->trace_events) durations[s->find(e.operation_id)->name].push_back(static_cast<double>(e.duration_ns));

  for (const char* name : {"pp.step", "pp.load"}) {
    SCOPED_TRACE(name);
    const OperationStats* m = merged.find(name);
    const OperationStats *x = a.find(name), *y = b.find(name);
    ASSERT_TRUE(m && x && y);
    EXPECT_EQ(m->count, x->count + y->count);
    EXPECT_EQ(m->total_ns, x->total_ns + y->total_ns);
    EXPECT_EQ(m->self_ns, x->self_ns + y->self_ns);
    EXPECT_EQ(m->min_ns, std::min(x->min_ns, y->min_ns));
    EXPECT_EQ(m->max_ns, std::max(x->max_ns, y->max_ns));
    const auto& d = durations[name];
    ASSERT_EQ(d.size(), m->count);
    double mean = 0;
    for (double v : d) mean += v;
    mean /= static_cast<double>(d.size());
    double ss = 0;
    for (double v : d) ss += (v - mean) * (v - mean);
    const double stddev = std::sqrt(ss / static_cast<double>(d.size() - 1));
    EXPECT_NEAR(m->mean_ns, mean, 1e-9 * mean);
    EXPECT_NEAR(m->stddev_ns, stddev, 1e-7 * stddev);
    // Histogram: every call in exactly one bucket, the same buckets as one histogram of all calls.
    core::LogHistogram all;
    for (double v : d) all.add(static_cast<std::uint64_t>(v));
    const auto expected = all.buckets();
    ASSERT_EQ(m->histogram.size(), expected.size());
    for (std::size_t k = 0; k < expected.size(); ++k) {
      EXPECT_EQ(m->histogram[k].lower_ns, expected[k].lower_ns);
      EXPECT_EQ(m->histogram[k].count, expected[k].count);
    }
    EXPECT_EQ(m->p50_ns, std::clamp(all.percentile(0.5), m->min_ns, m->max_ns));
    EXPECT_EQ(m->p99_ns, std::clamp(all.percentile(0.99), m->min_ns, m->max_ns));
    std::uint64_t in_series = 0;
    for (const auto& w : m->series) in_series += w.count;
    EXPECT_EQ(in_series, m->count);
    EXPECT_LE(m->series.size(), 256u);
  }
  // The worker's threads are threads of their own, named after it, with ids of the merged operations.
  ASSERT_EQ(merged.threads.size(), a.threads.size() + b.threads.size());
  std::size_t named = 0;
  for (const ThreadStats& t : merged.threads) {
    if (t.name.rfind("dataloader worker 0 (pid 7)", 0) != 0) continue;
    ++named;
    for (const auto& o : t.operations) EXPECT_NE(merged.find(o.operation_id), nullptr);
  }
  EXPECT_EQ(named, b.threads.size());
  EXPECT_EQ(merged.events_recorded, a.events_recorded + b.events_recorded);
  EXPECT_EQ(merged.trace_events.size(), a.trace_events.size() + b.trace_events.size());
  // Call edges add up per (parent, child).
  std::uint64_t edge_calls = 0;
  for (const CallEdge& e : merged.call_tree)
    if (merged.find(e.child_id)->name == "pp.load") edge_calls += e.count;
  EXPECT_EQ(edge_calls, merged.find("pp.load")->count);
}

TEST(ProcessPartMerge, AnOperationOnlyTheWorkerRanJoinsWithARegisteredId) {
  Profiler parent(no_sampler_config()), worker(no_sampler_config());
  { auto s = parent.profile_operation("pp.parent_only", Category::TrainingLoop); }
  { auto s = worker.profile_operation("pp.worker_only.tokenize", Category::Preprocessing); }
  Snapshot merged = parent.snapshot();
  merge_process_part(merged, worker.snapshot(), "w");
  const OperationStats* op = merged.find("pp.worker_only.tokenize");
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->id, intern_site("pp.worker_only.tokenize", Category::Preprocessing).id);
  EXPECT_EQ(op->category, Category::Preprocessing);
  EXPECT_EQ(op->count, 1u);
}

// A fork()ed child records into its own profiler and sends cumulative parts; the parent's
// snapshot holds the last one, under the child's name.
TEST(ProcessPartChannel, ForkedChildPartsReachTheParentsSnapshot) {
#if defined(__SANITIZE_ADDRESS__)
  // GCC 12's ASan does not lock its allocator across fork(): when one of the parent's threads (the
  // profiler's collector) holds a size-class lock at that moment, the child's first allocation
  // waits forever (seen: every child thread in __sanitizer::SizeClassAllocator64::GetFromAllocator).
  // The release tree runs this test; the channel's code has no fork-specific path to instrument.
  GTEST_SKIP() << "ASan (GCC 12) cannot allocate in the child of a multi-threaded fork";
#endif
  Profiler parent(no_sampler_config());
  const std::string address = parent.process_channel();
  ASSERT_EQ(address.rfind("@codeprof-", 0), 0u) << address;
  { auto s = parent.profile_operation("pp.fork.parent", Category::TrainingLoop); }

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 0;
    {
      Profiler local(no_sampler_config());
      ProcessPartSender sender(address);
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 100; ++i) {
          auto s = local.profile_operation("pp.fork.child_load", Category::DataLoading);
        }
        ProcessPart part;
        part.source = std::to_string(::getpid()) + ":0";
        part.label = "dataloader worker 1 (pid " + std::to_string(::getpid()) + ")";
        part.snapshot = local.snapshot();
        if (!sender.send_final(part, std::chrono::milliseconds(2000))) code = 3;
      }
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  const Snapshot s = parent.snapshot();
  const OperationStats* load = s.find("pp.fork.child_load");
  ASSERT_NE(load, nullptr);
  EXPECT_EQ(load->count, 300u);  // the last cumulative part, not the sum of all three
  ASSERT_NE(s.find("pp.fork.parent"), nullptr);
  bool named = false;
  for (const auto& t : s.threads) named |= t.name == "dataloader worker 1 (pid " + std::to_string(child) + ")";
  EXPECT_TRUE(named);
  EXPECT_EQ(s.run.metadata.at("process_parts.sources"), "1");
  const ProcessPartsStatus st = parent.process_parts_status();
  EXPECT_EQ(st.sources, 1u);
  EXPECT_EQ(st.updates_received, 3u);
  EXPECT_EQ(st.updates_malformed, 0u);
}

// A part larger than one datagram travels in chunks.
TEST(ProcessPartChannel, LargePartsArriveWhole) {
  Profiler parent(no_sampler_config());
  const std::string address = parent.process_channel();
  Profiler local(no_sampler_config());
  for (int i = 0; i < 3000; ++i) {
    auto s = local.profile_operation("pp.many." + std::to_string(i), Category::Preprocessing);
  }
  ProcessPart part;
  part.source = "big";
  part.label = "big worker";
  part.snapshot = local.snapshot();
  const std::size_t size = encode_process_part(part).size();
  ASSERT_GT(size, 3 * 56 * 1024u);
  ProcessPartSender sender(address);
  ASSERT_TRUE(sender.send_final(part, std::chrono::milliseconds(5000)));
  const Snapshot s = parent.snapshot();
  std::size_t found = 0;
  for (const auto& op : s.operations) found += op.name.rfind("pp.many.", 0) == 0 ? 1 : 0;
  EXPECT_EQ(found, 3000u);
}

// A receiver that never reads: sends fail at once and are counted; the next part that gets
// through carries the count.
TEST(ProcessPartChannel, AFullChannelDropsAndCountsWithoutBlocking) {
  const std::string address = "@codeprof-test-stuck-" + std::to_string(::getpid());
  const int stuck = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address.data(), address.size());
  addr.sun_path[0] = '\0';
  ASSERT_EQ(::bind(stuck, reinterpret_cast<sockaddr*>(&addr), static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size())), 0);

  Profiler local(no_sampler_config());
  for (int i = 0; i < 200; ++i) {
    auto s = local.profile_operation("pp.stuck." + std::to_string(i), Category::DataLoading);
  }
  ProcessPart part;
  part.source = "stuck";
  part.snapshot = local.snapshot();
  ProcessPartSender sender(address);
  int failed = 0;
  for (int i = 0; i < 200; ++i) failed += sender.send(part) ? 0 : 1;
  EXPECT_GT(failed, 0);
  EXPECT_EQ(sender.dropped(), static_cast<std::uint64_t>(failed));
  EXPECT_EQ(sender.sent() + sender.dropped(), 200u);
  ::close(stuck);
  // The peer is gone now: still no blocking, still counted.
  EXPECT_FALSE(sender.send(part));
  EXPECT_EQ(sender.dropped(), static_cast<std::uint64_t>(failed) + 1);
}

TEST(ProcessPartChannel, ResetForgetsPartsAndTellsSendersTheNewGeneration) {
  Profiler parent(no_sampler_config());
  const std::string address = parent.process_channel();
  Profiler local(no_sampler_config());
  { auto s = local.profile_operation("pp.gen.load", Category::DataLoading); }
  ProcessPartSender sender(address);
  ProcessPart part;
  part.source = "gen";
  part.snapshot = local.snapshot();
  ASSERT_TRUE(sender.send_final(part, std::chrono::milliseconds(2000)));
  ASSERT_NE(parent.snapshot().find("pp.gen.load"), nullptr);

  parent.reset();
  EXPECT_EQ(parent.snapshot().find("pp.gen.load"), nullptr);
  EXPECT_EQ(parent.process_parts_status().generation, 1u);
  // The notice arrives on the sender's socket; a stale part (generation 0) is ignored meanwhile.
  part.generation = 0;
  ASSERT_TRUE(sender.send_final(part, std::chrono::milliseconds(2000)));
  EXPECT_EQ(parent.snapshot().find("pp.gen.load"), nullptr);
  std::uint64_t generation = 0;
  for (int i = 0; i < 200 && generation == 0; ++i) {
    generation = sender.poll_generation();
    if (!generation) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(generation, 1u);
  local.reset();
  { auto s = local.profile_operation("pp.gen.after", Category::DataLoading); }
  part.generation = generation;
  part.snapshot = local.snapshot();
  ASSERT_TRUE(sender.send_final(part, std::chrono::milliseconds(2000)));
  const Snapshot s = parent.snapshot();
  EXPECT_NE(s.find("pp.gen.after"), nullptr);
  EXPECT_EQ(s.find("pp.gen.load"), nullptr);
}
