#pragma once
// A message kept on one line, whatever bytes it quotes: the CLI's errors, the report and trace
// readers' messages.
#include <string>
#include <string_view>

namespace codeprof::common {

// `text` with control bytes (newlines, tabs, escape sequences a terminal would act on) written as
// \n, \r, \t or \xNN.
std::string one_line(std::string_view text);

}  // namespace codeprof::common
