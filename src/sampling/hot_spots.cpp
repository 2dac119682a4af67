#include "sampling/hot_spots.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

namespace codeprof::sampling {
namespace {

struct OperationCounts {
  std::uint64_t samples = 0;
  // (function, module) -> samples; (function, module, file, line) -> samples
  std::map<std::tuple<std::string, std::string>, std::uint64_t> functions;
  std::map<std::tuple<std::string, std::string, std::string, std::uint32_t>, std::uint64_t> lines;
};

// Most samples first; ties by function, file and line so the order is stable.
void sort_and_trim(std::vector<HotSpot>& v) {
  std::sort(v.begin(), v.end(), [](const HotSpot& a, const HotSpot& b) {
    if (a.samples != b.samples) return a.samples > b.samples;
    return std::tie(a.function, a.file, a.line) < std::tie(b.function, b.file, b.line);
  });
  if (v.size() > kHotSpotsPerOperation) v.resize(kHotSpotsPerOperation);
}

}  // namespace

const ProfileFrame& unknown_frame() {
  static const ProfileFrame frame{"[unknown]", "", 0, "", false};
  return frame;
}

void attribute_hot_spots(Snapshot& s) {
  std::unordered_map<std::uint32_t, OperationCounts> per_op;
  for (const ProfileStack& st : s.profile.stacks) {
    if (st.cpu_samples == 0 || st.operations.empty()) continue;
    OperationCounts& c = per_op[st.operations.front()];
    c.samples += st.cpu_samples;
    const ProfileFrame& leaf = st.frames.empty() || st.frames.front() >= s.profile.frames.size()
                                   ? unknown_frame()
                                   : s.profile.frames[st.frames.front()];
    c.functions[{leaf.function, leaf.module}] += st.cpu_samples;
    c.lines[{leaf.function, leaf.module, leaf.file, leaf.line}] += st.cpu_samples;
  }
  for (OperationStats& op : s.operations) {
    op.cpu_samples = 0;
    op.hot_functions.clear();
    op.hot_lines.clear();
    const auto it = per_op.find(op.id);
    if (it == per_op.end()) continue;
    const OperationCounts& c = it->second;
    op.cpu_samples = c.samples;
    const double total = static_cast<double>(c.samples);
    // A function's file and line are those of its most sampled line.
    std::map<std::tuple<std::string, std::string>, std::pair<std::uint64_t, const std::tuple<std::string, std::string, std::string, std::uint32_t>*>> best;
    for (const auto& entry : c.lines) {
      const auto& [function, module, file, line] = entry.first;
      auto& b = best[{function, module}];
      if (!b.second || entry.second > b.first) b = {entry.second, &entry.first};
      op.hot_lines.push_back({function, file, line, entry.second, static_cast<double>(entry.second) / total});
    }
    for (const auto& [key, samples] : c.functions) {
      const auto& line_key = *best.at(key).second;
      op.hot_functions.push_back(
          {std::get<0>(key), std::get<2>(line_key), std::get<3>(line_key), samples, static_cast<double>(samples) / total});
    }
    sort_and_trim(op.hot_functions);
    sort_and_trim(op.hot_lines);
  }
}

}  // namespace codeprof::sampling
