#pragma once
// NVIDIA libraries loaded at run time with dlopen: NVML (libnvidia-ml.so.1, ships with the
// driver) for device memory, utilisation, temperature and power, and the CUDA runtime
// (libcudart) for GPU-side timing with events. Nothing links against them; on a machine without
// a driver each loader reports why, once, and every call after that is a cheap no-op.
#include <cstdint>
#include <string>
#include <vector>

namespace codeprof::metrics {

struct NvmlDeviceReading {
  bool has_memory = false;
  std::uint64_t memory_used_bytes = 0;
  std::uint64_t memory_total_bytes = 0;
  bool has_utilization = false;
  double utilization_percent = 0;
  bool has_temperature = false;
  double temperature_celsius = 0;
  bool has_power = false;
  double power_watts = 0;
};

class Nvml {
 public:
  // The process-wide instance: loaded and initialised on first use, never unloaded (other
  // threads may still be sampling when static destructors run).
  static Nvml& instance();

  bool available() const noexcept { return ok_; }
  const std::string& unavailable_reason() const noexcept { return reason_; }
  int device_count() const noexcept { return static_cast<int>(devices_.size()); }
  const std::string& device_name(int index) const { return names_[static_cast<std::size_t>(index)]; }

  // Reads what the device supports. Returns NVML's error text for each field that failed.
  NvmlDeviceReading read(int index, std::vector<std::string>* errors = nullptr) const noexcept;
  // Device memory in use, summed over all devices; -1 when unavailable.
  std::int64_t memory_used_bytes() const noexcept;

  struct Api;  // resolved function pointers (gpu_runtime.cpp)

 private:
  Nvml();
  bool ok_ = false;
  std::string reason_;
  const Api* api_ = nullptr;
  std::vector<void*> devices_;  // nvmlDevice_t handles
  std::vector<std::string> names_;
};

class CudaRuntime {
 public:
  static CudaRuntime& instance();

  bool available() const noexcept { return ok_; }
  const std::string& unavailable_reason() const noexcept { return reason_; }

  // An event recorded now on the legacy default stream of the calling thread's current device;
  // null on failure.
  void* record_event() const noexcept;
  // Waits for `end`, returns the GPU time between the two events in ns (-1 on failure), and
  // destroys both.
  std::int64_t elapsed_ns_and_destroy(void* start, void* end) const noexcept;

  struct Api;

 private:
  CudaRuntime();
  bool ok_ = false;
  std::string reason_;
  const Api* api_ = nullptr;
};

}  // namespace codeprof::metrics
