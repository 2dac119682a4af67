// to_csv: one row per operation with a header row, quoted as RFC 4180 says (fields holding a
// comma, quote, CR or LF are quoted, quotes doubled; lines end with CRLF). Times are seconds.
// Resource columns appear only for probe metrics that some operation measured.
#include <vector>

#include "codeprof/exporters.hpp"
#include "io/report_schema.hpp"
#include "io/text_output.hpp"

namespace codeprof::io {
namespace {

void append_field(std::string& out, std::string_view field) {
  const std::string text = valid_utf8(field);
  if (text.find_first_of(",\"\r\n") == std::string::npos) {
    out += text;
    return;
  }
  out += '"';
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

std::string seconds(double ns) { return format_double(ns_to_seconds(ns)); }
std::string seconds(std::uint64_t ns) { return seconds(static_cast<double>(ns)); }
std::string seconds(std::int64_t ns) { return seconds(static_cast<double>(ns)); }

}  // namespace

std::string to_csv(const Snapshot& snapshot) {
  std::vector<const ResourceMetricInfo*> measured;
  for (const auto& info : kResourceMetrics) {
    for (const auto& op : snapshot.operations) {
      if (op.resource(info.metric).samples > 0) {
        measured.push_back(&info);
        break;
      }
    }
  }

  std::vector<std::string> header = {"name",     "type",     "count",    "total_s",        "self_s",
                                     "mean_s",   "min_s",    "max_s",    "stddev_s",       "p50_s",
                                     "p90_s",    "p95_s",    "p99_s",    "first_seen_s",   "last_seen_s",
                                     "file",     "line"};
  for (const auto* info : measured) {
    const std::string suffix = info->unit == "s" ? "_s" : "";
    for (const char* stat : {"_samples", "_total", "_mean", "_max"})
      header.push_back(std::string(info->key) + stat + (std::string_view(stat) == "_samples" ? "" : suffix));
  }

  std::string out;
  const auto end_row = [&](std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) out += ',';
      append_field(out, row[i]);
    }
    out += "\r\n";
    row.clear();
  };
  end_row(header);

  std::vector<std::string> row;
  for (const auto& op : snapshot.operations) {
    row = {op.name,
           std::string(to_string(op.category)),
           std::to_string(op.count),
           seconds(op.total_ns),
           seconds(op.self_ns),
           seconds(op.mean_ns),
           seconds(op.min_ns),
           seconds(op.max_ns),
           seconds(op.stddev_ns),
           seconds(op.p50_ns),
           seconds(op.p90_ns),
           seconds(op.p95_ns),
           seconds(op.p99_ns),
           seconds(op.first_seen_ns),
           seconds(op.last_seen_ns),
           op.file,
           op.line ? std::to_string(op.line) : std::string()};
    for (const auto* info : measured) {
      const ResourceStat& r = op.resource(info->metric);
      if (r.samples == 0) {
        row.insert(row.end(), 4, std::string());
        continue;
      }
      row.push_back(std::to_string(r.samples));
      row.push_back(format_double(static_cast<double>(r.total) * info->scale));
      row.push_back(format_double(r.mean() * info->scale));
      row.push_back(format_double(static_cast<double>(r.max) * info->scale));
    }
    end_row(row);
  }
  return out;
}

std::string to_metrics_csv(const Snapshot& snapshot) {
  std::string out;
  const auto end_row = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) out += ',';
      append_field(out, row[i]);
    }
    out += "\r\n";
  };
  end_row({"name", "kind", "unit", "count", "sum", "last", "min", "max", "mean", "p50", "p90", "p95", "p99",
           "first_seen_s", "last_seen_s", "rejected"});
  for (const CustomMetric& m : snapshot.custom_metrics) {
    const bool value = m.kind == MetricKind::Value;
    const auto q = [&](double v) { return value ? format_double(v) : std::string(); };
    end_row({m.name, std::string(metric_kind_name(m.kind)), m.unit, std::to_string(m.count), format_double(m.sum),
             format_double(m.last), format_double(m.min), format_double(m.max), format_double(m.mean), q(m.p50),
             q(m.p90), q(m.p95), q(m.p99), seconds(m.first_ns), seconds(m.last_ns), std::to_string(m.rejected)});
  }
  return out;
}

}  // namespace codeprof::io
