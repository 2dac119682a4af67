#include "analysis/hot_code.hpp"

#include <map>
#include <tuple>

#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

// Code the user wrote, as opposed to the C++ standard library, system headers, shared libraries
// of the system and Python's own library (Python frames carry absolute file names).
bool is_user_code(const ProfileFrame& f) {
  if (f.file.empty() || f.line == 0) return false;
  // Shared libraries of the system (glibc's debug information names its sources relatively, e.g.
  // ../sysdeps/nptl/libc_start_call_main.h).
  if (f.module.starts_with("/usr/lib/") || f.module.starts_with("/lib/") || f.file.front() != '/') return false;
  for (const char* system : {"/usr/include/", "/usr/lib/", "/usr/local/include/", "/lib/", "<frozen "})
    if (f.file.starts_with(system)) return false;
  return f.file.find("/include/c++/") == std::string::npos && f.file.find("site-packages/") == std::string::npos &&
         f.file.find("dist-packages/") == std::string::npos;
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "file.cpp:88", "file.cpp" without a line.
std::string place(const std::string& file, std::uint32_t line) {
  std::string p = file;
  if (line) p.append(1, ':').append(std::to_string(line));
  return p;
}

}  // namespace

std::string HotCode::text() const {
  std::string t = common::format_percent(share);
  if (file.empty()) return t.append(" of its CPU samples in ").append(function);
  return t.append(" of its CPU samples at ").append(place(base_name(file), line)).append(", mostly in ").append(function);
}

std::optional<HotCode> hottest_code(const Snapshot& s, std::uint32_t operation_id) {
  const OperationStats* op = s.find(operation_id);
  if (!op || op->cpu_samples < kMinSamplesToCite) return std::nullopt;
  const SampleProfile& p = s.profile;
  // Samples per line of the user's code, and per innermost function under each line. A stack with
  // no such line counts for its innermost frame's own line, or, where that is unknown (code without
  // debug information), for that function alone: one place is what the text then names.
  std::map<std::tuple<std::string, std::uint32_t, std::string>, std::map<std::string, std::uint64_t>> by_line;
  for (const ProfileStack& st : p.stacks) {
    if (st.cpu_samples == 0 || st.operations.empty() || st.operations.front() != operation_id || st.frames.empty()) continue;
    const ProfileFrame& leaf = p.frames[st.frames.front()];
    const ProfileFrame* user = nullptr;
    for (const std::uint32_t f : st.frames)
      if (is_user_code(p.frames[f])) {
        user = &p.frames[f];
        break;
      }
    const bool leaf_unplaced = !user && (leaf.file.empty() || leaf.line == 0);
    by_line[{user ? user->file : leaf.file, user ? user->line : leaf.line, leaf_unplaced ? leaf.function : std::string()}]
           [leaf.function] += st.cpu_samples;
  }
  std::optional<HotCode> best;
  for (const auto& [where, functions] : by_line) {
    std::uint64_t total = 0;
    const std::pair<const std::string, std::uint64_t>* top = nullptr;
    for (const auto& entry : functions) {
      total += entry.second;
      if (!top || entry.second > top->second) top = &entry;
    }
    if (!best || total > best->samples)
      best = HotCode{top->first, std::get<0>(where), std::get<1>(where), total,
                     static_cast<double>(total) / static_cast<double>(op->cpu_samples)};
  }
  return best;
}

void cite_hot_code(const Snapshot& s, Findings& findings) {
  if (s.profile.empty()) return;
  for (Recommendation& r : findings.recommendations) {
    std::string name;
    for (const Evidence& e : r.evidence)
      if (!e.operation.empty()) {
        name = e.operation;
        break;
      }
    const OperationStats* op = name.empty() ? nullptr : s.find(name);
    if (!op) continue;
    const auto hot = hottest_code(s, op->id);
    if (!hot) continue;
    r.evidence.push_back({"hot_code_share", hot->share, EvidenceUnit::Ratio, op->name, {}});
    if (!r.evidence_text.empty()) r.evidence_text.append("; ");
    r.evidence_text.append(op->name).append(": ").append(hot->text());
    r.action.append(" Start with ").append(hot->file.empty() ? hot->function : place(hot->file, hot->line));
    r.action.append(" (").append(common::format_percent(hot->share)).append(" of ").append(op->name).append("'s CPU samples).");
  }
  for (Bottleneck& b : findings.bottlenecks) {
    const OperationStats* op = s.find(b.operation);
    if (!op) continue;
    if (const auto hot = hottest_code(s, op->id)) b.reason.append("; ").append(hot->text());
  }
}

}  // namespace codeprof::analysis
