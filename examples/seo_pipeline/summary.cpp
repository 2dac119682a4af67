#include "summary.hpp"

#include <algorithm>

namespace seo {
namespace {

std::string seconds(double s) {
  char buf[32];
  if (s >= 1.0) {
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  } else if (s >= 1e-3) {
    std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  }
  return buf;
}

}  // namespace

void print_findings(std::FILE* out, const codeprof::Findings& f, SummaryLimits limits) {
  std::fprintf(out, "\n== Top bottlenecks\n");
  if (f.bottlenecks.empty()) std::fprintf(out, "  (none)\n");
  const std::size_t nb = std::min(limits.bottlenecks, f.bottlenecks.size());
  for (std::size_t i = 0; i < nb; ++i) {
    const auto& b = f.bottlenecks[i];
    std::fprintf(out, "  %zu. %-28s %-15s %-6s mean %-10s p95 %-10s calls %-8llu share %5.1f%%\n     %s\n", i + 1,
                 b.operation.c_str(), std::string(to_string(b.type)).c_str(), std::string(to_string(b.optimization_priority)).c_str(), seconds(b.avg_duration).c_str(),
                 seconds(b.p95_duration).c_str(), static_cast<unsigned long long>(b.calls), 100.0 * b.share_of_wall,
                 b.reason.c_str());
  }

  // One format: the parts of the classification, each with its numbers (the one-line summary in
  // the reports says the same).
  const auto& c = f.classification;
  std::fprintf(out, "\n== Classification\n");
  if (c.input.level == codeprof::InputBound::Unknown)
    std::fprintf(out, "  input pipeline: unknown (no steps found)\n");
  else
    std::fprintf(out, "  input pipeline: %s input-bound (%.1f%% of %llu steps' time in data loading + preprocessing)\n",
                 std::string(to_string(c.input.level)).c_str(), 100.0 * c.input.input_share, static_cast<unsigned long long>(c.input.steps));
  if (c.gpu.available) {
    std::fprintf(out, "  gpu: idle %.1f%%, mean utilisation %.1f%%\n", 100.0 * c.gpu.idle_share, c.gpu.mean_utilization);
  } else {
    std::fprintf(out, "  gpu: no GPU data (CPU run)\n");
  }
  if (c.cpu.mean_efficiency >= 0)
    std::fprintf(out, "  cpu: mean efficiency %.0f%%%s\n", 100.0 * c.cpu.mean_efficiency,
                 c.cpu.contention_suspected ? ", contention suspected" : "");

  if (!f.trends.empty()) {
    std::fprintf(out, "\n== Trends\n");
    for (const auto& t : f.trends) std::fprintf(out, "  [%s] %s\n", std::string(to_string(t.kind)).c_str(), t.description.c_str());
  }
  if (!f.inconclusive.empty()) {
    std::fprintf(out, "\n== Not concluded\n");
    for (const auto& i : f.inconclusive)
      std::fprintf(out, "  %s: needs %s; had %s\n", i.check.c_str(), i.needs.c_str(), i.had.c_str());
  }

  std::fprintf(out, "\n== Recommendations\n");
  if (f.recommendations.empty()) std::fprintf(out, "  (none)\n");
  const std::size_t nr = std::min(limits.recommendations, f.recommendations.size());
  for (std::size_t i = 0; i < nr; ++i) {
    const auto& r = f.recommendations[i];
    std::fprintf(out, "  %zu. [%s] %s (%s)\n     evidence: %s\n     action:   %s\n", i + 1, std::string(to_string(r.priority)).c_str(),
                 r.title.c_str(), r.id.c_str(), r.evidence_text.c_str(), r.action.c_str());
  }
  if (f.recommendations.size() > nr)
    std::fprintf(out, "  ... and %zu more in the reports\n", f.recommendations.size() - nr);
}

void print_paths(std::FILE* out, const std::vector<std::string>& paths) {
  std::fprintf(out, "\n== Reports\n");
  for (const auto& p : paths) std::fprintf(out, "  %s\n", p.c_str());
}

}  // namespace seo
