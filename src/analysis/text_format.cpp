#include "analysis/text_format.hpp"

namespace codeprof::analysis {

std::string render(std::string_view text, const std::map<std::string, std::string>& values) {
  std::string out;
  out.reserve(text.size() + 64);
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t open = text.find('{', i);
    if (open == std::string_view::npos) break;
    const std::size_t close = text.find('}', open + 1);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i));
    const std::string name(text.substr(open + 1, close - open - 1));
    const auto it = values.find(name);
    out += it != values.end() ? it->second : "{" + name + "}";
    i = close + 1;
  }
  out.append(text.substr(i));
  return out;
}

}  // namespace codeprof::analysis
