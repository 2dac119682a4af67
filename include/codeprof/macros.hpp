#pragma once
// CODEPROF_SCOPE(profiler, "name", Category::X): a scope with a static call site (no lookup).
// CODEPROF_ZONE("name", Category::X): the same on the default profiler.
// With CODEPROF_DISABLED defined, both vanish.
#define CODEPROF_CONCAT_IMPL(a, b) a##b
#define CODEPROF_CONCAT(a, b) CODEPROF_CONCAT_IMPL(a, b)

#if defined(CODEPROF_DISABLED)
#define CODEPROF_SCOPE(profiler, name, category) static_cast<void>(0)
#define CODEPROF_ZONE(name, category) static_cast<void>(0)
#else
#define CODEPROF_SCOPE(profiler, name, category)                                                   \
  static const ::codeprof::SiteId CODEPROF_CONCAT(codeprof_site_, __LINE__) =                     \
      ::codeprof::register_site((name), (category), __FILE__, __LINE__);                          \
  ::codeprof::Scope CODEPROF_CONCAT(codeprof_scope_, __LINE__)((profiler).state(),                 \
                                                               CODEPROF_CONCAT(codeprof_site_, __LINE__))
#define CODEPROF_ZONE(name, category) CODEPROF_SCOPE(::codeprof::default_profiler(), name, category)
#endif
