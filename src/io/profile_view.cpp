#include "io/profile_view.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>

namespace codeprof::io {
namespace {

using Json = nlohmann::json;

Json hot_spots(const std::vector<HotSpot>& spots) {
  Json a = Json::array();
  for (const auto& h : spots)
    a.push_back({{"function", h.function}, {"file", h.file}, {"line", h.line}, {"samples", h.samples}, {"share", h.share}});
  return a;
}

Json alloc_sites(const std::vector<AllocSite>& sites) {
  Json a = Json::array();
  for (const auto& s : sites)
    a.push_back({{"function", s.function}, {"file", s.file}, {"line", s.line}, {"samples", s.samples}, {"bytes", s.bytes},
                 {"share", s.share}});
  return a;
}

// The stacks of non-zero weight, heaviest first and at most `max_stacks` of them (the weight of the
// rest is added to `omitted`); frames outermost first, as the flame graph builds its tree from the
// root. `extra` adds fields of its own to each stack.
template <class Weight, class Extra>
Json heaviest_stacks(const SampleProfile& p, std::size_t max_stacks, Weight weight, Extra extra, std::uint64_t& omitted) {
  std::vector<std::size_t> order(p.stacks.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return weight(p.stacks[a]) > weight(p.stacks[b]); });
  Json stacks = Json::array();
  for (const std::size_t i : order) {
    const ProfileStack& st = p.stacks[i];
    const std::uint64_t w = weight(st);
    if (w == 0) continue;
    if (stacks.size() >= max_stacks) {
      omitted += w;
      continue;
    }
    Json ops = Json::array();
    for (auto it = st.operations.rbegin(); it != st.operations.rend(); ++it) ops.push_back(operation_name(p, *it));
    Json fr = Json::array();
    for (auto it = st.frames.rbegin(); it != st.frames.rend(); ++it) fr.push_back(*it);
    Json stack = {{"ops", std::move(ops)}, {"frames", std::move(fr)}, {"value", w}};
    extra(st, stack);
    stacks.push_back(std::move(stack));
  }
  return stacks;
}

// Only when allocations were sampled, so the view of a CPU-only profile stays as it was: each
// operation's allocation sites and leak suspects, and the allocating stacks weighted by bytes
// allocated ("value") and still live ("live"), most bytes first.
void add_allocations(Json& out, const Snapshot& s, std::size_t max_stacks) {
  const SampleProfile& p = s.profile;
  const bool any = std::any_of(p.stacks.begin(), p.stacks.end(), [](const ProfileStack& st) { return st.alloc_samples > 0; });
  if (!any) return;
  out["sampling"]["alloc_interval_bytes"] = s.sampling.alloc_interval_bytes;
  out["sampling"]["alloc_samples"] = s.sampling.alloc_samples;
  Json operations = Json::array();
  for (const auto& op : s.operations)
    if (op.alloc_samples > 0)
      operations.push_back({{"id", op.id},
                            {"name", op.name},
                            {"type", to_string(op.category)},
                            {"alloc_samples", op.alloc_samples},
                            {"alloc_sampled_bytes", op.alloc_sampled_bytes},
                            {"live_sampled_bytes", op.live_sampled_bytes},
                            {"hot_allocations", alloc_sites(op.hot_allocations)},
                            {"live_at_end", alloc_sites(op.live_at_end)}});
  out["allocations"] = std::move(operations);
  std::uint64_t omitted = 0;
  Json stacks = heaviest_stacks(
      p, max_stacks, [](const ProfileStack& st) { return st.alloc_bytes; },
      [](const ProfileStack& st, Json& stack) { stack["live"] = st.live_bytes; }, omitted);
  out["alloc_stacks"] = std::move(stacks);
  out["alloc_omitted"] = omitted;
}

}  // namespace

std::string operation_name(const SampleProfile& p, std::uint32_t id) {
  for (const auto& o : p.operations)
    if (o.id == id) return o.name;
  return std::string("operation#").append(std::to_string(id));
}

std::string profile_view_json(const Snapshot& s, std::size_t max_stacks) {
  const SampleProfile& p = s.profile;
  Json sources = Json::array();
  for (const auto& src : s.sampling.sources)
    sources.push_back({{"name", src.name},
                       {"frequency_hz", src.frequency_hz},
                       {"threads", src.threads},
                       {"inherited_threads", src.inherited_threads},
                       {"samples", src.samples},
                       {"dropped", src.dropped}});
  Json unavailable = Json::array();
  for (const auto& u : s.sampling.unavailable) unavailable.push_back({{"what", u.what}, {"reason", u.reason}});

  Json operations = Json::array();
  for (const auto& op : s.operations)
    if (op.cpu_samples > 0)
      operations.push_back({{"id", op.id},
                            {"name", op.name},
                            {"type", to_string(op.category)},
                            {"cpu_samples", op.cpu_samples},
                            {"hot_functions", hot_spots(op.hot_functions)},
                            {"hot_lines", hot_spots(op.hot_lines)}});

  Json frames = Json::array();
  for (const auto& f : p.frames) frames.push_back(f.function);
  std::uint64_t omitted = 0;
  Json stacks = heaviest_stacks(
      p, max_stacks, [](const ProfileStack& st) { return st.cpu_samples; }, [](const ProfileStack&, Json&) {}, omitted);
  Json out = {{"sampling",
           {{"enabled", s.sampling.enabled},
            {"sources", std::move(sources)},
            {"samples", s.sampling.samples},
            {"dropped", s.sampling.dropped},
            {"unavailable", std::move(unavailable)}}},
          {"operations", std::move(operations)},
          {"frames", std::move(frames)},
          {"stacks", std::move(stacks)},
          {"omitted", omitted}};
  add_allocations(out, s, max_stacks);
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace codeprof::io
