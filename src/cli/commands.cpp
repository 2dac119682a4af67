#include "cli/commands.hpp"

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <system_error>

#include "analysis/analyze.hpp"
#include "cli/input_files.hpp"
#include "cli/job_view.hpp"
#include "cli/rank_comparison.hpp"
#include "cli/report_diff.hpp"
#include "cli/summary_text.hpp"
#include "codeprof/config.hpp"
#include "codeprof/dashboard.hpp"
#include "codeprof/exporters.hpp"
#include "common/number_format.hpp"
#include "io/timeline_model.hpp"
#include "server/request_guard.hpp"

namespace codeprof::cli {
namespace {

Config load_config(const std::string& path) {
  if (path.empty()) return Config::from_env();
  if (!std::filesystem::exists(path)) throw UsageError(path + ": no such configuration file");
  return Config::load(path);
}

// stdout, or the file (written atomically) with a note on stderr. A write to stdout that fails
// (a full disk, /dev/full, a closed pipe) is an error: the output is incomplete.
void emit(const std::string& content, const std::string& output) {
  if (output.empty()) {
    errno = 0;
    const std::size_t written = std::fwrite(content.data(), 1, content.size(), stdout);
    if (written != content.size() || std::fflush(stdout) != 0)
      throw std::runtime_error(std::string("cannot write the output to standard output: ") +
                               (errno ? std::strerror(errno) : "write error") + " (the output is incomplete)");
    return;
  }
  io::write_file_atomic(output, content);
  std::fprintf(stderr, "codeprof: wrote %s\n", output.c_str());
}

struct Analysed {
  Input input;
  Findings findings;
};

std::string job_json(const JobComparison& job, const StepSkew& skew, const std::vector<Analysed>& runs) {
  using Json = nlohmann::ordered_json;
  Json ranks = Json::array();
  for (const auto& r : job.ranks)
    ranks.push_back({{"rank", r.rank >= 0 ? Json(r.rank) : Json(nullptr)},
                     {"host", r.host},
                     {"local_rank", r.local_rank >= 0 ? Json(r.local_rank) : Json(nullptr)},
                     {"job_name", r.job_name},
                     {"file", r.path},
                     {"steps", r.steps},
                     {"step_time", r.step_time_s},
                     {"wall_time", r.wall_s},
                     {"collective_time", r.collective_s},
                     {"compared_step", r.step_s},
                     {"compared_compute", r.compute_s},
                     {"compared_collective", r.collective_per_s},
                     {"top_operation", r.top_operation},
                     {"top_operation_self_time", r.top_operation_s}});
  Json stragglers = Json::array();
  for (const auto& s : job.stragglers)
    stragglers.push_back({{"rank", s.rank},
                          {"file", s.path},
                          {"measure", s.measure},
                          {"value", s.value_s},
                          {"others_median", s.others_median_s},
                          {"difference", s.difference},
                          {"description", s.description}});
  Json intervals = Json::array();
  for (const auto& interval : skew.intervals) {
    Json cells = Json::array();
    for (const auto& c : interval.ranks)
      cells.push_back({{"rank", c.rank},
                       {"measured", c.measured},
                       {"steps", c.steps},
                       {"compute_per_step", c.compute_per_step_s},
                       {"skew", c.skew}});
    intervals.push_back({{"start", interval.start_s}, {"end", interval.end_s}, {"ranks", std::move(cells)}});
  }
  Json reports = Json::array();
  for (const auto& run : runs)
    reports.push_back(Json::parse(io::to_json_report(run.input.snapshot, run.findings)));
  Json j = {{"schema_version", 1},
            {"kind", "codeprof-job-analysis"},
            {"per_step", job.per_step},
            {"one_job", job.one_job},
            {"threshold", job.threshold},
            {"note", job.note},
            {"ranks", std::move(ranks)},
            {"stragglers", std::move(stragglers)},
            {"skew", {{"available", skew.available}, {"note", skew.note}, {"intervals", std::move(intervals)}}},
            {"reports", std::move(reports)}};
  return j.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace

int run_analyze(const AnalyzeOptions& options) {
  if (options.files.empty()) throw UsageError("analyze: give at least one report or trace file");
  const Config config = load_config(options.config_path);
  std::vector<Analysed> runs;
  for (const auto& path : options.files) {
    Analysed a{load_input(path), {}};
    a.findings = analysis::analyze(a.input.snapshot, config);
    runs.push_back(std::move(a));
  }

  if (runs.size() == 1) {
    const auto& run = runs.front();
    if (options.format == "json") emit(io::to_json_report(run.input.snapshot, run.findings), options.output);
    else if (options.format == "html") emit(io::to_html_report(run.input.snapshot, run.findings), options.output);
    else emit(summary_text(run.input.snapshot, run.findings, options.top), options.output);
    return 0;
  }

  std::vector<RankInput> ranks;
  for (const auto& run : runs) ranks.push_back({run.input.path, &run.input.snapshot, &run.findings});
  const JobComparison job = compare_ranks(ranks, options.straggler_threshold_pct / 100.0);
  const StepSkew skew = job.one_job ? step_skew(ranks, config) : StepSkew{false, job.note, {}};

  if (options.format == "json") {
    emit(job_json(job, skew, runs), options.output);
  } else if (options.format == "html") {
    // One page per file, into the directory -o names; the comparison goes to stdout.
    if (options.output.empty())
      throw UsageError("analyze --format html with several files needs -o DIRECTORY (one page per file)");
    // Every page's name is checked before the first is written: two inputs with one file name
    // would overwrite each other's page, and a name taken by a directory would stop the run halfway.
    const auto page_path = [&](const Analysed& run) {
      return (std::filesystem::path(options.output) / (std::filesystem::path(run.input.path).filename().string() + ".html")).string();
    };
    std::map<std::string, std::string> source_of;  // page path -> the input it shows
    for (const auto& run : runs) {
      const std::string path = page_path(run);
      if (const auto [at, added] = source_of.emplace(path, run.input.path); !added)
        throw UsageError("analyze: " + at->second + " and " + run.input.path + " would both be written to " + path +
                         " (expected files with different names)");
      std::error_code ec;
      if (std::filesystem::is_directory(path, ec))
        throw UsageError("analyze: cannot write " + path + ": it is a directory (expected a file name free for the page)");
    }
    for (const auto& run : runs) {
      const std::string path = page_path(run);
      io::write_file_atomic(path, io::to_html_report(run.input.snapshot, run.findings));
      std::fprintf(stderr, "codeprof: wrote %s\n", path.c_str());
    }
    emit(comparison_text(job) + (job.one_job ? "\n" + skew_text(skew) : std::string()), "");
  } else {
    std::string text = "codeprof analyze: ";
    text += std::to_string(runs.size());
    text += " files\n\n";
    text += comparison_text(job);
    if (job.one_job) text += "\n" + skew_text(skew);
    for (const auto& run : runs) {
      text.append(1, '\n').append(78, '=').append(1, '\n');  // g++ 12 -Wrestrict misfires on "\n" + string
      text += summary_text(run.input.snapshot, run.findings, std::min<std::size_t>(options.top, 5));
    }
    emit(text, options.output);
  }
  return 0;
}

int run_merge(const MergeOptions& options) {
  if (options.files.empty()) throw UsageError("merge: give the reports or traces of the ranks to merge");
  if (options.output.empty())
    throw UsageError("merge: -o FILE is required (.json: a Chrome trace; .pftrace: a Perfetto trace)");
  std::string format = options.format;
  if (format.empty()) {
    const std::string ext = std::filesystem::path(options.output).extension().string();
    format = ext == ".pftrace" || ext == ".perfetto-trace" ? "perfetto" : "chrome";
  }
  if (format != "chrome" && format != "perfetto")
    throw UsageError("merge: --format '" + format + "': expected chrome or perfetto");
  const Config config = load_config(options.config_path);
  std::vector<Analysed> runs;
  for (const auto& path : options.files) {
    Analysed a{load_input(path, options.max_events), {}};
    a.findings = analysis::analyze(a.input.snapshot, config);
    runs.push_back(std::move(a));
  }
  std::vector<RankInput> ranks;
  for (const auto& run : runs) ranks.push_back({run.input.path, &run.input.snapshot, &run.findings});
  const JobComparison job = compare_ranks(ranks, options.straggler_threshold_pct / 100.0);

  // A straggler says so in its process name, where a timeline viewer shows it next to its tracks.
  std::vector<io::TimelineProcess> processes;
  for (const auto& run : runs) {
    io::TimelineProcess p;
    p.snapshot = &run.input.snapshot;
    p.name = io::default_process_name(run.input.snapshot.run);
    for (const auto& st : job.stragglers)
      if (st.path == run.input.path) {
        p.name += " · straggler: " + st.description.substr(st.description.find(' ', 5) + 1);
        break;
      }
    processes.push_back(std::move(p));
  }
  const std::string content = format == "perfetto" ? io::to_perfetto_trace(processes) : io::to_chrome_trace(processes);
  io::write_file_atomic(options.output, content);
  std::string summary = "codeprof: merged " + std::to_string(runs.size()) + " file" + (runs.size() == 1 ? "" : "s") +
                        " into " + options.output + " (" + (format == "perfetto" ? "Perfetto protobuf" : "Chrome trace JSON") +
                        ", " + common::format_bytes(static_cast<double>(content.size())) + ")\n";
  if (job.one_job) {
    if (job.stragglers.empty()) summary += "codeprof: no straggler (" + job.note + ")\n";
    for (const auto& st : job.stragglers) summary += "codeprof: straggler: " + st.description + "\n";
  }
  std::fputs(summary.c_str(), stderr);
  return 0;
}

int run_diff(const DiffOptionsCli& options) {
  if (options.max_regression_pct && !(std::isfinite(*options.max_regression_pct) && *options.max_regression_pct >= 0))
    throw UsageError("diff --max-regression: expected a finite, non-negative percentage, got " +
                     std::to_string(*options.max_regression_pct));
  if (!(std::isfinite(options.min_duration_s) && options.min_duration_s >= 0))
    throw UsageError("diff --min-duration: expected finite, non-negative seconds");
  const Input base = load_input(options.base);
  const Input next = load_input(options.next);
  DiffOptions diff_options;
  if (options.max_regression_pct) diff_options.max_regression = *options.max_regression_pct / 100.0;
  diff_options.metric = options.metric;
  diff_options.min_duration_s = options.min_duration_s;
  diff_options.top = options.top;
  const DiffResult diff = diff_snapshots(base.snapshot, next.snapshot, diff_options);
  emit(options.format == "json" ? diff_json(diff, diff_options, options.base, options.next)
                                : diff_text(diff, diff_options, options.base, options.next),
       options.output);
  return diff.regressions > 0 ? 1 : 0;
}

int run_serve(const ServeOptions& options) {
  // Block the stop signals before the server starts its threads, so that they all inherit the
  // mask and this thread alone receives the signal through sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Said with the flags that fix it (the library's message names its own options).
  if (options.token.empty() && !server::is_loopback_host(options.host))
    throw UsageError("serve --host " + options.host +
                     " is reachable from other machines: add --token TOKEN (at least 8 letters, digits or - _ . ~) "
                     "or leave out --host to listen on 127.0.0.1 only");
  if (!options.token.empty()) {
    try {
      server::validate_token(options.token);
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("serve --token: ") + e.what());
    }
  }

  const Config config = load_config(options.config_path);
  Input input = load_input(options.file);
  Findings findings = analysis::analyze(input.snapshot, config);
  DashboardOptions dashboard_options;
  dashboard_options.host = options.host;
  dashboard_options.port = options.port;
  dashboard_options.token = options.token;
  Dashboard dashboard(std::move(input.snapshot), std::move(findings), dashboard_options, config);
  std::printf("codeprof: serving %s at %s (read-only; Ctrl-C stops)\n", options.file.c_str(), dashboard.url().c_str());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  dashboard.stop();
  std::fprintf(stderr, "codeprof: stopped (%s)\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  return 0;
}

int run_serve_ranks(const ServeRanksOptions& options) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  JobViewOptions job;
  job.ranks = rank_endpoints(options.ranks);
  const std::size_t count = job.ranks.size();
  job.host = options.host;
  job.port = options.port;
  job.token = options.token;
  job.config = load_config(options.config_path);
  job.straggler_threshold = options.straggler_threshold_pct / 100.0;
  job.poll_interval = std::chrono::milliseconds(static_cast<std::int64_t>(options.poll_interval_s * 1000));
  JobView view(std::move(job));
  std::printf("codeprof: job view of %zu ranks at %s (Ctrl-C stops)\n", count, view.url().c_str());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  view.stop();
  std::fprintf(stderr, "codeprof: stopped (%s)\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  return 0;
}

}  // namespace codeprof::cli
