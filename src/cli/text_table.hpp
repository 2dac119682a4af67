#pragma once
// A plain-text table with aligned columns, for the CLI's summaries:
//   TextTable t({{"Operation", Align::Left}, {"Calls", Align::Right}});
//   t.add({"load_batch", "300"});
//   out += t.render("  ");
#include <string>
#include <vector>

namespace codeprof::cli {

enum class Align { Left, Right };

struct Column {
  std::string title;
  Align align = Align::Left;
};

class TextTable {
 public:
  explicit TextTable(std::vector<Column> columns);
  // A row with as many cells as columns (missing cells are empty, extra ones dropped); cells
  // pass through printable().
  void add(std::vector<std::string> cells);
  bool empty() const noexcept { return rows_.empty(); }
  // Every line starts with `indent`; columns are two spaces apart; trailing spaces are trimmed.
  std::string render(const std::string& indent = "") const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Display width of UTF-8 text (code points; good enough for names and units).
std::size_t display_width(const std::string& s);
// Control characters shown as escapes ("\n") or '?', so that one cell stays on one line.
std::string printable(const std::string& s);
// At most `width` code points: longer text ends in "...".
std::string truncate(const std::string& s, std::size_t width);

}  // namespace codeprof::cli
