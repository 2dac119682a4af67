// The HTML report is one self-contained page: no URL to fetch, names escaped, and in headless
// Chromium its script renders every chart without an error and without loading any resource.
#include <gtest/gtest.h>

#include <filesystem>

#include "codeprof/exporters.hpp"
#include "io/flame_graph_assets.hpp"
#include "io/run_command.hpp"
#include "io/sample_snapshot.hpp"

namespace codeprof {
namespace {

constexpr const char* kChromium = "/usr/bin/chromium";

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// The DOM after the page's scripts ran, from headless Chromium with a fresh profile and the
// browser's own background traffic switched off.
std::string rendered_dom(const std::string& html_path, const test::TempDir& dir) {
  const std::string profile = dir.file("chromium-profile-" + std::filesystem::path(html_path).stem().string());
  const auto r = test::run_command(std::string("timeout 120 ") + kChromium +
                                   " --headless --no-sandbox --disable-gpu --disable-background-networking"
                                   " --disable-component-update --disable-sync --no-first-run --disable-quic"
                                   " --user-data-dir=" + test::shell_quote(profile) +
                                   " --dump-dom " + test::shell_quote("file://" + html_path) + " 2>/dev/null",
                                   /*merge_stderr=*/false);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

TEST(HtmlReport, SelfContainedAndEscaped) {
  const std::string html = io::to_html_report(test::sample_snapshot(), test::sample_findings());
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  // No attribute that could load anything, and no URL but the SVG namespace name.
  for (const char* attribute : {" src=", " href=", " src =", " href =", "\nsrc=", "\nhref="})
    EXPECT_EQ(html.find(attribute), std::string::npos) << "external resource reference: " << attribute;
  std::string without_svg_ns = html;
  for (auto pos = without_svg_ns.find("http://www.w3.org/2000/svg"); pos != std::string::npos;
       pos = without_svg_ns.find("http://www.w3.org/2000/svg"))
    without_svg_ns.erase(pos, 26);
  EXPECT_EQ(without_svg_ns.find("http://"), std::string::npos);
  EXPECT_EQ(without_svg_ns.find("https://"), std::string::npos);
  EXPECT_EQ(without_svg_ns.find("//cdn"), std::string::npos);
  // The hostile operation name is text, never markup: escaped in tables, \u003c in the JSON block.
  EXPECT_EQ(html.find("<script>alert(1)"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"), std::string::npos);
  EXPECT_NE(html.find("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e \\u0026 co"), std::string::npos);
  // What the page must show: classification, bottlenecks, recommendations with evidence and action.
  for (const char* text : {"Highly input-bound: 62.5% of step time", "load_batch takes 45.6% of wall time",
                           "Load data in parallel", "input is 62.5% of step time; load_batch averages 25.0 ms",
                           "Raise DataLoader num_workers to 8 and enable pin_memory.", "input_share = 62.5 %", "mean_duration_s = 25.0 ms (load_batch)",
                           "no NVIDIA driver: libnvidia-ml.so.1 not found", "load_batch got 1.8x slower"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  EXPECT_EQ(count_of(html, "<tr>"), 2u + 1 + 6 + 1 + 2 + 1 + 1 + 2 + 1 + 2 + 2 + 2)
      << "bottleneck, operation, trend, custom metric, allocation site and live-at-end rows with headers";
}

TEST(HtmlReport, ListsAllocationSitesAndLeakSuspects) {
  const std::string html = io::to_html_report(test::sample_snapshot(), test::sample_findings());
  const auto section = html.find("<section id=\"allocations\">");
  ASSERT_NE(section, std::string::npos);
  const std::string allocations = html.substr(section, html.find("</section>", section) - section);
  EXPECT_NE(allocations.find("17 sampled allocations, one per 512.0 KiB allocated on average"), std::string::npos) << allocations;
  // The planted site of tokenize: function, file:line, estimated bytes, share; then the bytes it still held.
  const std::string site = "<td>tokenize(std::vector&lt;std::string&gt; const&amp;)</td><td>/src/tok.cpp:120</td>";
  const auto hot = allocations.find("<table class=\"alloc-sites\">");
  const auto live = allocations.find("<table class=\"live-at-end\">");
  ASSERT_NE(hot, std::string::npos);
  ASSERT_NE(live, std::string::npos);
  EXPECT_NE(allocations.find(site + "<td class=\"num\">6.0 MiB</td><td class=\"num\">100.0 %</td>", hot), std::string::npos) << allocations;
  EXPECT_NE(allocations.find(site + "<td class=\"num\">2.0 MiB</td><td class=\"num\">100.0 %</td>", live), std::string::npos) << allocations;
  // The operation's name is escaped like everywhere else.
  EXPECT_NE(allocations.find("<td>tokenize, &quot;fast&quot;\nv2</td>"), std::string::npos) << allocations;

  // Without allocation samples the section is left out.
  Snapshot none = test::sample_snapshot();
  for (auto& op : none.operations) op.alloc_samples = 0;
  EXPECT_EQ(io::to_html_report(none, test::sample_findings()).find("id=\"allocations\""), std::string::npos);
}

TEST(HtmlReport, RendersInHeadlessChromiumWithoutErrorsOrNetwork) {
  if (!std::filesystem::exists(kChromium)) GTEST_SKIP() << "chromium is not installed";
  test::TempDir dir("html");
  const std::string full = dir.file("full.html");
  io::write_file_atomic(full, io::to_html_report(test::sample_snapshot(), test::sample_findings()));
  const std::string empty = dir.file("empty.html");
  io::write_file_atomic(empty, io::to_html_report(Snapshot{}, Findings{}));

  const std::string dom = rendered_dom(full, dir);
  EXPECT_NE(dom.find("data-codeprof-rendered=\"yes\""), std::string::npos) << dom.substr(0, 400);
  EXPECT_NE(dom.find("data-codeprof-resources=\"0\""), std::string::npos) << "the page fetched something";
  EXPECT_EQ(dom.find("data-codeprof-error=\""), std::string::npos) << dom.substr(0, 400);
  // Charts drawn by the script: one bar per operation, one line per sampler series plus one per
  // operation with per-window durations (five at most), one per custom metric with two windows or more.
  EXPECT_EQ(count_of(dom, "class=\"bar\""), 6u);
  EXPECT_EQ(count_of(dom, "class=\"series\""), 2u + 5u + 1u);
  EXPECT_NE(dom.find("aria-label=\"rss_bytes (bytes)\""), std::string::npos);

  const std::string empty_dom = rendered_dom(empty, dir);
  EXPECT_NE(empty_dom.find("data-codeprof-rendered=\"yes\""), std::string::npos) << empty_dom.substr(0, 400);
  EXPECT_EQ(empty_dom.find("data-codeprof-error=\""), std::string::npos);
  EXPECT_NE(empty_dom.find("No sampler series in this run"), std::string::npos);
  EXPECT_NE(empty_dom.find("No operations were recorded."), std::string::npos);
}

// The flame graph's place in the page, with a mount that only reads the embedded profile back: it
// marks the root when the hostile names arrive intact. The provider registered before (the
// dashboard library's, when linked) comes back at the end of the test.
const io::FlameGraphAssets& profile_reading_assets() {
  static const io::FlameGraphAssets assets{
      "window.codeprofFlameGraph = {mount: function (root, profile) {\n"
      "  var frame = profile.frames.indexOf('main\\u003c!--\\u003cscript>x') >= 0;\n"
      "  var op = profile.operations.some(function (o) { return o.name === 'parse \\u003c!--\\u003cscript> tags'; });\n"
      "  root.setAttribute('data-profile-read', frame && op ? 'intact' : 'altered');\n"
      "}};\n",
      ""};
  return assets;
}

class ProfileReadingAssets {
 public:
  ProfileReadingAssets() : before_(io::register_flame_graph_assets(&profile_reading_assets)) {}
  ~ProfileReadingAssets() { io::register_flame_graph_assets(before_); }
  ProfileReadingAssets(const ProfileReadingAssets&) = delete;
  ProfileReadingAssets& operator=(const ProfileReadingAssets&) = delete;

 private:
  io::FlameGraphAssetsProvider before_;
};

// The text of <script ... id="`id`">, or "" when the page has none.
std::string script_block(const std::string& html, const std::string& id) {
  const std::string open = "id=\"" + id + "\">";
  const auto start = html.find(open);
  if (start == std::string::npos) return "";
  const auto from = start + open.size();
  return html.substr(from, html.find("</script>", from) - from);
}

// "<!--" then "<script" inside a script element moves the HTML parser into its double-escaped
// state, where the element's own "</script>" no longer ends it: the page's scripts after it would
// be swallowed. Every embedded JSON block therefore holds no '<', '>' or '&' at all.
TEST(HtmlReport, NamesThatOpenAScriptCommentKeepThePageRendering) {
  Snapshot s = test::sample_snapshot();
  s.operations[2].name = "parse <!--<script> tags";
  s.custom_metrics[0].unit = "pages\xE2\x80\xA8per\xE2\x80\xA9<b>";  // line and paragraph separators
  for (auto& op : s.profile.operations)
    if (op.id == 2) op.name = s.operations[2].name;
  s.profile.frames[2].function = "main<!--<script>x";
  const ProfileReadingAssets assets;
  const std::string html = io::to_html_report(s, test::sample_findings());

  for (const char* id : {"codeprof-data", "codeprof-profile"}) {
    const std::string json = script_block(html, id);
    ASSERT_FALSE(json.empty()) << id;
    EXPECT_EQ(json.find_first_of("<>&"), std::string::npos) << id << ": " << json.substr(0, 400);
    EXPECT_EQ(json.find("\xE2\x80\xA8"), std::string::npos) << id;
    EXPECT_EQ(json.find("\xE2\x80\xA9"), std::string::npos) << id;
  }
  EXPECT_NE(script_block(html, "codeprof-profile").find("main\\u003c!--\\u003cscript\\u003ex"), std::string::npos);

  if (!std::filesystem::exists(kChromium)) GTEST_SKIP() << "chromium is not installed";
  test::TempDir dir("html_script_comment");
  const std::string page = dir.file("hostile.html");
  io::write_file_atomic(page, html);
  const std::string dom = rendered_dom(page, dir);
  EXPECT_NE(dom.find("data-codeprof-rendered=\"yes\""), std::string::npos) << dom.substr(0, 400);
  EXPECT_EQ(dom.find("data-codeprof-error=\""), std::string::npos) << dom.substr(0, 400);
  EXPECT_NE(dom.find("data-profile-read=\"intact\""), std::string::npos) << "the embedded profile did not parse back";
  EXPECT_EQ(count_of(dom, "class=\"bar\""), 6u) << "the charts were drawn";
}

}  // namespace
}  // namespace codeprof
