#pragma once
// simdjson's error codes in words for the people reading codeprof's messages: what is wrong with
// the JSON ("a string that is never closed"), never the library's advice to its own programmers
// (padded strings, get_bool(), reporting a bug in simdjson).
#include <simdjson.h>

#include <string>

namespace codeprof::io::trace {

// Completes "expected valid JSON: ..." (found what).
std::string json_error_text(simdjson::error_code error);

}  // namespace codeprof::io::trace
