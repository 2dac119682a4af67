// Symbolizer: code outside every module (a JIT's) is unknown without re-reading /proc/self/maps at
// each of its addresses, and a library loaded after the first look is found.
#include <gtest/gtest.h>
#include <dlfcn.h>
#include <sys/mman.h>

#include <cstdint>
#include <string>

#include "sampling/symbolizer.hpp"

namespace codeprof::sampling {
namespace symbolizer_test {  // named: other test files share this unity translation unit

TEST(Symbolizer, CodeOutsideEveryModuleIsUnknownWithoutRereadingTheMaps) {
  // Executable memory no loader mapped, as a JIT (oneDNN's kernels under libtorch) makes it; away
  // from the libraries (libdwfl counts an anonymous mapping right after a module as the module's).
  const std::size_t bytes = 1 << 16;
  void* jit = ::mmap(reinterpret_cast<void*>(std::uintptr_t{0x6b0000000000}), bytes, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(jit, MAP_FAILED);
  Symbolizer symbolizer;
  const std::size_t reports = symbolizer.module_reports();
  EXPECT_EQ(reports, 1u);
  for (std::size_t offset = 0; offset < bytes; offset += 64) {
    const auto& frames = symbolizer.frames(reinterpret_cast<std::uintptr_t>(jit) + offset);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].function, "[unknown]");
  }
  EXPECT_EQ(symbolizer.module_reports(), reports) << "1024 addresses in no module, no new module loaded";
  ::munmap(jit, bytes);
}

[[gnu::noinline]] int program_function(int x) { return x * 3 + 1; }

TEST(Symbolizer, LibraryLoadedAfterTheFirstLookIsFound) {
  Symbolizer symbolizer;
  // Something of the program first: the modules are read.
  EXPECT_FALSE(symbolizer.frames(reinterpret_cast<std::uintptr_t>(&program_function) + 1).empty());
  const std::size_t reports = symbolizer.module_reports();
  void* library = ::dlopen(CODEPROF_LATE_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(library, nullptr) << ::dlerror();
  void* function = ::dlsym(library, "codeprof_late_library_function");
  ASSERT_NE(function, nullptr);
  const auto& frames = symbolizer.frames(reinterpret_cast<std::uintptr_t>(function) + 4);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().function, "codeprof_late_library_function");
  EXPECT_NE(frames.back().module.find("late_library"), std::string::npos) << frames.back().module;
  EXPECT_NE(frames.back().file.find("late_library.cpp"), std::string::npos) << "built with -g: a line";
  EXPECT_EQ(symbolizer.module_reports(), reports + 1);
  ::dlclose(library);
}

}  // namespace symbolizer_test
}  // namespace codeprof::sampling
