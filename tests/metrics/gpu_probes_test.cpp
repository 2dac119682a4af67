// GPU probes: without a driver each reports why, once, and measures nothing; with one, a scope
// that allocates device memory shows it, and a GPU-category scope gets a GPU time. The CUDA
// runtime is reached with dlopen here too, so this test builds and runs on any machine.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include "metrics/gpu_runtime.hpp"
#include "probe_test_util.hpp"

using namespace codeprof;
using namespace codeprof::test;

namespace {

struct Cudart {
  void* lib = nullptr;
  int (*malloc_fn)(void**, std::size_t) = nullptr;
  int (*free_fn)(void*) = nullptr;
  int (*memset_fn)(void*, int, std::size_t) = nullptr;
  Cudart() {
    for (const char* name : {"libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"})
      if ((lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    if (!lib) return;
    malloc_fn = reinterpret_cast<decltype(malloc_fn)>(::dlsym(lib, "cudaMalloc"));
    free_fn = reinterpret_cast<decltype(free_fn)>(::dlsym(lib, "cudaFree"));
    memset_fn = reinterpret_cast<decltype(memset_fn)>(::dlsym(lib, "cudaMemset"));
  }
};

}  // namespace

TEST(GpuProbes, WithoutADriverEachGpuProbeSaysWhyOnce) {
  const metrics::Nvml& nvml = metrics::Nvml::instance();
  const metrics::CudaRuntime& cuda = metrics::CudaRuntime::instance();
  if (nvml.available() && cuda.available()) GTEST_SKIP() << "GPU present: covered by the tests below";
  Config c = metrics_config();
  c.metrics.gpu = true;
  c.metrics.gpu_timing = true;
  metrics::ProbeSet probes(c);
  const auto list = probes.unavailable();
  int memory = 0, timing = 0;
  for (const auto& u : list) {
    if (u.what == "gpu_memory") {
      ++memory;
      EXPECT_EQ(u.reason, nvml.unavailable_reason());
    }
    if (u.what == "gpu_timing") {
      ++timing;
      EXPECT_EQ(u.reason, cuda.unavailable_reason());
    }
  }
  EXPECT_EQ(memory, nvml.available() ? 0 : 1);
  EXPECT_EQ(timing, cuda.available() ? 0 : 1);
  if (!nvml.available()) {
    EXPECT_NE(nvml.unavailable_reason().find("libnvidia-ml.so.1"), std::string::npos) << nvml.unavailable_reason();
    EXPECT_EQ(nvml.memory_used_bytes(), -1);
  }
  // A second ProbeSet gets the same single answer: the libraries are not probed again.
  metrics::ProbeSet again(c);
  EXPECT_EQ(again.unavailable().size(), list.size());
  const ProbeDeltas d =
      measure(probes, register_site("gpu.none", Category::Gpu).id, [] { burn_cpu(100'000); });
  EXPECT_FALSE(d.has(ProbeMetric::GpuMemDeltaBytes) && !nvml.available());
  EXPECT_FALSE(d.has(ProbeMetric::GpuTimeNs) && !cuda.available());
}

TEST(GpuProbes, DeviceMemoryDeltaOfA64MiBAllocation) {
  const metrics::Nvml& nvml = metrics::Nvml::instance();
  if (!nvml.available()) GTEST_SKIP() << "no GPU: " << nvml.unavailable_reason();
  Cudart rt;
  if (!rt.malloc_fn) GTEST_SKIP() << "no CUDA runtime to allocate with";
  Config c = metrics_config();
  c.metrics.gpu = true;
  metrics::ProbeSet probes(c);
  void* warm = nullptr;  // create the context outside the measured scope
  ASSERT_EQ(rt.malloc_fn(&warm, 1 << 20), 0);
  void* block = nullptr;
  const ProbeDeltas d = measure(probes, register_site("gpu.alloc64", Category::Gpu).id,
                                [&] { ASSERT_EQ(rt.malloc_fn(&block, static_cast<std::size_t>(64 * kMiB)), 0); });
  ASSERT_TRUE(d.has(ProbeMetric::GpuMemDeltaBytes));
  EXPECT_GE(d.get(ProbeMetric::GpuMemDeltaBytes), 64 * kMiB);
  EXPECT_LE(d.get(ProbeMetric::GpuMemDeltaBytes), 96 * kMiB);  // device-wide: others may allocate too
  rt.free_fn(block);
  rt.free_fn(warm);
}

TEST(GpuProbes, GpuTimeOfAGpuCategoryScope) {
  const metrics::CudaRuntime& cuda = metrics::CudaRuntime::instance();
  if (!cuda.available()) GTEST_SKIP() << "no GPU: " << cuda.unavailable_reason();
  Cudart rt;
  ASSERT_TRUE(rt.memset_fn);
  Config c = metrics_config();
  c.metrics.gpu_timing = true;
  metrics::ProbeSet probes(c);
  void* block = nullptr;
  ASSERT_EQ(rt.malloc_fn(&block, static_cast<std::size_t>(256 * kMiB)), 0);
  const ProbeDeltas gpu = measure(probes, register_site("gpu.memset", Category::Gpu).id, [&] {
    for (int i = 0; i < 20; ++i) rt.memset_fn(block, i, static_cast<std::size_t>(256 * kMiB));
  });
  ASSERT_TRUE(gpu.has(ProbeMetric::GpuTimeNs));
  EXPECT_GT(gpu.get(ProbeMetric::GpuTimeNs), 0);
  // Scopes of other categories are not timed on the GPU.
  const ProbeDeltas cpu = measure(probes, register_site("gpu.cpu_side", Category::Cpu).id, [] {});
  EXPECT_FALSE(cpu.has(ProbeMetric::GpuTimeNs));
  rt.free_fn(block);
}
