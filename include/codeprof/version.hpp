#pragma once
#define CODEPROF_VERSION_STRING "0.1.0"
namespace codeprof {
inline constexpr const char* kVersion = CODEPROF_VERSION_STRING;
}
