// The libtorch operator observer: a global at::RecordFunction callback that opens a codeprof
// Scope when an operator starts and closes it when the operator ends.
#include "codeprof/torch.hpp"

#include <ATen/record_function.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>

#include "codeprof/call_site.hpp"
#include "codeprof/profiler.hpp"
#include "codeprof/scope.hpp"

namespace codeprof {
namespace {

// The callback is a plain function pointer, so what it needs lives here. Written only while no
// observer is installed (construction) or after the callback is removed (destruction).
std::atomic<detail::RecorderState*> g_state{nullptr};
std::atomic<std::uint8_t> g_category{static_cast<std::uint8_t>(Category::Cpu)};
std::atomic<std::uint64_t> g_recorded{0};
std::atomic<bool> g_installed{false};

struct OperatorContext final : at::ObserverContext {
  std::optional<Scope> scope;
  std::thread::id thread = std::this_thread::get_id();
};

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  detail::RecorderState* state = g_state.load(std::memory_order_acquire);
  if (state == nullptr || fn.isAsync()) return nullptr;
  const SiteId site = intern_site(fn.name(), static_cast<Category>(g_category.load(std::memory_order_relaxed)));
  auto context = std::make_unique<OperatorContext>();
  context->scope.emplace(*state, site);
  if (context->scope->active()) g_recorded.fetch_add(1, std::memory_order_relaxed);
  return context;
}

void on_end(const at::RecordFunction& /*fn*/, at::ObserverContext* base) {
  auto* context = static_cast<OperatorContext*>(base);
  if (context == nullptr || !context->scope) return;
  if (context->thread == std::this_thread::get_id()) {
    context->scope.reset();  // records the operator's duration now, not when libtorch frees the context
  } else {
    // Ending it here would write into another thread's buffer. Leave the event unrecorded; the
    // starting thread's nesting heals when its enclosing scope ends. (Asynchronous functions are
    // skipped at the start, so this does not happen for ordinary operators.)
    new (&context->scope) std::optional<Scope>();
  }
}

}  // namespace

TorchObserver::TorchObserver(Profiler& profiler, TorchObserverOptions options) : options_(options) {
  if (!(options_.sample_rate >= 0.0 && options_.sample_rate <= 1.0))
    throw std::invalid_argument("codeprof::TorchObserver: sample_rate must be in [0, 1], got " +
                                std::to_string(options_.sample_rate));
  if (g_installed.exchange(true))
    throw std::logic_error("codeprof::TorchObserver: an observer is already installed in this process");
  g_category.store(static_cast<std::uint8_t>(options_.category), std::memory_order_relaxed);
  g_state.store(&profiler.state(), std::memory_order_release);
  std::unordered_set<at::RecordScope, std::hash<at::RecordScope>> scopes;
  if (options_.operators) scopes.insert(at::RecordScope::FUNCTION);
  if (options_.autograd) scopes.insert(at::RecordScope::BACKWARD_FUNCTION);
  if (scopes.empty() || options_.sample_rate == 0.0) return;  // nothing to record: no callback at all
  try {
    handle_ = at::addGlobalCallback(at::RecordFunctionCallback(on_start, on_end)
                                        .needsInputs(false)
                                        .needsOutputs(false)
                                        .needsIds(false)
                                        .samplingProb(options_.sample_rate)
                                        .scopes(scopes));
  } catch (...) {
    g_state.store(nullptr, std::memory_order_release);
    g_installed.store(false);
    throw;
  }
}

TorchObserver::~TorchObserver() {
  g_state.store(nullptr, std::memory_order_release);
  if (handle_ != 0) at::removeCallback(handle_);
  g_recorded.store(0, std::memory_order_relaxed);
  g_installed.store(false);
}

std::uint64_t TorchObserver::recorded() const noexcept { return g_recorded.load(std::memory_order_relaxed); }

}  // namespace codeprof
