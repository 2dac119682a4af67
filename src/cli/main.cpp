// codeprof: analyse codeprof reports and PyTorch/Chrome traces, compare runs, serve the dashboard.
// Exit codes: 0 success, 1 `diff` found a regression beyond --max-regression, 2 any error (one
// line on stderr that names the file or option and what was wrong).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "codeprof/version.hpp"
#include "common/one_line.hpp"

namespace {

// "10%" and "10" both mean ten percent.
std::string strip_percent(std::string s) {
  if (!s.empty() && s.back() == '%') s.pop_back();
  return s;
}

// A bound as people write it: 0.1, 3600, 1000.
std::string bound(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A finite number from `least` to `most` (infinity: no upper bound). CLI11's Range and
// NonNegativeNumber let "nan" and "inf" through (every comparison with NaN is false, and a NaN
// limit would turn a gate off) and name their bounds as "0.000000 to 1797693...(309
// digits).000000" when they refuse.
CLI::Validator number_in(double least, double most = std::numeric_limits<double>::infinity()) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v))
          return "expected a finite number, got '" + text + "'";
        if (v < least || v > most)
          return std::isfinite(most) ? "expected a number from " + bound(least) + " to " + bound(most) + ", got '" + text + "'"
                                     : "expected a number >= " + bound(least) + ", got '" + text + "'";
        return {};
      },
      "NUMBER");
}

// A TCP port (CLI11 would only say "Could not convert" for 99999).
const CLI::Validator kPort(
    [](std::string& text) -> std::string {
      const bool digits = !text.empty() && text.size() <= 5 && text.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoul(text) > 65535) return "expected a port number from 0 to 65535, got '" + text + "'";
      return {};
    },
    "PORT");

// A count of list entries: a whole number from `least` up (CLI11's PositiveNumber accepts 2.5 and
// names a range up to 1.8e308 when it refuses).
CLI::Validator whole_number_from(unsigned long least) {
  return CLI::Validator(
      [least](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 9 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || std::stoul(text) < least)
          return "expected a whole number from " + std::to_string(least) + " to 999999999, got '" + text + "'";
        return {};
      },
      "COUNT");
}

// One of a few words (CLI11's IsMember says "xml not in {text,json,html}").
CLI::Validator one_of(std::vector<std::string> words) {
  std::string expected, shown;  // "text, json or html"; "text|json|html" in --help
  for (std::size_t i = 0; i < words.size(); ++i) {
    expected += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
    shown += (i == 0 ? "" : "|") + words[i];
  }
  return CLI::Validator(
      [words, expected](std::string& text) -> std::string {
        if (std::find(words.begin(), words.end(), text) != words.end()) return {};
        return "expected " + expected + ", got '" + text + "'";
      },
      shown);
}

// One line whatever the message holds (file names and values from files may carry newlines or
// terminal escape sequences).
// "--ranks a,b" or "--ranks @file" (one URL a line; blank lines and # comments skipped).
std::vector<std::string> split_ranks(const std::string& text) {
  std::vector<std::string> out;
  if (!text.empty() && text.front() == '@') {
    out.push_back(text);  // read by run_serve_ranks, which reports a missing file in its own words
    return out;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "codeprof: %s\n", codeprof::common::one_line(message).c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace codeprof::cli;
  CLI::App app{"codeprof: find the bottlenecks of ML and data pipelines in codeprof reports and PyTorch "
               "profiler (Kineto) or Chrome traces."};
  app.set_version_flag("--version", std::string("codeprof ") + codeprof::kVersion);
  app.require_subcommand(1);
  app.footer("Exit codes: 0 success, 1 diff found a regression beyond --max-regression, 2 error.");

  AnalyzeOptions analyze;
  CLI::App* analyze_cmd = app.add_subcommand(
      "analyze", "Analyse one or more reports or traces: top operations, bottlenecks, classification, "
                 "recommendations; several ranks of one job get a per-rank table and straggler detection.");
  analyze_cmd->add_option("FILE", analyze.files, "codeprof JSON reports or Chrome/Kineto traces (.json, .json.gz)")
      ->required();
  analyze_cmd->add_option("--format", analyze.format, "text (default), json (a codeprof report) or html")
      ->check(one_of({"text", "json", "html"}));
  analyze_cmd->add_option("-o,--output", analyze.output, "write to this file instead of stdout");
  analyze_cmd->add_option("--config", analyze.config_path, "TOML file with thresholds (docs/CONFIG.md)");
  analyze_cmd->add_option("--top", analyze.top, "operations, bottlenecks and recommendations to list (default 10)")
      ->check(whole_number_from(1));
  analyze_cmd
      ->add_option("--straggler-threshold", analyze.straggler_threshold_pct,
                   "percent by which a rank must differ from the others to be a straggler (default 10)")
      ->transform(strip_percent)
      ->check(number_in(0.0, 1000.0));

  DiffOptionsCli diff;
  double max_regression = 0.0;
  CLI::App* diff_cmd = app.add_subcommand(
      "diff", "Compare two runs operation by operation; with --max-regression, exit 1 when an operation got slower "
              "by more than that.");
  diff_cmd->add_option("BASE", diff.base, "the baseline report or trace")->required();
  diff_cmd->add_option("NEW", diff.next, "the report or trace to compare with it")->required();
  CLI::Option* max_regression_opt =
      diff_cmd->add_option("--max-regression", max_regression, "largest allowed slowdown in percent, e.g. 10")
          ->transform(strip_percent)
          ->check(number_in(0.0));
  diff_cmd->add_option("--metric", diff.metric, "what must not regress: mean (default), p95 or total")
      ->check(one_of({"mean", "p95", "total"}));
  diff_cmd->add_option("--min-duration", diff.min_duration_s,
                       "seconds: operations faster than this in both runs never count as regressed (default 0)")
      ->check(number_in(0.0));
  diff_cmd->add_option("--top", diff.top,
                       "text: operations in both runs to list, largest change first (default 20, 0 = all; "
                       "regressed ones are always listed)")
      ->check(whole_number_from(0));
  diff_cmd->add_option("--format", diff.format, "text (default) or json")->check(one_of({"text", "json"}));
  diff_cmd->add_option("-o,--output", diff.output, "write to this file instead of stdout");

  ServeOptions serve;
  std::string serve_ranks;
  double poll_interval_s = 2.0;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "Serve the dashboard over a saved report or trace (read-only), or with --ranks the live dashboards of a "
               "job's ranks as one job view.");
  serve_cmd->add_option("FILE", serve.file, "a codeprof report or a trace");
  CLI::Option* ranks_opt = serve_cmd->add_option(
      "--ranks", serve_ranks,
      "the ranks' dashboard URLs, comma-separated (with ?token=T for a rank that needs one), or @FILE with one per line");
  serve_cmd->add_option("--host", serve.host, "address to listen on (default 127.0.0.1; others need --token)");
  serve_cmd->add_option("--port", serve.port, "port (default 8765; 0 picks a free one)")->check(kPort);
  serve_cmd->add_option("--token", serve.token, "require this token on every request");
  serve_cmd->add_option("--config", serve.config_path, "TOML file with thresholds (docs/CONFIG.md)");
  serve_cmd->add_option("--poll-interval", poll_interval_s, "--ranks: seconds between polls of the ranks (default 2)")
      ->check(number_in(0.1, 3600.0));

  MergeOptions merge;
  CLI::App* merge_cmd = app.add_subcommand(
      "merge", "Merge the reports or traces of a job's ranks into one timeline (one process per rank, clocks aligned on "
               "each rank's start time) for Perfetto or chrome://tracing.");
  merge_cmd->add_option("FILE", merge.files, "codeprof reports or Chrome/Kineto traces, one per rank")->required();
  merge_cmd->add_option("-o,--output", merge.output, "the merged trace: .json (Chrome trace) or .pftrace (Perfetto)")
      ->required();
  merge_cmd->add_option("--format", merge.format, "chrome or perfetto (default: from the output's extension)")
      ->check(one_of({"chrome", "perfetto"}));
  merge_cmd->add_option("--config", merge.config_path, "TOML file with thresholds (docs/CONFIG.md)");
  merge_cmd
      ->add_option("--straggler-threshold", merge.straggler_threshold_pct,
                   "percent by which a rank must differ from the others to be named a straggler (default 10)")
      ->transform(strip_percent)
      ->check(number_in(0.0, 1000.0));
  merge_cmd->add_option("--max-events", merge.max_events, "raw events kept per trace file (default 2000000)")
      ->check(whole_number_from(1));

  // CLI11 would only say that a subcommand is required; name the word it did not know.
  const auto known = app.get_subcommands([&](CLI::App* sub) { return argc > 1 && sub->check_name(argv[1]); });
  if (argc > 1 && argv[1][0] != '-' && known.empty())
    return fail(std::string("unknown command '") + argv[1] + "': expected analyze, diff, merge or serve (see codeprof --help)");
  if (argc > 1 && argv[1][0] == '-') {
    const std::string first = argv[1];
    if (first != "-h" && first != "--help" && first != "--version")
      return fail("expected a command (analyze, diff, merge or serve) before any option, got '" + first + "' (see codeprof --help)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    // CLI11: "The following argument was not expected: --frobnicate".
    const std::string what = e.what();
    const auto colon = what.find(": ");
    const std::string command = known.empty() ? "codeprof" : "codeprof " + known.front()->get_name();
    const bool several = what.find("arguments were") != std::string::npos;
    // CLI11 lists the arguments last first: put them back in the order they were given.
    std::string listed;
    for (std::size_t at = colon == std::string::npos ? 0 : colon + 2; at < what.size();) {
      const auto space = std::min(what.find(' ', at), what.size());
      listed = what.substr(at, space - at) + (listed.empty() ? "" : " " + listed);
      at = space + 1;
    }
    return fail(std::string(several ? "unknown options or extra arguments '" : "unknown option or extra argument '") + listed +
                "' (see " + command + " --help for what it takes)");
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see codeprof --help)");
  }

  try {
    if (analyze_cmd->parsed()) return run_analyze(analyze);
    if (diff_cmd->parsed()) {
      if (max_regression_opt->count()) diff.max_regression_pct = max_regression;
      return run_diff(diff);
    }
    if (merge_cmd->parsed()) return run_merge(merge);
    if (ranks_opt->count()) {
      if (!serve.file.empty()) return fail("serve: give either FILE or --ranks, not both (see codeprof serve --help)");
      ServeRanksOptions job;
      job.ranks = split_ranks(serve_ranks);
      job.host = serve.host;
      job.port = serve.port;
      job.token = serve.token;
      job.config_path = serve.config_path;
      job.poll_interval_s = poll_interval_s;
      return run_serve_ranks(job);
    }
    if (serve.file.empty()) return fail("serve: give a report or trace FILE, or --ranks URL[,URL...] (see codeprof serve --help)");
    return run_serve(serve);
  } catch (const std::bad_alloc&) {
    return fail("out of memory");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
