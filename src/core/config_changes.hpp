#pragma once
// When a configuration key may change while a Profiler runs. The key table (config.cpp) says it
// once for every key; Profiler::update_config and the dashboard's PATCH /api/config both read it.
#include <string_view>

#include "codeprof/config.hpp"

namespace codeprof::core {

enum class KeyChange {
  AtStart,    // fixed when the Profiler is constructed: buffers, threads, probes, the dashboard's address
  ByProgram,  // Profiler::update_config may change it, the dashboard may not (output paths, ranks)
  Live,       // the dashboard may change it too: switches, thresholds, trace recording, analysis, alert rules
};

// A key's entry; AtStart for a name that is not a key.
KeyChange key_change(std::string_view key);

// Copies the value of every AtStart key from `from` into `to`: what update_config keeps.
void keep_start_only_keys(Config& to, const Config& from);

}  // namespace codeprof::core
