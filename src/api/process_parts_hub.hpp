#pragma once
// The receiving end of the process-part channel, owned by a Profiler: an abstract-namespace Unix
// datagram socket, a thread that reassembles and absorbs parts as they arrive, and the absorbed
// parts that snapshot() merges. After fork() the child's copy belongs to the parent: every call
// checks the owning pid, and a child neither drains nor merges the parent's channel.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "codeprof/process_parts.hpp"

namespace codeprof::detail {

// Datagram framing shared by the sender and the hub.
struct PartDatagram {
  static constexpr std::uint32_t kMagic = 0x44505043;  // "CPPD"
  static constexpr std::uint8_t kChunk = 1;             // child -> parent: a piece of an encoded part
  static constexpr std::uint8_t kReset = 2;             // parent -> child: the parent's reset generation
  // magic (4), kind (1), spare (3), sequence (8), chunk index (4), chunk count (4), sender pid (4), spare (4)
  static constexpr std::size_t kHeaderBytes = 32;
  static constexpr std::size_t kMaxPayload = 56 * 1024; // well under the default socket buffers
};

class ProcessPartsHub {
 public:
  ProcessPartsHub();  // binds the socket and starts the receiving thread; throws std::runtime_error
  ~ProcessPartsHub();
  ProcessPartsHub(const ProcessPartsHub&) = delete;
  ProcessPartsHub& operator=(const ProcessPartsHub&) = delete;

  bool owned_by_this_process() const;
  const std::string& address() const { return address_; }

  // Reads every datagram waiting now (never blocks) and absorbs the complete parts.
  void drain();
  void absorb(ProcessPart part, const std::string& reply_to);
  // Drains, then merges every absorbed part into `snapshot`.
  void merge_into(Snapshot& snapshot);
  // Forgets the absorbed parts, bumps the generation and tells every known sender.
  void reset();
  ProcessPartsStatus status();

 private:
  struct Assembly {
    std::uint64_t sequence = 0;
    std::vector<std::string> chunks;
    std::vector<bool> have;
    std::size_t received = 0;
  };
  struct Source {
    ProcessPart part;
    std::string reply_to;
    bool has_part = false;
  };

  void receive_loop();
  void handle_datagram(const char* data, std::size_t size, const std::string& from);
  void notify_generation(const std::string& to, std::uint64_t generation);

  std::int64_t owner_pid_;
  int fd_ = -1;
  int wake_fd_ = -1;
  std::string address_;
  std::unique_ptr<std::thread> thread_;

  std::mutex drain_mutex_;                    // one reader of the socket at a time
  std::map<std::string, Assembly> assembling_;  // by sender address (drain_mutex_)

  std::mutex parts_mutex_;
  std::map<std::string, Source> sources_;  // by sender address
  std::uint64_t generation_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t malformed_ = 0;
};

}  // namespace codeprof::detail
