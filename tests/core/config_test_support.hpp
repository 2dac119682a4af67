#pragma once
// What the configuration tests share: a TOML file on disk and the message a ConfigError carries.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "codeprof/config.hpp"

namespace codeprof::test {

// Writes `text` to a file in the temp directory named by `prefix`, this process and `name`.
inline std::string write_temp_config(const std::string& prefix, const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path.string();
}

// The ConfigError's message when `fn` throws one, else "".
inline std::string config_error_of(auto&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace codeprof::test
