#include "metrics/gpu_runtime.hpp"

#include <dlfcn.h>

#include <initializer_list>

namespace codeprof::metrics {
namespace {

// The few NVML / CUDA runtime declarations used, written out so no NVIDIA header is needed.
using nvmlReturn = int;
using nvmlDevice = void*;
constexpr nvmlReturn kNvmlSuccess = 0;
constexpr int kNvmlTemperatureGpu = 0;
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};

using cudaError = int;
using cudaEvent = void*;
constexpr cudaError kCudaSuccess = 0;

template <typename Fn>
Fn symbol(void* lib, const char* name) {
  return reinterpret_cast<Fn>(::dlsym(lib, name));
}

void* open_first(std::initializer_list<const char*> names, std::string& tried) {
  for (const char* name : names) {
    // RTLD_NOLOAD first: reuse the copy the program (e.g. PyTorch) already loaded.
    if (void* lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD)) return lib;
    if (void* lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL)) return lib;
    if (!tried.empty()) tried += ", ";
    tried += name;
  }
  return nullptr;
}

}  // namespace

struct Nvml::Api {
  nvmlReturn (*init)();
  const char* (*error_string)(nvmlReturn);
  nvmlReturn (*device_count)(unsigned int*);
  nvmlReturn (*handle_by_index)(unsigned int, nvmlDevice*);
  nvmlReturn (*name)(nvmlDevice, char*, unsigned int);
  nvmlReturn (*memory)(nvmlDevice, NvmlMemory*);
  nvmlReturn (*utilization)(nvmlDevice, NvmlUtilization*);
  nvmlReturn (*temperature)(nvmlDevice, int, unsigned int*);
  nvmlReturn (*power)(nvmlDevice, unsigned int*);
};

Nvml& Nvml::instance() {
  static Nvml* nvml = new Nvml();  // leaked on purpose: see the header
  return *nvml;
}

Nvml::Nvml() {
  std::string tried;
  void* lib = open_first({"libnvidia-ml.so.1"}, tried);
  if (!lib) {
    reason_ = "no NVIDIA driver: " + tried + " not found";
    return;
  }
  static Api api{};
  api.init = symbol<decltype(api.init)>(lib, "nvmlInit_v2");
  api.error_string = symbol<decltype(api.error_string)>(lib, "nvmlErrorString");
  api.device_count = symbol<decltype(api.device_count)>(lib, "nvmlDeviceGetCount_v2");
  api.handle_by_index = symbol<decltype(api.handle_by_index)>(lib, "nvmlDeviceGetHandleByIndex_v2");
  api.name = symbol<decltype(api.name)>(lib, "nvmlDeviceGetName");
  api.memory = symbol<decltype(api.memory)>(lib, "nvmlDeviceGetMemoryInfo");
  api.utilization = symbol<decltype(api.utilization)>(lib, "nvmlDeviceGetUtilizationRates");
  api.temperature = symbol<decltype(api.temperature)>(lib, "nvmlDeviceGetTemperature");
  api.power = symbol<decltype(api.power)>(lib, "nvmlDeviceGetPowerUsage");
  if (!api.init || !api.error_string || !api.device_count || !api.handle_by_index || !api.name || !api.memory ||
      !api.utilization || !api.temperature || !api.power) {
    reason_ = "libnvidia-ml.so.1 lacks an expected symbol (driver too old?)";
    return;
  }
  if (const nvmlReturn r = api.init(); r != kNvmlSuccess) {
    reason_ = std::string("nvmlInit failed: ") + api.error_string(r);
    return;
  }
  unsigned int count = 0;
  if (const nvmlReturn r = api.device_count(&count); r != kNvmlSuccess) {
    reason_ = std::string("nvmlDeviceGetCount failed: ") + api.error_string(r);
    return;
  }
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice d = nullptr;
    if (api.handle_by_index(i, &d) != kNvmlSuccess) continue;
    char name[96] = {};
    if (api.name(d, name, sizeof name) != kNvmlSuccess) name[0] = '\0';
    devices_.push_back(d);
    names_.emplace_back(name);
  }
  if (devices_.empty()) {
    reason_ = "NVML found no GPU";
    return;
  }
  api_ = &api;
  ok_ = true;
}

NvmlDeviceReading Nvml::read(int index, std::vector<std::string>* errors) const noexcept {
  NvmlDeviceReading r;
  if (!ok_ || index < 0 || index >= device_count()) return r;
  nvmlDevice d = devices_[static_cast<std::size_t>(index)];
  const auto note = [&](const char* what, nvmlReturn e) noexcept {
    if (!errors) return;
    try {
      errors->push_back(std::string(what) + ": " + api_->error_string(e));
    } catch (...) {
    }
  };
  NvmlMemory mem{};
  if (const nvmlReturn e = api_->memory(d, &mem); e == kNvmlSuccess) {
    r.has_memory = true;
    r.memory_used_bytes = mem.used;
    r.memory_total_bytes = mem.total;
  } else {
    note("memory", e);
  }
  NvmlUtilization util{};
  if (const nvmlReturn e = api_->utilization(d, &util); e == kNvmlSuccess) {
    r.has_utilization = true;
    r.utilization_percent = util.gpu;
  } else {
    note("utilization", e);
  }
  unsigned int temp = 0;
  if (const nvmlReturn e = api_->temperature(d, kNvmlTemperatureGpu, &temp); e == kNvmlSuccess) {
    r.has_temperature = true;
    r.temperature_celsius = temp;
  } else {
    note("temperature", e);
  }
  unsigned int milliwatts = 0;
  if (const nvmlReturn e = api_->power(d, &milliwatts); e == kNvmlSuccess) {
    r.has_power = true;
    r.power_watts = milliwatts / 1000.0;
  } else {
    note("power", e);
  }
  return r;
}

std::int64_t Nvml::memory_used_bytes() const noexcept {
  if (!ok_) return -1;
  std::int64_t sum = 0;
  for (nvmlDevice d : devices_) {
    NvmlMemory mem{};
    if (api_->memory(d, &mem) != kNvmlSuccess) return -1;
    sum += static_cast<std::int64_t>(mem.used);
  }
  return sum;
}

struct CudaRuntime::Api {
  cudaError (*device_count)(int*);
  const char* (*error_string)(cudaError);
  cudaError (*event_create)(cudaEvent*);
  cudaError (*event_record)(cudaEvent, void*);
  cudaError (*event_synchronize)(cudaEvent);
  cudaError (*event_elapsed)(float*, cudaEvent, cudaEvent);
  cudaError (*event_destroy)(cudaEvent);
};

CudaRuntime& CudaRuntime::instance() {
  static CudaRuntime* cuda = new CudaRuntime();  // leaked on purpose, like Nvml
  return *cuda;
}

CudaRuntime::CudaRuntime() {
  std::string tried;
  void* lib = open_first({"libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"}, tried);
  if (!lib) {
    reason_ = "no CUDA runtime: " + tried + " not found";
    return;
  }
  static Api api{};
  api.device_count = symbol<decltype(api.device_count)>(lib, "cudaGetDeviceCount");
  api.error_string = symbol<decltype(api.error_string)>(lib, "cudaGetErrorString");
  api.event_create = symbol<decltype(api.event_create)>(lib, "cudaEventCreate");
  api.event_record = symbol<decltype(api.event_record)>(lib, "cudaEventRecord");
  api.event_synchronize = symbol<decltype(api.event_synchronize)>(lib, "cudaEventSynchronize");
  api.event_elapsed = symbol<decltype(api.event_elapsed)>(lib, "cudaEventElapsedTime");
  api.event_destroy = symbol<decltype(api.event_destroy)>(lib, "cudaEventDestroy");
  if (!api.device_count || !api.error_string || !api.event_create || !api.event_record ||
      !api.event_synchronize || !api.event_elapsed || !api.event_destroy) {
    reason_ = "libcudart lacks an expected symbol";
    return;
  }
  int count = 0;  // left untouched on error (no driver): initialised
  if (const cudaError e = api.device_count(&count); e != kCudaSuccess) {
    reason_ = std::string("CUDA runtime cannot reach a GPU: ") + api.error_string(e);
    return;
  }
  if (count <= 0) {
    reason_ = "CUDA runtime found no GPU";
    return;
  }
  api_ = &api;
  ok_ = true;
}

void* CudaRuntime::record_event() const noexcept {
  if (!ok_) return nullptr;
  cudaEvent ev = nullptr;
  if (api_->event_create(&ev) != kCudaSuccess) return nullptr;
  if (api_->event_record(ev, nullptr) != kCudaSuccess) {
    api_->event_destroy(ev);
    return nullptr;
  }
  return ev;
}

std::int64_t CudaRuntime::elapsed_ns_and_destroy(void* start, void* end) const noexcept {
  if (!ok_) return -1;
  std::int64_t ns = -1;
  float ms = 0;
  if (start && end && api_->event_synchronize(end) == kCudaSuccess &&
      api_->event_elapsed(&ms, start, end) == kCudaSuccess)
    ns = static_cast<std::int64_t>(static_cast<double>(ms) * 1e6);
  if (start) api_->event_destroy(start);
  if (end) api_->event_destroy(end);
  return ns;
}

}  // namespace codeprof::metrics
