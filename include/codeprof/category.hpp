#pragma once
// Operation categories: the stages of an ML pipeline plus the system areas around them.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "codeprof/detail/enum_names.hpp"

namespace codeprof {

enum class Category : std::uint8_t {
  DataLoading,
  Preprocessing,
  ModelInference,
  TrainingLoop,
  MixedPrecision,
  MultiGpu,
  GradientAccumulation,
  EarlyStopping,
  LrScheduling,
  Memory,
  Gpu,
  Cpu,
  Io,
  Custom,
};

inline constexpr std::size_t kCategoryCount = 14;

inline constexpr std::array<std::string_view, kCategoryCount> kCategoryNames = {
    "data_loading",  "preprocessing",         "model_inference", "training_loop", "mixed_precision",
    "multi_gpu",     "gradient_accumulation", "early_stopping",  "lr_scheduling", "memory",
    "gpu",           "cpu",                   "io",              "custom"};

constexpr std::string_view to_string(Category c) noexcept { return detail::enum_name(kCategoryNames, c); }

constexpr std::optional<Category> category_from_string(std::string_view s) noexcept {
  return detail::enum_from_name<Category>(kCategoryNames, s);
}

constexpr std::size_t index_of(Category c) noexcept { return static_cast<std::size_t>(c); }

// One bit per category; bit 31 is the global enable switch (see detail/recorder_state.hpp).
constexpr std::uint32_t category_bit(Category c) noexcept { return 1u << static_cast<unsigned>(c); }

inline constexpr std::uint32_t kAllCategoriesMask = (1u << kCategoryCount) - 1u;

}  // namespace codeprof
