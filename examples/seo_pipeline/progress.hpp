#pragma once
// A progress bar on the terminal (stderr). On a terminal it redraws one line at most ten times a
// second; when stderr is a file or pipe it prints only the final line of each phase.
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace seo {

class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out = stderr, bool enabled = true);

  void start(std::string label, std::size_t total);
  // `detail` is shown after the counts, e.g. "loss 0.0213".
  void update(std::size_t done, std::string_view detail = {});
  // Ends the phase with one permanent line.
  void finish(std::string_view summary);
  // Prints a message on its own line without breaking the bar.
  void message(std::string_view text);

 private:
  void draw(std::size_t done, std::string_view detail);

  std::FILE* out_;
  bool enabled_;
  bool tty_;
  std::string label_;
  std::size_t total_ = 0;
  std::size_t last_done_ = 0;
  std::string last_detail_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace seo
