#include "io/trace/kineto_mapping.hpp"

#include <array>

namespace codeprof::io::trace {
namespace {

enum OpClass : std::uint8_t {
  kClassCpuOp = 0,
  kClassAnnotation,
  kClassPython,
  kClassRuntime,
  kClassKernel,
  kClassMemcpy,
  kClassMemset,
  kClassOther,
  kClassCodeprof,  // + category index
};

struct Known {
  std::string_view cat;
  CategoryClass cls;
};

constexpr std::array<Known, 20> kKnown = {{
    {"cpu_op", {EventKind::CpuSlice, Category::ModelInference, kClassCpuOp, true, false}},
    {"operator", {EventKind::CpuSlice, Category::ModelInference, kClassCpuOp, true, false}},
    {"Operator", {EventKind::CpuSlice, Category::ModelInference, kClassCpuOp, true, false}},
    {"user_annotation", {EventKind::CpuSlice, Category::Custom, kClassAnnotation, true, false}},
    {"python_function", {EventKind::CpuSlice, Category::Custom, kClassPython, true, false}},
    {"cuda_runtime", {EventKind::RuntimeCall, Category::Gpu, kClassRuntime, true, false}},
    {"cuda_driver", {EventKind::RuntimeCall, Category::Gpu, kClassRuntime, true, false}},
    {"Runtime", {EventKind::RuntimeCall, Category::Gpu, kClassRuntime, true, false}},
    {"Driver", {EventKind::RuntimeCall, Category::Gpu, kClassRuntime, true, false}},
    {"kernel", {EventKind::Kernel, Category::Gpu, kClassKernel, true, false}},
    {"Kernel", {EventKind::Kernel, Category::Gpu, kClassKernel, true, false}},
    {"gpu_memcpy", {EventKind::Memcpy, Category::Gpu, kClassMemcpy, true, false}},
    {"Memcpy", {EventKind::Memcpy, Category::Gpu, kClassMemcpy, true, false}},
    {"gpu_memset", {EventKind::Memset, Category::Gpu, kClassMemset, true, false}},
    {"Memset", {EventKind::Memset, Category::Gpu, kClassMemset, true, false}},
    {"cuda_sync", {EventKind::Sync, Category::Gpu, kClassOther, true, false}},
    {"gpu_user_annotation", {EventKind::Ignored, Category::Custom, kClassOther, true, false}},
    {"Trace", {EventKind::ProfilerSpan, Category::Custom, kClassOther, true, false}},
    {"ac2g", {EventKind::Ignored, Category::Custom, kClassOther, true, false}},
    {"async_gpu", {EventKind::Ignored, Category::Custom, kClassOther, true, false}},
}};

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

CategoryClass classify_category(std::string_view cat) noexcept {
  for (const Known& k : kKnown)
    if (k.cat == cat) return k.cls;
  if (auto c = category_from_string(cat)) {
    CategoryClass cls;
    cls.kind = EventKind::CpuSlice;
    cls.category = *c;
    cls.op_class = static_cast<std::uint8_t>(kClassCodeprof + index_of(*c));
    cls.codeprof = true;
    return cls;
  }
  CategoryClass other;
  other.op_class = kClassOther;
  return other;
}

NamedOperation map_cpu_operation(std::string_view name, const CategoryClass& cls) noexcept {
  NamedOperation op;
  op.name = name;
  op.category = cls.category;
  if (cls.codeprof || cls.kind == EventKind::RuntimeCall) return op;  // their category is already exact

  constexpr std::string_view kStep = "ProfilerStep#";
  if (starts_with(name, kStep)) {
    op.name = "ProfilerStep";
    op.category = Category::TrainingLoop;
    op.is_step = true;
    std::int64_t n = 0;
    std::size_t digits = 0;
    for (char c : name.substr(kStep.size())) {
      if (c < '0' || c > '9' || digits >= 18) {
        digits = 0;
        break;
      }
      n = n * 10 + (c - '0');
      ++digits;
    }
    op.step = digits ? n : -1;
    return op;
  }
  if (starts_with(name, "enumerate(DataLoader)#")) {
    op.category = Category::DataLoading;
  } else if (starts_with(name, "Optimizer.step#") || starts_with(name, "Optimizer.zero_grad#")) {
    op.category = Category::TrainingLoop;
  } else if (starts_with(name, "nccl:") || starts_with(name, "gloo:") || starts_with(name, "c10d::") ||
             starts_with(name, "record_param_comms") || starts_with(name, "ProcessGroup")) {
    op.category = Category::MultiGpu;
  } else if (starts_with(name, "aten::")) {
    op.category = Category::ModelInference;
  }
  return op;
}

}  // namespace codeprof::io::trace
