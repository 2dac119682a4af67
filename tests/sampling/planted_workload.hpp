#pragma once
// A workload with a known answer, compiled with debug information (tests/sampling/CMakeLists.txt):
// planted_work() spends about 70 % of its CPU time in one source line (kHotLine) and the rest in
// an always-inlined helper, so a sampler must resolve the line and the inlined frame.
#include <cstdint>

namespace codeprof::test {

inline constexpr const char* kPlantedFile = "planted_workload.cpp";
extern const std::uint32_t kHotLine;     // the planted line
extern const std::uint32_t kHelperCallLine;  // where the inlined helper is called

struct PlantedTimes {
  double hot_s = 0;     // thread CPU time of the hot line's loop
  double helper_s = 0;  // thread CPU time of the inlined helper
  double result = 0;    // keeps the work observable
};

// Runs the workload for about `cpu_seconds` of thread CPU time.
PlantedTimes run_planted_work(double cpu_seconds);

}  // namespace codeprof::test
