#include "progress.hpp"

#include <algorithm>
#include <unistd.h>

namespace seo {

ProgressBar::ProgressBar(std::FILE* out, bool enabled)
    : out_(out), enabled_(enabled), tty_(enabled && ::isatty(::fileno(out)) == 1) {}

void ProgressBar::start(std::string label, std::size_t total) {
  label_ = std::move(label);
  total_ = total;
  last_done_ = 0;
  last_detail_.clear();
  drawn_ = false;
  started_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressBar::update(std::size_t done, std::string_view detail) {
  last_done_ = done;
  last_detail_.assign(detail);
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(done, detail);
}

void ProgressBar::draw(std::size_t done, std::string_view detail) {
  constexpr int kWidth = 30;
  const double fraction = total_ ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total_)) : 1.0;
  const int filled = static_cast<int>(fraction * kWidth);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(out_, "\r\033[K%-14s [%s] %zu/%zu %6.1f it/s %.*s", label_.c_str(), bar.c_str(), done, total_, rate,
               static_cast<int>(detail.size()), detail.data());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::finish(std::string_view summary) {
  if (!enabled_) return;
  if (tty_) {
    draw(last_done_, last_detail_);
    std::fputc('\n', out_);
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::fprintf(out_, "%-14s done in %.2f s: %.*s\n", label_.c_str(), elapsed, static_cast<int>(summary.size()),
               summary.data());
  std::fflush(out_);
  drawn_ = false;
}

void ProgressBar::message(std::string_view text) {
  if (!enabled_) return;
  if (tty_ && drawn_) std::fputs("\r\033[K", out_);
  std::fprintf(out_, "%.*s\n", static_cast<int>(text.size()), text.data());
  if (tty_ && drawn_) draw(last_done_, last_detail_);
  std::fflush(out_);
}

}  // namespace seo
