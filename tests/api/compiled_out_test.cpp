// With CODEPROF_DISABLED the macros vanish: nothing is registered or recorded.
#define CODEPROF_DISABLED 1
#include "codeprof/codeprof.hpp"

#include <gtest/gtest.h>

TEST(CompiledOut, MacrosRecordNothing) {
  codeprof::Config c;
  c.sampler_enabled = false;
  codeprof::Profiler p(c);
  for (int i = 0; i < 10; ++i) {
    CODEPROF_SCOPE(p, "compiled_out.op", codeprof::Category::Custom);
    CODEPROF_ZONE("compiled_out.zone", codeprof::Category::Custom);
  }
  const auto s = p.snapshot();
  EXPECT_EQ(s.find("compiled_out.op"), nullptr);
  EXPECT_EQ(s.events_recorded, 0u);
  for (const auto& site : codeprof::site_table()) EXPECT_NE(site.name, "compiled_out.op");
}
