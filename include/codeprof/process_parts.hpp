#pragma once
// Statistics recorded in other processes (DataLoader workers, multiprocessing children) joined
// into one profiler's snapshots.
//
//   parent:  Profiler profiler;  std::string address = profiler.process_channel();
//   child:   ProcessPartSender sender(address);             // after fork(), or in a spawned child
//            sender.send({.source = "w0", .label = "dataloader worker 0 (pid 4242)", ...,
//                         .snapshot = child_profiler.snapshot()});
//
// A part is cumulative (everything the child recorded since it started), so a newer part replaces
// the older one from the same source and a dropped update costs nothing once a later one arrives.
// The channel is a Unix datagram socket: a send never blocks the child; when the parent's queue is
// full the update is dropped and counted, and the count travels with the next part that gets through.
// Standard library only.
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "codeprof/snapshot.hpp"

namespace codeprof {

struct ProcessPart {
  std::string source;   // unique per sending profiler, e.g. "<pid>:<n>"
  std::string label;    // how the parent names it, e.g. "dataloader worker 2 (pid 4242)"
  std::int64_t pid = 0;
  std::uint64_t sequence = 0;         // increases with every update from the same source
  std::uint64_t updates_dropped = 0;  // updates this source could not send so far (channel full)
  std::uint64_t generation = 0;       // the receiving profiler's reset generation the child has seen
  Snapshot snapshot;                  // what the child recorded (operations, call tree, threads, trace)
};

// A part that cannot be decoded (truncated, corrupted, or from another codeprof version).
class ProcessPartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Compact binary form of a part: the Snapshot fields that merge (operations with every statistic,
// call tree, threads, raw trace events, event counters, run origin and unavailable probes).
std::string encode_process_part(const ProcessPart& part);
ProcessPart decode_process_part(std::string_view bytes);  // throws ProcessPartError

// Adds `part` (another process's statistics) into `into` exactly: operations are matched by
// (name, category); counts, totals, self times, min/max and the histogram buckets add up, mean and
// standard deviation combine by their moments, percentiles come from the merged histogram; the
// part's threads are appended as threads of their own named after `label`; times are moved to
// `into`'s origin. Operation ids new to `into` come from the process-wide call-site registry.
void merge_process_part(Snapshot& into, const Snapshot& part, std::string_view label);

// The sending end, used in the child. Never blocks in send(); send_final() waits up to `wait`
// for room (for the last update of a process that is about to exit).
class ProcessPartSender {
 public:
  explicit ProcessPartSender(std::string address);  // throws std::runtime_error if no socket
  ~ProcessPartSender();
  ProcessPartSender(const ProcessPartSender&) = delete;
  ProcessPartSender& operator=(const ProcessPartSender&) = delete;

  // Fills part.sequence and part.updates_dropped, encodes and sends. False when dropped.
  bool send(ProcessPart& part);
  bool send_final(ProcessPart& part, std::chrono::milliseconds wait);
  // The parent's reset generation, as far as it has told this sender so far (never blocks). A child
  // that sees it grow resets its own statistics before its next update.
  std::uint64_t poll_generation();
  // The socket, readable when the parent has sent something (for a thread that waits for resets).
  int fd() const noexcept { return fd_; }
  std::uint64_t sent() const noexcept { return sent_; }
  std::uint64_t dropped() const noexcept { return dropped_; }
  const std::string& address() const noexcept { return address_; }

 private:
  bool send_encoded(const std::string& bytes, std::uint64_t sequence, std::chrono::milliseconds wait);
  std::string address_;
  int fd_ = -1;
  std::int64_t pid_ = 0;
  std::uint64_t sequence_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t generation_ = 0;
};

// What a profiler has received from other processes (Profiler::process_parts_status()).
struct ProcessPartsStatus {
  std::string address;                 // empty until process_channel() was called
  std::uint64_t sources = 0;           // processes (sending profilers) heard from
  std::uint64_t updates_received = 0;  // complete updates absorbed
  std::uint64_t updates_dropped = 0;   // updates the senders could not send (their counts, summed)
  std::uint64_t updates_malformed = 0; // datagrams or updates that could not be decoded
  std::uint64_t generation = 0;        // bumped by every reset(); older parts are ignored
};

}  // namespace codeprof
