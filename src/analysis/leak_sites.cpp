#include "analysis/leak_sites.hpp"

#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

// "history.cpp:42 in keep_history()", "keep_history()" without a file.
std::string site_text(const AllocSite& a) {
  if (a.file.empty()) return a.function;
  const auto slash = a.file.rfind('/');
  std::string t = slash == std::string::npos ? a.file : a.file.substr(slash + 1);
  if (a.line) t.append(1, ':').append(std::to_string(a.line));
  return t.append(" in ").append(a.function);
}

}  // namespace

void cite_leak_sites(const Snapshot& s, Findings& findings) {
  for (Recommendation& r : findings.recommendations) {
    if (r.id != "memory-leak-suspected") continue;
    const OperationStats* op = nullptr;
    for (const Evidence& e : r.evidence)
      if (!e.operation.empty() && (op = s.find(e.operation))) break;
    if (!op || op->live_at_end.empty())  // the RSS grows, no operation named: the largest live holder
      for (const OperationStats& o : s.operations)
        if (!o.live_at_end.empty() && (!op || op->live_at_end.empty() || o.live_sampled_bytes > op->live_sampled_bytes)) op = &o;
    if (!op || op->live_at_end.empty()) continue;
    const AllocSite& top = op->live_at_end.front();
    r.evidence.push_back({"live_at_end_bytes", static_cast<double>(top.bytes), EvidenceUnit::Bytes, op->name, {}});
    r.evidence.push_back({"live_at_end_share", top.share, EvidenceUnit::Ratio, op->name, {}});
    const std::string where = site_text(top);
    if (!r.evidence_text.empty()) r.evidence_text.append("; ");
    r.evidence_text.append(op->name).append(": ").append(common::format_bytes(static_cast<double>(top.bytes)));
    r.evidence_text.append(" sampled live at ").append(where);
    r.action.append(" Start with ").append(where).append(", where ").append(common::format_percent(top.share));
    r.action.append(" of what ").append(op->name).append(" still holds was allocated (allocation samples).");
  }
}

}  // namespace codeprof::analysis
