// Nesting on one thread when scopes end out of order (interleaved asyncio tasks), cancel on the
// owning and on another thread, the open-operation stack read from a signal handler, spans
// recorded after the fact, and nesting deeper than the tracked stack.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "codeprof/scope.hpp"
#include "core/recorder.hpp"

using namespace codeprof;

namespace {

const CallEdge* edge(const Snapshot& s, SiteId parent, SiteId child) {
  for (const auto& e : s.call_tree)
    if (e.parent_id == parent.id && e.child_id == child.id) return &e;
  return nullptr;
}
const CallEdge* root_edge(const Snapshot& s, SiteId child) {
  for (const auto& e : s.call_tree)
    if (e.parent_id == kRootOperation && e.child_id == child.id) return &e;
  return nullptr;
}

std::vector<std::uint32_t> open_ids(detail::RecorderState& state) {
  const detail::OpenOperations open = detail::open_operations(state);
  std::vector<std::uint32_t> ids;
  for (std::uint32_t i = 0; i < open.depth; ++i) ids.push_back(open.ids[i].load(std::memory_order_relaxed));
  return ids;
}

}  // namespace

TEST(Nesting, InterleavedEndsRecordBothAndRestoreTheThreadsNesting) {
  core::Recorder rec(core::RecorderOptions{});
  const SiteId a = register_site("nest.task_a", Category::Custom);
  const SiteId b = register_site("nest.task_b", Category::Custom);
  const SiteId c = register_site("nest.after", Category::Custom);
  const SiteId d = register_site("nest.outer", Category::Custom);
  const SiteId e = register_site("nest.inner", Category::Custom);
  std::optional<Scope> sa, sb;
  sa.emplace(rec.state(), a);
  sb.emplace(rec.state(), b);
  EXPECT_EQ(open_ids(rec.state()), (std::vector<std::uint32_t>{a.id, b.id}));
  sa.reset();  // A ends while B (begun inside it) is open: both places close
  EXPECT_TRUE(open_ids(rec.state()).empty());
  { Scope after(rec.state(), c); }  // top level again, not inside B
  sb.reset();  // B ends after its place was closed: recorded under A, nesting untouched
  EXPECT_TRUE(open_ids(rec.state()).empty());
  for (int i = 0; i < 3; ++i) {
    Scope outer(rec.state(), d);
    Scope inner(rec.state(), e);
  }
  Snapshot s;
  rec.fill(s);
  for (const char* name : {"nest.task_a", "nest.task_b", "nest.after"}) {
    ASSERT_NE(s.find(name), nullptr) << name;
    EXPECT_EQ(s.find(name)->count, 1u) << name;
  }
  EXPECT_EQ(s.events_misnested, 2u);
  EXPECT_EQ(s.events_recorded, 3u + 6u);
  EXPECT_NE(edge(s, a, b), nullptr) << "B keeps the parent it began with";
  EXPECT_NE(root_edge(s, c), nullptr) << "a scope after A's end is top level";
  ASSERT_NE(edge(s, d, e), nullptr);
  EXPECT_EQ(edge(s, d, e)->count, 3u);
  EXPECT_NE(root_edge(s, d), nullptr);
  EXPECT_EQ(s.find("nest.outer")->self_ns, s.find("nest.outer")->total_ns - s.find("nest.inner")->total_ns);
  EXPECT_EQ(s.find("nest.after")->self_ns, s.find("nest.after")->total_ns) << "B's time is nobody's child time";
}

TEST(Nesting, CancelOnTheOwningThreadRecordsNothingAndClosesThePlace) {
  core::Recorder rec(core::RecorderOptions{});
  const SiteId outer = register_site("cancel.outer", Category::Custom);
  const SiteId dropped = register_site("cancel.abandoned", Category::Custom);
  const SiteId next = register_site("cancel.next", Category::Custom);
  {
    Scope o(rec.state(), outer);
    Scope abandoned(rec.state(), dropped);
    abandoned.cancel();
    EXPECT_FALSE(abandoned.active());
    EXPECT_EQ(open_ids(rec.state()), (std::vector<std::uint32_t>{outer.id}));
    Scope n(rec.state(), next);
    EXPECT_EQ(open_ids(rec.state()), (std::vector<std::uint32_t>{outer.id, next.id}));
  }
  Snapshot s;
  rec.fill(s);
  EXPECT_EQ(s.find("cancel.abandoned"), nullptr);
  ASSERT_NE(s.find("cancel.outer"), nullptr);
  EXPECT_NE(edge(s, outer, next), nullptr);
  EXPECT_EQ(s.events_misnested, 0u);
  EXPECT_EQ(s.events_recorded, 2u);
}

// The owner ends the scope on another thread: cancel() there touches nothing of the thread that
// began it (which keeps recording meanwhile; TSan would see any shared access). That thread's
// nesting recovers when the enclosing scope ends.
TEST(Nesting, CancelOnAnotherThreadLeavesTheBeginningThreadAlone) {
  core::Recorder rec(core::RecorderOptions{});
  const SiteId outer = register_site("xcancel.outer", Category::Custom);
  const SiteId moved = register_site("xcancel.moved", Category::Custom);
  const SiteId busy = register_site("xcancel.busy", Category::Custom);
  const SiteId later = register_site("xcancel.later", Category::Custom);
  std::atomic<Scope*> handed{nullptr};
  std::atomic<bool> cancelled{false};
  std::vector<std::uint32_t> after;
  std::thread t([&] {
    {
      Scope o(rec.state(), outer);
      auto* s = new Scope(rec.state(), moved);
      handed.store(s);
      while (!cancelled.load()) {
        Scope b(rec.state(), busy);
      }
    }  // the enclosing scope closes the abandoned place
    after = open_ids(rec.state());
    Scope l(rec.state(), later);
  });
  Scope* s = nullptr;
  while (!(s = handed.load())) std::this_thread::yield();
  s->cancel();
  delete s;
  cancelled.store(true);
  t.join();
  EXPECT_TRUE(after.empty());
  Snapshot snap;
  rec.fill(snap);
  EXPECT_EQ(snap.find("xcancel.moved"), nullptr);
  ASSERT_NE(snap.find("xcancel.outer"), nullptr);
  EXPECT_NE(root_edge(snap, later), nullptr);
  EXPECT_NE(edge(snap, moved, busy), nullptr) << "scopes begun while the place was open nest inside it";
  EXPECT_EQ(snap.events_misnested, 1u) << "the enclosing scope ended with the abandoned place open";
}

namespace {
detail::RecorderState* g_signal_state = nullptr;
std::atomic<std::uint32_t> g_seen_depth{0};
std::uint32_t g_seen_ids[8];
std::atomic<int> g_bad{0};
std::atomic<int> g_samples{0};
std::uint32_t g_expect[3];

void record_stack(int) {
  const detail::OpenOperations open = detail::open_operations(*g_signal_state);
  const std::uint32_t n = open.depth < 8 ? open.depth : 8;
  for (std::uint32_t i = 0; i < n; ++i) g_seen_ids[i] = open.ids[i].load(std::memory_order_relaxed);
  g_seen_depth.store(open.depth, std::memory_order_relaxed);
}

// Checks that what the handler sees is always a prefix of (outer, middle, inner).
void check_stack(int) {
  const detail::OpenOperations open = detail::open_operations(*g_signal_state);
  if (open.depth > 3) g_bad.fetch_add(1, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < open.depth && i < 3; ++i)
    if (open.ids[i].load(std::memory_order_relaxed) != g_expect[i]) g_bad.fetch_add(1, std::memory_order_relaxed);
  g_samples.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

TEST(OpenOperations, ReadFromASignalHandlerOnTheSameThread) {
  core::Recorder rec(core::RecorderOptions{});
  g_signal_state = &rec.state();
  const SiteId outer = register_site("sig.outer", Category::Custom);
  const SiteId inner = register_site("sig.inner", Category::Custom);
  struct sigaction sa {};
  sa.sa_handler = record_stack;
  sigemptyset(&sa.sa_mask);
  struct sigaction old {};
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);

  std::thread never([&] {  // a thread that never recorded sees nothing
    raise(SIGUSR1);
    EXPECT_EQ(g_seen_depth.load(), 0u);
  });
  never.join();
  {
    Scope o(rec.state(), outer);
    Scope i(rec.state(), inner);
    raise(SIGUSR1);
    ASSERT_EQ(g_seen_depth.load(), 2u);
    EXPECT_EQ(g_seen_ids[0], outer.id);
    EXPECT_EQ(g_seen_ids[1], inner.id);
  }
  raise(SIGUSR1);
  EXPECT_EQ(g_seen_depth.load(), 0u);
  sigaction(SIGUSR1, &old, nullptr);
}

// Signals land at arbitrary points of begin and end: every stack seen is consistent.
TEST(OpenOperations, ConsistentWhereverASignalLands) {
  core::Recorder rec(core::RecorderOptions{});
  g_signal_state = &rec.state();
  const SiteId a = register_site("sigstorm.a", Category::Custom);
  const SiteId b = register_site("sigstorm.b", Category::Custom);
  const SiteId c = register_site("sigstorm.c", Category::Custom);
  g_expect[0] = a.id;
  g_expect[1] = b.id;
  g_expect[2] = c.id;
  g_bad = 0;
  g_samples = 0;
  struct sigaction sa {};
  sa.sa_handler = check_stack;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  struct sigaction old {};
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      Scope x(rec.state(), a);
      Scope y(rec.state(), b);
      { Scope z(rec.state(), c); }
    }
  });
  const pthread_t target = worker.native_handle();
  for (int i = 0; i < 1'000'000 && g_samples.load() < 300; ++i) pthread_kill(target, SIGUSR2);
  stop.store(true);
  worker.join();
  sigaction(SIGUSR2, &old, nullptr);
  EXPECT_GT(g_samples.load(), 0);
  EXPECT_EQ(g_bad.load(), 0);
}

TEST(RecordSpan, NestsUnderTheOpenScopeAndLeavesItsSelfTime) {
  core::Recorder rec(core::RecorderOptions{});
  const SiteId outer = register_site("span.outer", Category::DataLoading);
  const SiteId wait = register_site("span.wait", Category::DataLoading);
  const SiteId off = register_site("span.off", Category::Gpu);
  rec.set_category_enabled(Category::Gpu, false);
  {
    Scope o(rec.state(), outer);
    const std::uint64_t t0 = detail::read_ticks(rec.state());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::uint64_t t1 = detail::read_ticks(rec.state());
    EXPECT_TRUE(detail::record_span(rec.state(), wait, t0, t1));
    EXPECT_FALSE(detail::record_span(rec.state(), off, t0, t1)) << "category off";
    EXPECT_FALSE(detail::record_span(rec.state(), wait, t1, t0)) << "end before start";
  }
  EXPECT_TRUE(detail::record_span(rec.state(), wait, 1000, 1000)) << "top level, zero length";
  Snapshot s;
  rec.fill(s);
  const auto* w = s.find("span.wait");
  const auto* o = s.find("span.outer");
  ASSERT_TRUE(w && o);
  EXPECT_EQ(w->count, 2u);
  EXPECT_GE(w->max_ns, 4'000'000u);
  EXPECT_EQ(o->self_ns, o->total_ns - w->total_ns);
  EXPECT_NE(edge(s, outer, wait), nullptr);
  EXPECT_NE(root_edge(s, wait), nullptr);
  EXPECT_EQ(s.find("span.off"), nullptr);
}

namespace {
int recurse(core::Recorder& rec, SiteId site, int depth, std::uint32_t& deepest_seen) {
  Scope s(rec.state(), site);
  const detail::OpenOperations open = detail::open_operations(rec.state());
  deepest_seen = std::max(deepest_seen, open.depth);
  return depth > 1 ? 1 + recurse(rec, site, depth - 1, deepest_seen) : 1;
}
}  // namespace

TEST(Nesting, DeeperThanTheTrackedStackStillCountsAndUnwinds) {
  core::Recorder rec(core::RecorderOptions{});
  const SiteId r = register_site("deep.recurse", Category::Custom);
  const SiteId after = register_site("deep.after", Category::Custom);
  std::uint32_t deepest = 0;
  const int depth = static_cast<int>(detail::kMaxDepth) + 44;
  EXPECT_EQ(recurse(rec, r, depth, deepest), depth);
  EXPECT_EQ(deepest, detail::kMaxDepth);
  EXPECT_TRUE(open_ids(rec.state()).empty());
  { Scope a(rec.state(), after); }
  Snapshot s;
  rec.fill(s);
  EXPECT_EQ(s.find("deep.recurse")->count, static_cast<std::uint64_t>(depth));
  EXPECT_EQ(s.events_misnested, 0u);
  EXPECT_NE(root_edge(s, after), nullptr);
}
