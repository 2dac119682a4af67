#pragma once
// fork() copies one thread and every lock in whatever state other threads left it. Objects that
// own locks or threads implement ForkAware and register; one pthread_atfork handler (installed on
// first registration) takes their locks before fork, so the child inherits consistent state, and
// gives them back on both sides. PyTorch DataLoader workers are such children.
namespace codeprof::core {

class ForkAware {
 public:
  // In the forking thread, before fork(): take every lock (the order of normal nesting).
  virtual void before_fork() noexcept = 0;
  // In the parent after fork(): release them.
  virtual void after_fork_parent() noexcept = 0;
  // In the child (one thread: the one that forked): release or reinitialise the locks and forget
  // threads that do not exist here. No thread may be started and nothing allocated here; defer
  // that to the next ordinary call.
  virtual void after_fork_child() noexcept = 0;

  ForkAware(const ForkAware&) = delete;
  ForkAware& operator=(const ForkAware&) = delete;

 protected:
  ForkAware() = default;
  ~ForkAware() = default;
};

// Call at the end of the derived constructor (never from a base constructor: a fork in between
// would call into a half-built object) and at the start of the derived destructor.
// Objects registered later take their locks first: an owner registers after its parts, so its
// own locks (taken before its parts' ones in normal code) are taken first here too.
void register_fork_aware(ForkAware* object);
void unregister_fork_aware(ForkAware* object);

}  // namespace codeprof::core
