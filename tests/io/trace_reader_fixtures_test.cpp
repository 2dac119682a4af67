// Every real PyTorch-profiler trace in ../shared/fixtures/kineto, read by the streaming reader
// and checked against an independent naive reading of the same file (trace_reference.hpp):
// steps, rank, GPU busy time and its share within the steps, every operation's calls, total,
// self and launched GPU time, the top operations, sync time and memcpy volume.
#include <gtest/gtest.h>

#include <filesystem>

#include "codeprof/trace_reader.hpp"
#include "io/trace_reference.hpp"

namespace codeprof {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return std::string(CODEPROF_FIXTURES_DIR) + "/kineto/" + name; }

// GPU activities are the operations that run on the per-stream GPU threads.
bool on_gpu_stream(const Snapshot& s, std::uint32_t id) {
  for (const auto& t : s.threads)
    if (t.name.rfind("GPU ", 0) == 0)
      for (const auto& op : t.operations)
        if (op.operation_id == id) return true;
  return false;
}

const OperationStats* find_op(const Snapshot& s, const std::string& name, bool gpu) {
  for (const auto& op : s.operations)
    if (op.name == name && on_gpu_stream(s, op.id) == gpu) return &op;
  return nullptr;
}

// Reference nanoseconds go through a double (1 ns rounding per timestamp): allow that.
std::int64_t slack(std::uint64_t values) { return static_cast<std::int64_t>(2 * values + 2); }

const DeviceActivity* device_total(const Snapshot& s, int device) {
  for (const auto& d : s.devices)
    if (d.device == device && d.stream == -1) return &d;
  return nullptr;
}

class KinetoFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(KinetoFixture, AgreesWithAnIndependentReading) {
  const std::string path = fixture(GetParam());
  const Snapshot s = io::read_trace_file(path);
  const test::Reference ref = test::compute_reference(path);

  EXPECT_EQ(s.run.source, "kineto");
  EXPECT_EQ(s.run.source_path, path);
  EXPECT_EQ(s.run.rank, ref.rank);
  EXPECT_EQ(s.run.world_size, ref.world_size);
  EXPECT_EQ(s.steps.size(), ref.steps);
  EXPECT_EQ(s.events_recorded, ref.recorded);
  EXPECT_NEAR(static_cast<double>(s.sync_ns), static_cast<double>(ref.sync_ns), 100.0);

  // GPU busy time per device and its share within the steps.
  std::int64_t step_time = 0;
  {
    std::vector<std::pair<std::int64_t, std::int64_t>> v;
    for (const auto& st : s.steps) v.push_back({st.start_ns, st.end_ns});
    for (auto [a, b] : test::ref_union(v)) step_time += b - a;
  }
  EXPECT_NEAR(static_cast<double>(step_time), static_cast<double>(ref.step_time), 4.0 * static_cast<double>(ref.steps));
  std::size_t device_entries = 0;
  for (const auto& d : s.devices) device_entries += d.stream == -1;
  EXPECT_EQ(device_entries, ref.busy.size());
  for (const auto& [device, busy] : ref.busy) {
    const DeviceActivity* d = device_total(s, static_cast<int>(device));
    ASSERT_NE(d, nullptr) << "device " << device;
    EXPECT_NEAR(static_cast<double>(d->busy_ns), static_cast<double>(busy), 1000.0) << "device " << device;
    EXPECT_NEAR(static_cast<double>(d->busy_in_steps_ns), static_cast<double>(ref.busy_in_steps.at(device)), 1000.0);
    EXPECT_EQ(d->memcpy_bytes, static_cast<std::uint64_t>(ref.memcpy_bytes.at(device)));
    if (ref.step_time > 0) {
      const double share = static_cast<double>(d->busy_in_steps_ns) / static_cast<double>(step_time);
      const double ref_share = static_cast<double>(ref.busy_in_steps.at(device)) / static_cast<double>(ref.step_time);
      EXPECT_NEAR(share, ref_share, 1e-6) << "GPU busy share within steps, device " << device;
    }
  }

  // Every operation: calls, total, self and the GPU time its calls launched.
  EXPECT_EQ(s.operations.size(), ref.ops.size());
  for (const auto& [key, r] : ref.ops) {
    const auto& [name, gpu] = key;
    const OperationStats* op = find_op(s, name, gpu);
    ASSERT_NE(op, nullptr) << name;
    EXPECT_EQ(op->count, r.count) << name;
    EXPECT_NEAR(static_cast<double>(op->total_ns), static_cast<double>(r.total), static_cast<double>(slack(r.count))) << name;
    EXPECT_NEAR(static_cast<double>(op->self_ns), static_cast<double>(r.self), static_cast<double>(slack(8 * r.count))) << name;
    const ResourceStat& g = op->resource(ProbeMetric::GpuTimeNs);
    EXPECT_EQ(g.samples, r.gpu_samples) << name;
    EXPECT_NEAR(static_cast<double>(g.total), static_cast<double>(r.gpu), 100.0 + static_cast<double>(slack(r.count))) << name;
  }

  // The top five by total time, in order (where totals differ clearly).
  std::vector<std::pair<std::int64_t, std::string>> ref_top, top;
  for (const auto& [key, r] : ref.ops) ref_top.push_back({r.total, key.first});
  for (const auto& op : s.operations) top.push_back({static_cast<std::int64_t>(op.total_ns), op.name});
  std::sort(ref_top.rbegin(), ref_top.rend());
  std::sort(top.rbegin(), top.rend());
  for (std::size_t i = 0; i < std::min<std::size_t>(5, ref_top.size()); ++i) {
    const bool distinct = i + 1 >= ref_top.size() || ref_top[i].first - ref_top[i + 1].first > 1000;
    if (distinct) {
      EXPECT_EQ(top[i].second, ref_top[i].second) << "rank " << i << " of the top operations";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFixtures, KinetoFixture,
                         ::testing::Values("alexnet_benchmark_result_2869224_1695835535_trace.json.gz",
                                           "amd_mi250_minitoy_train_kineto.json.gz", "compare_base.json.gz",
                                           "compare_test.json.gz",
                                           "cpu_only_rank-34.Jul_15_10_52_41.1074.pt.trace.json.gz",
                                           "inference_rank_1.json.gz", "sampled_rank-0.json.gz", "sampled_rank-1.json.gz",
                                           "simple_add_benchmark_result_493459_1694039959_trace.json.gz",
                                           "triton_example.json.gz"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string n = param.param.substr(0, param.param.find('.'));
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(KinetoFixtures, EveryFixtureIsCovered) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(std::string(CODEPROF_FIXTURES_DIR) + "/kineto"))
    n += entry.path().extension() == ".gz";
  EXPECT_EQ(n, 10u) << "a fixture was added: add it to AllFixtures";
}

// Facts read off the files by hand, so that a shared misreading cannot hide behind the reference.
TEST(KinetoFixtures, KnownFacts) {
  const Snapshot rank0 = io::read_trace_file(fixture("sampled_rank-0.json.gz"));
  EXPECT_EQ(rank0.run.rank, 0);
  EXPECT_EQ(rank0.run.world_size, 128);
  EXPECT_EQ(rank0.run.metadata.at("distributed_backend"), "nccl");
  ASSERT_EQ(rank0.steps.size(), 2u);
  EXPECT_EQ(rank0.steps[0].index, 551);
  EXPECT_EQ(rank0.steps[1].index, 552);
  EXPECT_EQ(rank0.run.command, "pyper:trainer:0:0");
  EXPECT_EQ(rank0.run.pid, 4037);
  const OperationStats* step = rank0.find("ProfilerStep");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->category, Category::TrainingLoop);
  const OperationStats* optimizer = rank0.find("Optimizer.step#Shampoo.step");
  ASSERT_NE(optimizer, nullptr);
  EXPECT_EQ(optimizer->category, Category::TrainingLoop);
  const OperationStats* allreduce = rank0.find("nccl:all_reduce");
  ASSERT_NE(allreduce, nullptr);
  EXPECT_EQ(allreduce->category, Category::MultiGpu);

  const Snapshot alexnet = io::read_trace_file(fixture("alexnet_benchmark_result_2869224_1695835535_trace.json.gz"));
  ASSERT_EQ(alexnet.run.gpus.size(), 8u);
  EXPECT_EQ(alexnet.run.gpus[0].name, "NVIDIA A100-PG509-200");
  EXPECT_EQ(alexnet.run.gpus[0].memory_total_bytes, 42297524224u);
  EXPECT_EQ(alexnet.find("aten::empty")->category, Category::ModelInference);
  EXPECT_EQ(alexnet.find("cudaLaunchKernel")->category, Category::Gpu);
  // The first event, a 104 us aten::empty at ts 1695835542515301; the profiler span starts at
  // 1695835542481129 and is the origin.
  EXPECT_EQ(alexnet.run.start_unix_ns, 1695835542481129000);
  EXPECT_EQ(alexnet.run.wall_ns, 43458523000);

  // Fractional microseconds and baseTimeNanoseconds: the MI250 trace's profiler span starts at
  // ts 4203669603018.756 us after 1735632360000000000 ns.
  const Snapshot amd = io::read_trace_file(fixture("amd_mi250_minitoy_train_kineto.json.gz"));
  EXPECT_EQ(amd.run.start_unix_ns, 1735632360000000000 + 4203669603018756);
  ASSERT_EQ(amd.steps.size(), 2u);
  EXPECT_EQ(amd.steps[0].index, 1);
  // ProfilerStep#1: ts 4203669603187.439, dur 9288.291 us.
  EXPECT_EQ(amd.steps[0].start_ns, 4203669603187439 - 4203669603018756);
  EXPECT_EQ(amd.steps[0].end_ns - amd.steps[0].start_ns, 9288291);

  const Snapshot cpu = io::read_trace_file(fixture("cpu_only_rank-34.Jul_15_10_52_41.1074.pt.trace.json.gz"));
  EXPECT_EQ(cpu.run.rank, 34);
  EXPECT_EQ(cpu.run.world_size, 300);
  EXPECT_TRUE(cpu.devices.empty());

  // The older format: "Runtime" launches attributed their "Kernel" time through correlation ids.
  const Snapshot old = io::read_trace_file(fixture("inference_rank_1.json.gz"));
  const OperationStats* launch = old.find("cudaLaunchKernel");
  ASSERT_NE(launch, nullptr);
  EXPECT_EQ(launch->count, 4u);
  EXPECT_EQ(launch->resource(ProbeMetric::GpuTimeNs).total, 30000);  // 4 + 6 + 15 + 5 us

  // Triton: the kernel was launched through cuda_driver (cuLaunchKernel).
  const Snapshot triton = io::read_trace_file(fixture("triton_example.json.gz"));
  const OperationStats* cu = triton.find("cuLaunchKernel");
  ASSERT_NE(cu, nullptr);
  EXPECT_EQ(cu->resource(ProbeMetric::GpuTimeNs).total, 1760);
}

}  // namespace
}  // namespace codeprof
