// to_perfetto_trace: Perfetto's native protobuf trace format (.pftrace), as a sequence of
// TracePackets (src/io/proto/perfetto_trace.proto holds the subset of Perfetto's definitions used):
// a TrackDescriptor per process, thread and counter, then TrackEvents, slices as BEGIN/END pairs
// and counter values, in time order. Event names and categories are interned (each string is
// written once per trace and then referred to by number), which is most of why the file is several
// times smaller than the JSON trace, with the packets compressed in batches (zlib), as Perfetto's
// own service writes them. Timestamps are wall-clock nanoseconds (Unix epoch), so traces of
// several hosts share one clock.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <zlib.h>

#include <climits>

#include <algorithm>
#include <unordered_map>

#include "codeprof/exporters.hpp"
#include "io/report_schema.hpp"
#include "io/timeline_model.hpp"
#include "proto/perfetto_trace.pb.h"

namespace codeprof::io {
namespace {

namespace pb = perfetto::protos;

constexpr std::uint32_t kSequenceId = 1;  // one writer, one packet sequence
constexpr std::int64_t kTidsPerProcess = 100000;

// One event of the output, before sorting by time.
struct PendingEvent {
  std::int64_t t_ns = 0;
  std::uint8_t order = 0;     // at equal times: slice ends (0), counters (1), slice begins (2)
  std::uint64_t track = 0;
  const TimelineSlice* slice = nullptr;  // begin: the slice; end: null
  double counter_value = 0.0;
  bool is_counter = false;
};

// Appends `packet` to `out` as one Trace.packet (field 1, length-delimited): a trace file is a
// Trace message written packet by packet.
void append_framed(std::string& out, const std::string& packet_bytes) {
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.WriteTag((1u << 3) | 2u);
  coded.WriteVarint32(static_cast<std::uint32_t>(packet_bytes.size()));
  coded.WriteRaw(packet_bytes.data(), static_cast<int>(packet_bytes.size()));
}

// Packets go out in batches compressed with zlib (TracePacket.compressed_packets): per packet the
// same timestamps' high bytes, track ids and flags repeat, which deflate removes.
class PacketWriter {
 public:
  void write(const pb::TracePacket& packet) {
    packet_bytes_.clear();
    packet.SerializeToString(&packet_bytes_);
    append_framed(batch_, packet_bytes_);
    if (batch_.size() >= kBatchBytes) flush();
  }
  std::string take() {
    flush();
    return std::move(out_);
  }

 private:
  // Uncompressed bytes per batch: deflate never grows data by more than a few bytes per 16 KiB, so
  // the compressed packet stays well under Perfetto's 512 KiB limit.
  static constexpr std::size_t kBatchBytes = 256 * 1024;

  void flush() {
    if (batch_.empty()) return;
    uLongf size = compressBound(static_cast<uLong>(batch_.size()));
    std::string compressed(size, '\0');
    if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &size, reinterpret_cast<const Bytef*>(batch_.data()),
                  static_cast<uLong>(batch_.size()), 6) != Z_OK)
      throw WriteError("Perfetto trace: zlib could not compress a batch of packets");
    compressed.resize(size);
    pb::TracePacket wrapper;
    wrapper.set_compressed_packets(std::move(compressed));
    packet_bytes_.clear();
    wrapper.SerializeToString(&packet_bytes_);
    append_framed(out_, packet_bytes_);
    batch_.clear();
  }

  std::string out_;
  std::string batch_;
  std::string packet_bytes_;
};

// Names and categories numbered in first-use order (interning ids start at 1).
class Interner {
 public:
  std::uint64_t id(const std::string& s, bool& is_new) {
    auto [it, inserted] = ids_.try_emplace(s, ids_.size() + 1);
    is_new = inserted;
    return it->second;
  }

 private:
  std::unordered_map<std::string, std::uint64_t> ids_;
};

std::string slice_name(const TimelineSlice& s) {
  if (s.operation) return s.operation->name;
  return s.label.empty() ? "unknown operation" : s.label;
}
std::string slice_category(const TimelineSlice& s) {
  if (s.operation) return std::string(to_string(s.operation->category));
  return s.label.rfind("step ", 0) == 0 ? "step" : "custom";
}

pb::CounterDescriptor::Unit counter_unit(const std::string& unit) {
  if (unit == "bytes") return pb::CounterDescriptor::UNIT_SIZE_BYTES;
  if (unit == "count") return pb::CounterDescriptor::UNIT_COUNT;
  return pb::CounterDescriptor::UNIT_UNSPECIFIED;
}

}  // namespace

std::string to_perfetto_trace(const std::vector<TimelineProcess>& processes) {
  const TimelineModel model = build_timeline(processes);
  PacketWriter out;
  pb::TracePacket packet;
  bool first_packet = true;
  const auto start_packet = [&]() -> pb::TracePacket& {
    packet.Clear();
    packet.set_trusted_packet_sequence_id(kSequenceId);
    if (first_packet) packet.set_sequence_flags(pb::TracePacket::SEQ_INCREMENTAL_STATE_CLEARED);
    first_packet = false;
    return packet;
  };

  // Track uuids: 1.. in declaration order; processes, their threads, their counters.
  std::uint64_t next_uuid = 1;
  std::vector<PendingEvent> events;
  for (std::size_t process_index = 0; process_index < model.processes.size(); ++process_index) {
    const TimelineProcessModel& p = model.processes[process_index];
    const std::uint64_t process_uuid = next_uuid++;
    {
      pb::TracePacket& pk = start_packet();
      pb::TrackDescriptor* track = pk.mutable_track_descriptor();
      track->set_uuid(process_uuid);
      track->mutable_process()->set_pid(static_cast<std::int32_t>(p.pid));
      track->mutable_process()->set_process_name(p.name);
      track->mutable_process()->set_legacy_sort_index(static_cast<std::int32_t>(p.sort_index));
      out.write(pk);
    }
    for (const auto& t : p.threads) {
      const std::uint64_t uuid = next_uuid++;
      pb::TracePacket& pk = start_packet();
      pb::TrackDescriptor* track = pk.mutable_track_descriptor();
      track->set_uuid(uuid);
      track->set_parent_uuid(process_uuid);
      if (t.tid == kStepsTrackTid) {
        track->set_name(t.name);  // a track of the process, not a thread
      } else {
        // Thread ids unique across the file: trace processors match threads by tid.
        pb::ThreadDescriptor* thread = track->mutable_thread();
        thread->set_pid(static_cast<std::int32_t>(p.pid));
        thread->set_tid(static_cast<std::int32_t>((process_index + 1) * kTidsPerProcess + t.tid % kTidsPerProcess));
        thread->set_thread_name(t.name);
        thread->set_legacy_sort_index(static_cast<std::int32_t>(t.tid % kTidsPerProcess));
      }
      out.write(pk);
      // Slices nest: an end is due before each begin that starts at or after it.
      std::vector<std::int64_t> open_ends;
      for (const auto& slice : t.slices) {
        while (!open_ends.empty() && open_ends.back() <= slice.start_ns) {
          events.push_back({open_ends.back(), 0, uuid, nullptr, 0.0, false});
          open_ends.pop_back();
        }
        std::int64_t end = slice.start_ns + slice.duration_ns;
        if (!open_ends.empty()) end = std::min(end, open_ends.back());  // a child never outlasts its parent
        events.push_back({slice.start_ns, 2, uuid, &slice, 0.0, false});
        open_ends.push_back(end);
      }
      while (!open_ends.empty()) {
        events.push_back({open_ends.back(), 0, uuid, nullptr, 0.0, false});
        open_ends.pop_back();
      }
    }
    for (const auto& c : p.counters) {
      const std::uint64_t uuid = next_uuid++;
      pb::TracePacket& pk = start_packet();
      pb::TrackDescriptor* track = pk.mutable_track_descriptor();
      track->set_uuid(uuid);
      track->set_parent_uuid(process_uuid);
      track->set_name(c.name);
      track->mutable_counter()->set_unit(counter_unit(c.unit));
      out.write(pk);
      for (std::size_t i = 0; i < c.t_ns.size(); ++i) events.push_back({c.t_ns[i], 1, uuid, nullptr, c.values[i], true});
    }
  }

  // Time order; a track's own events keep their order at equal times (stable).
  std::stable_sort(events.begin(), events.end(), [](const PendingEvent& a, const PendingEvent& b) {
    return a.t_ns != b.t_ns ? a.t_ns < b.t_ns : a.order < b.order;
  });

  Interner names, categories;
  for (const PendingEvent& e : events) {
    pb::TracePacket& pk = start_packet();
    pk.set_timestamp(static_cast<std::uint64_t>(model.base_ns + e.t_ns));
    pb::TrackEvent* ev = pk.mutable_track_event();
    ev->set_track_uuid(e.track);
    if (e.is_counter) {
      ev->set_type(pb::TrackEvent::TYPE_COUNTER);
      ev->set_double_counter_value(e.counter_value);
    } else if (!e.slice) {
      ev->set_type(pb::TrackEvent::TYPE_SLICE_END);
    } else {
      ev->set_type(pb::TrackEvent::TYPE_SLICE_BEGIN);
      pk.set_sequence_flags(pk.sequence_flags() | pb::TracePacket::SEQ_NEEDS_INCREMENTAL_STATE);
      bool is_new = false;
      const std::string name = slice_name(*e.slice);
      const std::uint64_t name_iid = names.id(name, is_new);
      if (is_new) {
        pb::EventName* n = pk.mutable_interned_data()->add_event_names();
        n->set_iid(name_iid);
        n->set_name(name);
      }
      ev->set_name_iid(name_iid);
      const std::string category = slice_category(*e.slice);
      const std::uint64_t category_iid = categories.id(category, is_new);
      if (is_new) {
        pb::EventCategory* c = pk.mutable_interned_data()->add_event_categories();
        c->set_iid(category_iid);
        c->set_name(category);
      }
      ev->add_category_iids(category_iid);
      if (e.slice->probes) {
        for (const auto& info : kResourceMetrics) {
          if (!e.slice->probes->has(info.metric)) continue;
          pb::DebugAnnotation* a = ev->add_debug_annotations();
          a->set_name(std::string(info.key));
          a->set_double_value(static_cast<double>(e.slice->probes->get(info.metric)) * info.scale);
        }
      }
    }
    out.write(pk);
  }
  return out.take();
}

std::string to_perfetto_trace(const Snapshot& snapshot) {
  std::string name = "codeprof";
  if (!snapshot.run.command.empty()) name += ": " + snapshot.run.command;
  if (snapshot.run.rank >= 0) name += " (rank " + std::to_string(snapshot.run.rank) + ")";
  return to_perfetto_trace(std::vector<TimelineProcess>{{&snapshot, name, snapshot.run.pid > 0 ? snapshot.run.pid : 1}});
}

}  // namespace codeprof::io
