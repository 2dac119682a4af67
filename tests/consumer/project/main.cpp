// A program outside the codeprof tree, built against the installed package.
#include <codeprof/codeprof.hpp>
#include <codeprof/dashboard.hpp>

#include <cstdio>

int main() {
  codeprof::Config config;
  config.sampler_enabled = false;
  codeprof::Profiler profiler(config);
  codeprof::Dashboard dashboard(profiler, {.host = "127.0.0.1", .port = 0});
  if (dashboard.port() == 0) return 1;
  for (int i = 0; i < 3; ++i) {
    CODEPROF_SCOPE(profiler, "consumer.work", codeprof::Category::Custom);
  }
  const codeprof::Snapshot s = profiler.snapshot();
  const auto* op = s.find("consumer.work");
  std::printf("consumer: recorded %llu calls of consumer.work\n",
              static_cast<unsigned long long>(op ? op->count : 0));
  return op && op->count == 3 ? 0 : 1;
}
