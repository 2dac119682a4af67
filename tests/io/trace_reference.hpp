#pragma once
// An independent, deliberately naive reading of a Chrome/Kineto trace for the trace reader's
// tests: the whole file through nlohmann::json, quadratic nesting, plain sums. Slow and
// memory-hungry, but simple enough to trust; the reader must agree with it.
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace codeprof::test {

inline std::string read_maybe_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files as they are
  if (!f) throw std::runtime_error("cannot open " + path);
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  gzclose(f);
  return out;
}

struct RefEvent {
  std::string name;  // ProfilerStep#N already folded into "ProfilerStep"
  std::string thread;
  bool gpu = false, launch = false, step = false;
  std::int64_t device = 0, correlation = 0, bytes = 0;
  std::int64_t start = 0, end = 0;  // ns
  std::size_t order = 0;            // position in the file
};

struct RefOp {
  std::uint64_t count = 0;
  std::int64_t total = 0, self = 0, gpu = 0;
  std::uint64_t gpu_samples = 0;
};

struct Reference {
  int rank = -1, world_size = -1;
  std::size_t steps = 0;
  std::int64_t step_time = 0;  // union of the steps
  std::int64_t sync_ns = 0;
  std::size_t recorded = 0;    // X events that become operation calls
  std::map<std::pair<std::string, bool>, RefOp> ops;          // (name, gpu)
  std::map<std::int64_t, std::int64_t> busy, busy_in_steps;  // per device
  std::map<std::int64_t, std::int64_t> memcpy_bytes;
};

inline std::int64_t ref_ns(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>() * 1000;
  return std::llround(v.get<double>() * 1000.0);
}

inline std::vector<std::pair<std::int64_t, std::int64_t>> ref_union(std::vector<std::pair<std::int64_t, std::int64_t>> v) {
  std::sort(v.begin(), v.end());
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (auto [s, e] : v) {
    if (e <= s) continue;
    if (!out.empty() && s <= out.back().second) {
      out.back().second = std::max(out.back().second, e);
    } else {
      out.push_back({s, e});
    }
  }
  return out;
}

inline Reference compute_reference(const std::string& path) {
  const nlohmann::json doc = nlohmann::json::parse(read_maybe_gzip(path));
  const nlohmann::json& events = doc.is_array() ? doc : doc.at("traceEvents");
  Reference r;
  if (doc.is_object() && doc.contains("distributedInfo")) {
    const auto& d = doc["distributedInfo"];
    if (d.contains("rank")) r.rank = d["rank"].get<int>();
    if (d.contains("world_size")) r.world_size = d["world_size"].get<int>();
  }
  std::vector<RefEvent> all;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.value("ph", "") != "X") continue;
    const std::string cat = e.value("cat", "");
    if (cat == "gpu_user_annotation" || cat == "Trace") continue;
    if (cat == "cuda_sync") {
      r.sync_ns += ref_ns(e["dur"]);
      continue;
    }
    RefEvent x;
    x.name = e.at("name").get<std::string>();
    x.start = ref_ns(e.at("ts"));
    x.end = x.start + ref_ns(e.at("dur"));
    x.order = i;
    const nlohmann::json args = e.value("args", nlohmann::json::object());
    x.gpu = cat == "kernel" || cat == "Kernel" || cat == "gpu_memcpy" || cat == "Memcpy" || cat == "gpu_memset" ||
            cat == "Memset";
    x.launch = cat == "cuda_runtime" || cat == "cuda_driver" || cat == "Runtime";
    if (args.contains("correlation") && args["correlation"].is_number_integer())
      x.correlation = args["correlation"].get<std::int64_t>();
    if (x.gpu) {
      x.device = args.contains("device") ? args["device"].get<std::int64_t>() : e["pid"].get<std::int64_t>();
      if ((cat == "gpu_memcpy" || cat == "Memcpy") && args.contains("bytes")) x.bytes = args["bytes"].get<std::int64_t>();
      x.thread = "gpu";
    } else {
      x.thread = e["pid"].dump() + "/" + e["tid"].dump();
      if (x.name.rfind("ProfilerStep#", 0) == 0) {
        x.name = "ProfilerStep";
        x.step = true;
      }
    }
    all.push_back(std::move(x));
  }
  r.recorded = all.size();
  // Without cuda_sync events, the runtime's *Synchronize calls stand for the sync time.
  if (r.sync_ns == 0)
    for (const auto& x : all)
      if (x.launch && x.name.find("Synchronize") != std::string::npos) r.sync_ns += x.end - x.start;

  std::vector<std::pair<std::int64_t, std::int64_t>> steps;
  for (const auto& x : all)
    if (x.step) steps.push_back({x.start, x.end});
  r.steps = steps.size();
  const auto step_union = ref_union(steps);
  for (auto [s, e] : step_union) r.step_time += e - s;

  // GPU: busy = union per device; the part inside the steps by brute force.
  std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::int64_t>>> per_device;
  for (const auto& x : all)
    if (x.gpu) {
      per_device[x.device].push_back({x.start, x.end});
      r.memcpy_bytes[x.device] += x.bytes;
    }
  for (auto& [device, intervals] : per_device) {
    r.busy_in_steps[device] += 0;
    for (auto [s, e] : ref_union(intervals)) {
      r.busy[device] += e - s;
      for (auto [ss, se] : step_union) r.busy_in_steps[device] += std::max<std::int64_t>(0, std::min(e, se) - std::max(s, ss));
    }
  }

  // GPU time per correlation id, given to the first launch (in file order) that carries it.
  std::map<std::int64_t, std::int64_t> gpu_of;
  std::map<std::int64_t, std::size_t> winner;  // correlation id -> file position of its first launch
  for (const auto& x : all) {
    if (x.gpu && x.correlation) gpu_of[x.correlation] += x.end - x.start;
    if (x.launch && x.correlation && (!winner.count(x.correlation) || x.order < winner[x.correlation]))
      winner[x.correlation] = x.order;
  }

  for (const auto& x : all) {
    RefOp& op = r.ops[{x.name, x.gpu}];
    ++op.count;
    op.total += x.end - x.start;
    if (x.gpu) op.self += x.end - x.start;
  }

  // CPU nesting per thread: the parent of a slice is the latest-starting earlier slice (start
  // ascending, longer first) that still runs when it starts.
  std::map<std::string, std::vector<const RefEvent*>> threads;
  for (const auto& x : all)
    if (!x.gpu) threads[x.thread].push_back(&x);
  for (auto& [name, list] : threads) {
    std::sort(list.begin(), list.end(), [](const RefEvent* a, const RefEvent* b) {
      if (a->start != b->start) return a->start < b->start;
      if (a->end - a->start != b->end - b->start) return a->end - a->start > b->end - b->start;
      return a->order < b->order;
    });
    const std::size_t n = list.size();
    std::vector<long> parent(n, -1);
    for (std::size_t i = 0; i < n; ++i)
      for (long j = static_cast<long>(i) - 1; j >= 0; --j)
        if (list[static_cast<std::size_t>(j)]->start <= list[i]->start && list[i]->start < list[static_cast<std::size_t>(j)]->end) {
          parent[i] = j;
          break;
        }
    std::vector<std::int64_t> children(n, 0), gpu(n, -1);
    for (std::size_t i = 0; i < n; ++i) {
      const RefEvent& x = *list[i];
      if (!x.launch || !x.correlation || !gpu_of.count(x.correlation) || winner[x.correlation] != x.order) continue;
      for (long k = static_cast<long>(i); k >= 0; k = parent[static_cast<std::size_t>(k)])
        gpu[static_cast<std::size_t>(k)] = std::max<std::int64_t>(gpu[static_cast<std::size_t>(k)], 0) + gpu_of[x.correlation];
    }
    for (std::size_t i = 0; i < n; ++i)
      if (parent[i] >= 0) children[static_cast<std::size_t>(parent[i])] += list[i]->end - list[i]->start;
    for (std::size_t i = 0; i < n; ++i) {
      RefOp& op = r.ops[{list[i]->name, false}];
      const std::int64_t d = list[i]->end - list[i]->start;
      op.self += children[i] < d ? d - children[i] : 0;
      if (gpu[i] >= 0) {
        op.gpu += gpu[i];
        ++op.gpu_samples;
      }
    }
  }
  return r;
}

}  // namespace codeprof::test
