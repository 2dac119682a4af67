#pragma once
// Findings as text (every field), to compare two analyses and to check that numbers are finite.
#include <cmath>
#include <sstream>
#include <string>

#include "codeprof/findings.hpp"

namespace codeprof::testing {

inline std::string findings_text(const Findings& f) {
  std::ostringstream o;
  o.precision(17);
  for (const auto& b : f.bottlenecks)
    o << "B|" << b.operation << '|' << to_string(b.type) << '|' << b.avg_duration << '|' << b.p95_duration << '|' << b.calls << '|'
      << b.total_time << '|' << b.self_time << '|' << b.share_of_wall << '|' << to_string(b.severity) << '|'
      << to_string(b.optimization_priority) << '|' << b.reason << '\n';
  const auto& c = f.classification;
  o << "C|" << to_string(c.input.level) << '|' << c.input.input_share << '|' << c.input.steps << '|' << c.input.step_time << '|'
    << c.input.step_source << '|' << c.gpu.available << '|' << c.gpu.idle_share << '|' << c.gpu.mean_utilization << '|'
    << c.gpu.peak_memory_fraction << '|' << to_string(c.gpu.source) << '|' << c.cpu.mean_efficiency << '|'
    << c.cpu.involuntary_switches_per_s << '|' << c.cpu.contention_suspected << '|' << c.summary << '\n';
  for (const auto& w : c.cpu.waiting_operations) o << "W|" << w << '\n';
  for (const auto& t : f.trends)
    o << "T|" << to_string(t.kind) << '|' << t.operation << '|' << t.description << '|' << t.magnitude << '|' << t.at_s << '|'
      << t.method << '\n';
  for (const auto& r : f.recommendations) {
    o << "R|" << r.id << '|' << to_string(r.type) << '|' << to_string(r.priority) << '|' << r.title << '|' << r.evidence_text << '|' << r.action
      << '\n';
    for (const auto& e : r.evidence) o << "E|" << e.metric << '|' << e.value << '|' << unit_spelling(e) << '|' << e.operation << '\n';
  }
  return o.str();
}

// Every number in the findings is finite (no NaN or infinity from a division by zero).
inline bool all_finite(const Findings& f) {
  auto ok = [](double v) { return std::isfinite(v); };
  for (const auto& b : f.bottlenecks)
    if (!ok(b.avg_duration) || !ok(b.p95_duration) || !ok(b.total_time) || !ok(b.self_time) || !ok(b.share_of_wall))
      return false;
  const auto& c = f.classification;
  if (!ok(c.input.input_share) || !ok(c.input.step_time) || !ok(c.gpu.idle_share) || !ok(c.gpu.mean_utilization) ||
      !ok(c.gpu.peak_memory_fraction) || !ok(c.cpu.mean_efficiency) || !ok(c.cpu.involuntary_switches_per_s))
    return false;
  for (const auto& t : f.trends)
    if (!ok(t.magnitude) || !ok(t.at_s)) return false;
  for (const auto& r : f.recommendations)
    for (const auto& e : r.evidence)
      if (!ok(e.value)) return false;
  // Text never shows a non-number either.
  const std::string text = findings_text(f);
  return text.find("nan") == std::string::npos && text.find("inf ") == std::string::npos;
}

}  // namespace codeprof::testing
