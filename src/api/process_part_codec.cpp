// The binary form of a ProcessPart: LEB128 varints (zigzag for signed values), strings as a
// length and bytes, doubles as their 8 bytes. Decoding checks every length against what is left,
// so a truncated or corrupted datagram is an error, never a read past the end.
#include <bit>
#include <cstring>

#include "codeprof/process_parts.hpp"

namespace codeprof {
namespace {

constexpr std::uint32_t kMagic = 0x43505054;  // "CPPT"
constexpr std::uint32_t kVersion = 1;
// Upper bounds on element counts, far above anything real, so a corrupted length cannot make the
// decoder reserve gigabytes.
constexpr std::uint64_t kMaxElements = 1u << 24;

class Writer {
 public:
  void u(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void i(std::int64_t v) { u((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
  void d(double v) {
    const auto bits = std::bit_cast<std::uint64_t>(v);
    for (int k = 0; k < 8; ++k) out_.push_back(static_cast<char>((bits >> (8 * k)) & 0xFF));
  }
  void s(std::string_view v) {
    u(v.size());
    out_.append(v);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint64_t u() {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) fail("truncated number");
      const auto byte = static_cast<unsigned char>(in_[pos_++]);
      v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return v;
    }
    fail("number longer than 10 bytes");
  }
  std::int64_t i() {
    const std::uint64_t z = u();
    return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  std::uint32_t u32() {
    const std::uint64_t v = u();
    if (v > UINT32_MAX) fail("value above 32 bits");
    return static_cast<std::uint32_t>(v);
  }
  double d() {
    if (in_.size() - pos_ < 8) fail("truncated double");
    std::uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[pos_++])) << (8 * k);
    return std::bit_cast<double>(bits);
  }
  std::string s() {
    const std::uint64_t n = u();
    if (n > in_.size() - pos_) fail("string longer than the data left");
    std::string v(in_.substr(pos_, n));
    pos_ += n;
    return v;
  }
  std::size_t count() {
    const std::uint64_t n = u();
    if (n > kMaxElements || n > in_.size() - pos_) fail("element count larger than the data left");
    return static_cast<std::size_t>(n);
  }
  bool done() const { return pos_ == in_.size(); }
  [[noreturn]] void fail(const char* what) const {
    throw ProcessPartError("process part: " + std::string(what) + " at byte " + std::to_string(pos_) + " of " +
                           std::to_string(in_.size()));
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

void write_operation(Writer& w, const OperationStats& op) {
  w.u(op.id);
  w.s(op.name);
  w.u(static_cast<std::uint64_t>(op.category));
  w.s(op.file);
  w.u(op.line);
  w.u(op.count);
  w.u(op.total_ns);
  w.u(op.self_ns);
  w.u(op.min_ns);
  w.u(op.max_ns);
  w.d(op.mean_ns);
  w.d(op.stddev_ns);
  w.u(op.p50_ns);
  w.u(op.p90_ns);
  w.u(op.p95_ns);
  w.u(op.p99_ns);
  w.i(op.first_seen_ns);
  w.i(op.last_seen_ns);
  w.u(op.histogram.size());
  for (const auto& b : op.histogram) {
    w.u(b.lower_ns);
    w.u(b.upper_ns);
    w.u(b.count);
  }
  w.u(op.series.size());
  for (const auto& s : op.series) {
    w.i(s.start_ns);
    w.i(s.width_ns);
    w.u(s.count);
    w.u(s.total_ns);
    w.u(s.min_ns);
    w.u(s.max_ns);
  }
  w.u(op.slowest.size());
  for (const auto& c : op.slowest) {
    w.i(c.start_ns);
    w.u(c.duration_ns);
    w.u(c.thread_index);
  }
  std::uint64_t measured = 0;
  for (const auto& r : op.resources) measured += r.samples ? 1 : 0;
  w.u(measured);
  for (std::size_t m = 0; m < kProbeMetricCount; ++m) {
    const ResourceStat& r = op.resources[m];
    if (!r.samples) continue;
    w.u(m);
    w.u(r.samples);
    w.i(r.total);
    w.i(r.max);
    w.i(r.min);
  }
}

OperationStats read_operation(Reader& r) {
  OperationStats op;
  op.id = r.u32();
  op.name = r.s();
  const std::uint64_t category = r.u();
  if (category >= kCategoryCount) r.fail("unknown category");
  op.category = static_cast<Category>(category);
  op.file = r.s();
  op.line = r.u32();
  op.count = r.u();
  op.total_ns = r.u();
  op.self_ns = r.u();
  op.min_ns = r.u();
  op.max_ns = r.u();
  op.mean_ns = r.d();
  op.stddev_ns = r.d();
  op.p50_ns = r.u();
  op.p90_ns = r.u();
  op.p95_ns = r.u();
  op.p99_ns = r.u();
  op.first_seen_ns = r.i();
  op.last_seen_ns = r.i();
  op.histogram.resize(r.count());
  for (auto& b : op.histogram) {
    b.lower_ns = r.u();
    b.upper_ns = r.u();
    b.count = r.u();
  }
  op.series.resize(r.count());
  for (auto& s : op.series) {
    s.start_ns = r.i();
    s.width_ns = r.i();
    s.count = r.u();
    s.total_ns = r.u();
    s.min_ns = r.u();
    s.max_ns = r.u();
  }
  op.slowest.resize(r.count());
  for (auto& c : op.slowest) {
    c.start_ns = r.i();
    c.duration_ns = r.u();
    c.thread_index = r.u32();
  }
  const std::size_t measured = r.count();
  for (std::size_t k = 0; k < measured; ++k) {
    const std::uint64_t m = r.u();
    if (m >= kProbeMetricCount) r.fail("unknown probe metric");
    ResourceStat& res = op.resources[m];
    res.samples = r.u();
    res.total = r.i();
    res.max = r.i();
    res.min = r.i();
  }
  return op;
}

}  // namespace

std::string encode_process_part(const ProcessPart& part) {
  Writer w;
  w.u(kMagic);
  w.u(kVersion);
  w.s(part.source);
  w.s(part.label);
  w.i(part.pid);
  w.u(part.sequence);
  w.u(part.updates_dropped);
  w.u(part.generation);

  const Snapshot& s = part.snapshot;
  w.i(s.run.start_unix_ns);
  w.i(s.run.wall_ns);
  w.i(s.run.pid);
  w.u(s.run.unavailable.size());
  for (const auto& u : s.run.unavailable) {
    w.s(u.what);
    w.s(u.reason);
  }
  w.u(s.operations.size());
  for (const auto& op : s.operations) write_operation(w, op);
  w.u(s.call_tree.size());
  for (const auto& e : s.call_tree) {
    w.u(e.parent_id);
    w.u(e.child_id);
    w.u(e.count);
    w.u(e.total_ns);
  }
  w.u(s.threads.size());
  for (const auto& t : s.threads) {
    w.u(t.index);
    w.u(t.os_tid);
    w.s(t.name);
    w.u(t.events);
    w.u(t.dropped);
    w.u(t.top_level_ns);
    w.u(t.operations.size());
    for (const auto& o : t.operations) {
      w.u(o.operation_id);
      w.u(o.count);
      w.u(o.total_ns);
      w.u(o.self_ns);
    }
  }
  w.u(s.trace_events.size());
  for (const auto& e : s.trace_events) {
    w.u(e.operation_id);
    w.u(e.thread_index);
    w.i(e.start_ns);
    w.i(e.duration_ns);
    w.u(e.depth);
    w.u(e.probes.valid);
    for (std::size_t m = 0; m < kProbeMetricCount; ++m)
      if (e.probes.valid & (1u << m)) w.i(e.probes.values[m]);
  }
  w.u(s.events_recorded);
  w.u(s.events_dropped);
  w.u(s.events_recorded_total);
  w.u(s.events_dropped_total);
  w.u(s.trace_events_dropped);
  w.u(s.events_misnested);
  return w.take();
}

ProcessPart decode_process_part(std::string_view bytes) {
  Reader r(bytes);
  if (r.u() != kMagic) r.fail("not a codeprof process part (bad magic)");
  if (const auto v = r.u(); v != kVersion)
    throw ProcessPartError("process part: format version " + std::to_string(v) + ", this codeprof reads " +
                           std::to_string(kVersion));
  ProcessPart part;
  part.source = r.s();
  part.label = r.s();
  part.pid = r.i();
  part.sequence = r.u();
  part.updates_dropped = r.u();
  part.generation = r.u();

  Snapshot& s = part.snapshot;
  s.run.start_unix_ns = r.i();
  s.run.wall_ns = r.i();
  s.run.pid = r.i();
  s.run.unavailable.resize(r.count());
  for (auto& u : s.run.unavailable) {
    u.what = r.s();
    u.reason = r.s();
  }
  s.operations.resize(r.count());
  for (auto& op : s.operations) op = read_operation(r);
  s.call_tree.resize(r.count());
  for (auto& e : s.call_tree) {
    e.parent_id = r.u32();
    e.child_id = r.u32();
    e.count = r.u();
    e.total_ns = r.u();
  }
  s.threads.resize(r.count());
  for (auto& t : s.threads) {
    t.index = r.u32();
    t.os_tid = r.u();
    t.name = r.s();
    t.events = r.u();
    t.dropped = r.u();
    t.top_level_ns = r.u();
    t.operations.resize(r.count());
    for (auto& o : t.operations) {
      o.operation_id = r.u32();
      o.count = r.u();
      o.total_ns = r.u();
      o.self_ns = r.u();
    }
  }
  s.trace_events.resize(r.count());
  for (auto& e : s.trace_events) {
    e.operation_id = r.u32();
    e.thread_index = r.u32();
    e.start_ns = r.i();
    e.duration_ns = r.i();
    const std::uint64_t depth = r.u();
    if (depth > UINT16_MAX) r.fail("depth above 65535");
    e.depth = static_cast<std::uint16_t>(depth);
    e.probes.valid = r.u32();
    if (e.probes.valid >> kProbeMetricCount) r.fail("unknown probe metric");
    for (std::size_t m = 0; m < kProbeMetricCount; ++m)
      if (e.probes.valid & (1u << m)) e.probes.values[m] = r.i();
  }
  s.events_recorded = r.u();
  s.events_dropped = r.u();
  s.events_recorded_total = r.u();
  s.events_dropped_total = r.u();
  s.trace_events_dropped = r.u();
  s.events_misnested = r.u();
  if (!r.done()) r.fail("trailing bytes");
  return part;
}

}  // namespace codeprof
