#pragma once
// How Chrome / PyTorch-profiler (Kineto) events map onto codeprof's model (docs/TRACE_READER.md).
//
// By the event's category ("cat"):
//   cpu_op, operator, Operator       -> a CPU operation, category model_inference (the model's
//                                       operators, forward and backward, are what runs the model)
//   user_annotation, python_function,
//   unknown or missing categories    -> a CPU operation, category custom
//   cuda_runtime, cuda_driver,
//   Runtime, Driver                  -> a CPU operation, category gpu (the launch/copy/sync API);
//                                       its correlation id links it to the GPU work it started
//   kernel/Kernel, gpu_memcpy/Memcpy,
//   gpu_memset/Memset                -> GPU activity on a device/stream
//   cuda_sync                        -> synchronisation time (Snapshot::sync_ns)
//   gpu_user_annotation, Trace       -> not operations (GPU-side ranges; the profiler's own span)
//   codeprof category names          -> that category (codeprof's own Chrome traces)
// By the name, for CPU operations (whatever their category):
//   ProfilerStep#N                   -> operation "ProfilerStep", training_loop, and step N
//   enumerate(DataLoader)#...        -> data_loading
//   Optimizer.step#..., Optimizer.zero_grad#... -> training_loop
//   nccl:*, gloo:*, c10d::*, record_param_comms, ProcessGroup* -> multi_gpu (collectives)
//   aten::*                          -> model_inference
#include <cstdint>
#include <string_view>

#include "codeprof/category.hpp"

namespace codeprof::io::trace {

enum class EventKind : std::uint8_t {
  CpuSlice,       // a CPU operation
  RuntimeCall,    // a CPU operation that may launch GPU work (correlation id)
  Kernel,
  Memcpy,
  Memset,
  Sync,           // cuda_sync
  ProfilerSpan,   // cat "Trace": the profiling window
  Ignored,        // gpu_user_annotation and the like
};

inline bool is_gpu_activity(EventKind k) noexcept {
  return k == EventKind::Kernel || k == EventKind::Memcpy || k == EventKind::Memset;
}

// What an event category says. `op_class` separates operation names by category class, so that
// the same name under two classes can map to different operations.
struct CategoryClass {
  EventKind kind = EventKind::CpuSlice;
  Category category = Category::Custom;
  std::uint8_t op_class = 0;
  bool kineto = false;    // a category only the PyTorch profiler writes
  bool codeprof = false;  // one of codeprof's category names
};
inline constexpr std::size_t kOpClassCount = 8 + kCategoryCount;

CategoryClass classify_category(std::string_view cat) noexcept;

// A CPU operation's name and category after the name rules.
struct NamedOperation {
  std::string_view name;
  Category category = Category::Custom;
  bool is_step = false;
  std::int64_t step = -1;  // N of ProfilerStep#N (-1 if not a number)
};
// Applies the name rules to a CPU operation whose category class gave `category`.
NamedOperation map_cpu_operation(std::string_view name, const CategoryClass& cls) noexcept;

}  // namespace codeprof::io::trace
