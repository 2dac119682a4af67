#include "core/fork_safety.hpp"

#include <pthread.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace codeprof::core {
namespace {

struct Registry {
  std::mutex mutex;  // held from before_fork until the after-fork handlers have run
  std::vector<ForkAware*> objects;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: forks may happen during static destruction
  return *r;
}

void prepare() {
  Registry& r = registry();
  r.mutex.lock();
  std::for_each(r.objects.rbegin(), r.objects.rend(), [](ForkAware* o) { o->before_fork(); });
}

void parent() {
  Registry& r = registry();
  for (ForkAware* o : r.objects) o->after_fork_parent();
  r.mutex.unlock();
}

void child() {
  Registry& r = registry();
  for (ForkAware* o : r.objects) o->after_fork_child();
  r.mutex.unlock();  // the forking thread locked it and is the child's only thread
}

}  // namespace

void register_fork_aware(ForkAware* object) {
  static std::once_flag installed;
  std::call_once(installed, [] { ::pthread_atfork(prepare, parent, child); });
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.objects.push_back(object);
}

void unregister_fork_aware(ForkAware* object) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::erase(r.objects, object);
}

}  // namespace codeprof::core
