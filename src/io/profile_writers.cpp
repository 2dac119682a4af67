// The sampled profile as pprof (profile.proto, gzip) and as folded stacks (flamegraph.pl,
// speedscope, the flame graphs of the dashboard and the HTML report).
#include <zlib.h>

#include <map>
#include <tuple>
#include <unordered_map>

#include "codeprof/exporters.hpp"
#include "io/profile.pb.h"
#include "io/profile_view.hpp"

namespace codeprof::io {
namespace {

namespace pb = perftools::profiles;

class StringTable {
 public:
  explicit StringTable(pb::Profile& p) : profile_(p) { (*this)(""); }
  std::int64_t operator()(const std::string& s) {
    const auto it = ids_.find(s);
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<std::int64_t>(profile_.string_table_size());
    profile_.add_string_table(s);
    ids_.emplace(s, id);
    return id;
  }

 private:
  pb::Profile& profile_;
  std::unordered_map<std::string, std::int64_t> ids_;
};

std::string gzip(const std::string& data) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw WriteError("pprof: cannot start gzip compression");
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw WriteError("pprof: gzip compression failed");
  out.resize(z.total_out);
  return out;
}

double sampling_period_ns(const Snapshot& s) {
  for (const auto& src : s.sampling.sources)
    if (src.frequency_hz > 0) return 1e9 / src.frequency_hz;
  return 0;
}

}  // namespace

std::string to_pprof(const Snapshot& s) {
  const SampleProfile& prof = s.profile;
  pb::Profile out;
  StringTable str(out);
  bool any_alloc = false;
  for (const auto& st : prof.stacks) any_alloc = any_alloc || st.alloc_samples > 0;

  const auto add_type = [&](const char* type, const char* unit) {
    pb::ValueType* v = out.add_sample_type();
    v->set_type(str(type));
    v->set_unit(str(unit));
  };
  add_type("samples", "count");
  add_type("cpu", "nanoseconds");
  // Heap profile types as Go and tcmalloc name them; every value is already the unbiased estimate
  // of what the samples stand for (objects and bytes scaled alike), so pprof must not rescale.
  if (any_alloc) {
    add_type("alloc_objects", "count");
    add_type("alloc_space", "bytes");
    add_type("inuse_objects", "count");
    add_type("inuse_space", "bytes");
  }
  const double period = sampling_period_ns(s);
  out.mutable_period_type()->set_type(str("cpu"));
  out.mutable_period_type()->set_unit(str("nanoseconds"));
  out.set_period(static_cast<std::int64_t>(period));
  out.set_time_nanos(s.run.start_unix_ns);
  out.set_duration_nanos(s.run.wall_ns);
  out.set_default_sample_type(str("cpu"));
  out.add_comment(str("codeprof " + s.run.version + " on " + s.run.host + ": " + s.run.command));

  // One mapping per module, one function per (name, file), one location per group of frames that
  // ends with a frame that is not inlined (a pprof location holds its inlined lines).
  std::map<std::string, std::uint64_t> mappings;
  const auto mapping_id = [&](const std::string& module) {
    auto [it, fresh] = mappings.emplace(module, mappings.size() + 1);
    if (fresh) {
      pb::Mapping* m = out.add_mapping();
      m->set_id(it->second);
      m->set_filename(str(module));
      m->set_has_functions(true);
      m->set_has_filenames(true);
      m->set_has_line_numbers(true);
      m->set_has_inline_frames(true);
    }
    return it->second;
  };
  std::map<std::pair<std::string, std::string>, std::uint64_t> functions;
  const auto function_id = [&](const ProfileFrame& f) {
    auto [it, fresh] = functions.emplace(std::make_pair(f.function, f.file), functions.size() + 1);
    if (fresh) {
      pb::Function* fn = out.add_function();
      fn->set_id(it->second);
      fn->set_name(str(f.function));
      fn->set_system_name(str(f.function));
      fn->set_filename(str(f.file));
    }
    return it->second;
  };
  std::map<std::vector<std::uint32_t>, std::uint64_t> locations;
  const auto location_id = [&](const std::vector<std::uint32_t>& group) {
    auto [it, fresh] = locations.emplace(group, locations.size() + 1);
    if (fresh) {
      pb::Location* loc = out.add_location();
      loc->set_id(it->second);
      loc->set_mapping_id(mapping_id(prof.frames[group.back()].module));
      for (const std::uint32_t f : group) {
        pb::Line* line = loc->add_line();
        line->set_function_id(function_id(prof.frames[f]));
        line->set_line(prof.frames[f].line);
      }
    }
    return it->second;
  };

  const std::int64_t key_operation = str("operation"), key_thread = str("thread");
  std::vector<std::uint32_t> group;
  for (const ProfileStack& st : prof.stacks) {
    pb::Sample* sample = out.add_sample();
    group.clear();
    for (const std::uint32_t f : st.frames) {
      group.push_back(f);
      if (!prof.frames[f].inlined) {
        sample->add_location_id(location_id(group));
        group.clear();
      }
    }
    if (!group.empty()) sample->add_location_id(location_id(group));
    sample->add_value(static_cast<std::int64_t>(st.cpu_samples));
    sample->add_value(static_cast<std::int64_t>(static_cast<double>(st.cpu_samples) * period));
    if (any_alloc) {
      sample->add_value(static_cast<std::int64_t>(st.alloc_objects));
      sample->add_value(static_cast<std::int64_t>(st.alloc_bytes));
      sample->add_value(static_cast<std::int64_t>(st.live_objects));
      sample->add_value(static_cast<std::int64_t>(st.live_bytes));
    }
    if (!st.operations.empty()) {
      pb::Label* l = sample->add_label();
      l->set_key(key_operation);
      l->set_str(str(operation_name(prof, st.operations.front())));
    }
    pb::Label* t = sample->add_label();
    t->set_key(key_thread);
    t->set_num(static_cast<std::int64_t>(st.thread));
  }
  std::string bytes;
  if (!out.SerializeToString(&bytes)) throw WriteError("pprof: cannot encode the profile");
  return gzip(bytes);
}

namespace {

// "operation:step;operation:tokenize;main;tokenize;count_tokens 12": open operations
// (outermost first) as the root frames, then the stack from the outermost frame in.
template <typename Value>
std::string folded(const Snapshot& s, Value value) {
  const SampleProfile& prof = s.profile;
  std::map<std::string, std::uint64_t> lines;
  for (const ProfileStack& st : prof.stacks) {
    const std::uint64_t v = value(st);
    if (v == 0) continue;
    std::string key;
    const auto add = [&](const std::string& name) {
      if (!key.empty()) key += ';';
      for (const char c : name) key += (c == ';' || c == '\n' || c == '\r') ? ' ' : c;  // separators of the format
    };
    for (auto it = st.operations.rbegin(); it != st.operations.rend(); ++it) add(std::string("operation:").append(operation_name(prof, *it)));
    for (auto it = st.frames.rbegin(); it != st.frames.rend(); ++it) add(prof.frames[*it].function);
    if (st.frames.empty()) add("[unknown]");
    lines[key] += v;
  }
  std::string out;
  for (const auto& [key, count] : lines) out += key + " " + std::to_string(count) + "\n";
  return out;
}

}  // namespace

std::string to_folded(const Snapshot& s) {
  return folded(s, [](const ProfileStack& st) { return st.cpu_samples; });
}

std::string to_folded(const Snapshot& s, FoldedAllocations bytes) {
  if (bytes == FoldedAllocations::Live) return folded(s, [](const ProfileStack& st) { return st.live_bytes; });
  return folded(s, [](const ProfileStack& st) { return st.alloc_bytes; });
}

}  // namespace codeprof::io
