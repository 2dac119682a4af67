#pragma once
// The "{name}" template filling of the rule catalogue's titles and actions. Numbers in findings'
// texts are formatted by common/number_format.hpp.
#include <map>
#include <string>
#include <string_view>

namespace codeprof::analysis {

// Replaces every {name} in `text` with values.at(name). A name without a value is kept as
// "{name}", so a missing value shows in the text instead of silently vanishing.
std::string render(std::string_view text, const std::map<std::string, std::string>& values);

}  // namespace codeprof::analysis
