#pragma once
// The end-of-run text: top bottlenecks, the pipeline classification, trends and recommendations.
#include <cstdio>
#include <string>
#include <vector>

#include <codeprof/findings.hpp>

namespace seo {

struct SummaryLimits {
  std::size_t bottlenecks = 5;
  std::size_t recommendations = 6;
};

void print_findings(std::FILE* out, const codeprof::Findings& findings, SummaryLimits limits = {});
void print_paths(std::FILE* out, const std::vector<std::string>& paths);

}  // namespace seo
