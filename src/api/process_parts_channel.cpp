// The process-part channel: ProcessPartSender (child side) and ProcessPartsHub (parent side) over
// an abstract-namespace Unix datagram socket. Datagrams keep message boundaries, a non-blocking
// send either queues a whole datagram or fails at once (so the child never waits and never writes
// half a message), and an encoded part larger than one datagram travels as numbered chunks.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "api/process_parts_hub.hpp"

namespace codeprof {
namespace {

using detail::PartDatagram;
using Clock = std::chrono::steady_clock;

// "@name" is the abstract socket "\0name" (the spelling `ss` uses); anything else is a path.
socklen_t to_sockaddr(const std::string& address, sockaddr_un& out) {
  std::memset(&out, 0, sizeof out);
  out.sun_family = AF_UNIX;
  if (address.empty() || address.size() >= sizeof out.sun_path)
    throw std::runtime_error("codeprof: process channel address '" + address + "' is empty or too long");
  std::memcpy(out.sun_path, address.data(), address.size());
  if (address[0] == '@') out.sun_path[0] = '\0';
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
}

std::string from_sockaddr(const sockaddr_un& addr, socklen_t length) {
  const auto offset = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
  if (length <= offset) return {};
  std::string s(addr.sun_path, static_cast<std::size_t>(length - offset));
  if (!s.empty() && s[0] == '\0') s[0] = '@';
  while (!s.empty() && s.back() == '\0' && s[0] != '@') s.pop_back();
  return s;
}

void put_u32(char* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
void put_u64(char* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
std::uint32_t get_u32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Socket buffers as large as the system allows (unprivileged: up to net.core.*mem_max; root may
// force more), so bursts of chunks fit.
void enlarge_buffer(int fd, int force_option, int option) {
  const int bytes = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) != 0)
    setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
}

std::atomic<std::uint64_t> g_hub_counter{0};

}  // namespace

// ------------------------------------------------------------------ sender

ProcessPartSender::ProcessPartSender(std::string address) : address_(std::move(address)), pid_(::getpid()) {
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw std::runtime_error("codeprof: cannot create a process-part socket: " + std::string(std::strerror(errno)));
  // An autobound (abstract, kernel-chosen) address, so the parent can answer with its generation.
  sockaddr_un self{};
  self.sun_family = AF_UNIX;
  sockaddr_un peer{};
  const socklen_t peer_length = to_sockaddr(address_, peer);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&self), sizeof(sa_family_t)) != 0 ||
      ::connect(fd_, reinterpret_cast<sockaddr*>(&peer), peer_length) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("codeprof: cannot reach the parent's process channel " + address_ + ": " + why);
  }
  enlarge_buffer(fd_, SO_SNDBUFFORCE, SO_SNDBUF);
}

ProcessPartSender::~ProcessPartSender() {
  if (fd_ >= 0) ::close(fd_);
}

bool ProcessPartSender::send(ProcessPart& part) {
  part.sequence = ++sequence_;
  part.updates_dropped = dropped_;
  if (part.pid == 0) part.pid = pid_;
  return send_encoded(encode_process_part(part), part.sequence, std::chrono::milliseconds(0));
}

bool ProcessPartSender::send_final(ProcessPart& part, std::chrono::milliseconds wait) {
  part.sequence = ++sequence_;
  part.updates_dropped = dropped_;
  if (part.pid == 0) part.pid = pid_;
  return send_encoded(encode_process_part(part), part.sequence, wait);
}

bool ProcessPartSender::send_encoded(const std::string& bytes, std::uint64_t sequence, std::chrono::milliseconds wait) {
  const std::size_t count = std::max<std::size_t>(1, (bytes.size() + PartDatagram::kMaxPayload - 1) / PartDatagram::kMaxPayload);
  const auto deadline = Clock::now() + wait;
  std::string datagram;
  for (std::size_t index = 0; index < count; ++index) {
    const std::size_t offset = index * PartDatagram::kMaxPayload;
    const std::size_t n = std::min(PartDatagram::kMaxPayload, bytes.size() - offset);
    datagram.assign(PartDatagram::kHeaderBytes, '\0');
    put_u32(datagram.data(), PartDatagram::kMagic);
    datagram[4] = static_cast<char>(PartDatagram::kChunk);
    put_u64(datagram.data() + 8, sequence);
    put_u32(datagram.data() + 16, static_cast<std::uint32_t>(index));
    put_u32(datagram.data() + 20, static_cast<std::uint32_t>(count));
    put_u32(datagram.data() + 24, static_cast<std::uint32_t>(pid_));
    datagram.append(bytes, offset, n);
    for (;;) {
      if (::send(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) break;
      if (errno == EINTR) continue;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if ((errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) && left > 0) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 50)));
        continue;
      }
      ++dropped_;  // full queue, or the parent is gone: this update is lost, the next one carries it
      return false;
    }
  }
  ++sent_;
  return true;
}

std::uint64_t ProcessPartSender::poll_generation() {
  char buffer[64];
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (static_cast<std::size_t>(n) >= 16 && get_u32(buffer) == PartDatagram::kMagic &&
        static_cast<std::uint8_t>(buffer[4]) == PartDatagram::kReset)
      generation_ = std::max(generation_, get_u64(buffer + 8));
  }
  return generation_;
}

// ------------------------------------------------------------------ hub

namespace detail {

ProcessPartsHub::ProcessPartsHub() : owner_pid_(::getpid()) {
  address_ = "@codeprof-" + std::to_string(owner_pid_) + "-" + std::to_string(g_hub_counter.fetch_add(1)) + "-" +
             std::to_string(Clock::now().time_since_epoch().count() & 0xFFFFFF);
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw std::runtime_error("codeprof: cannot create the process channel: " + std::string(std::strerror(errno)));
  sockaddr_un addr{};
  const socklen_t length = to_sockaddr(address_, addr);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), length) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("codeprof: cannot bind the process channel " + address_ + ": " + why);
  }
  enlarge_buffer(fd_, SO_RCVBUFFORCE, SO_RCVBUF);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::make_unique<std::thread>([this] { receive_loop(); });
}

ProcessPartsHub::~ProcessPartsHub() {
  if (!owned_by_this_process()) {
    // A fork()ed child's copy: the thread belongs to the parent and never ran here.
    (void)thread_.release();
    return;
  }
  const std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
  }
  if (thread_ && thread_->joinable()) thread_->join();
  ::close(wake_fd_);
  ::close(fd_);
}

bool ProcessPartsHub::owned_by_this_process() const { return owner_pid_ == ::getpid(); }

void ProcessPartsHub::receive_loop() {
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (fds[0].revents & POLLIN) drain();
  }
}

void ProcessPartsHub::drain() {
  if (!owned_by_this_process()) return;
  std::lock_guard lock(drain_mutex_);
  std::string buffer(PartDatagram::kHeaderBytes + PartDatagram::kMaxPayload + 1024, '\0');
  for (;;) {
    sockaddr_un from{};
    socklen_t from_length = sizeof from;
    const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: nothing more waiting now
    }
    if (static_cast<std::size_t>(n) > buffer.size()) {
      std::lock_guard plock(parts_mutex_);
      ++malformed_;
      continue;
    }
    handle_datagram(buffer.data(), static_cast<std::size_t>(n), from_sockaddr(from, from_length));
  }
}

void ProcessPartsHub::handle_datagram(const char* data, std::size_t size, const std::string& from) {
  if (size < PartDatagram::kHeaderBytes || get_u32(data) != PartDatagram::kMagic ||
      static_cast<std::uint8_t>(data[4]) != PartDatagram::kChunk) {
    std::lock_guard lock(parts_mutex_);
    ++malformed_;
    return;
  }
  const std::uint64_t sequence = get_u64(data + 8);
  const std::uint32_t index = get_u32(data + 16);
  const std::uint32_t count = get_u32(data + 20);
  if (count == 0 || index >= count || count > 4096) {
    std::lock_guard lock(parts_mutex_);
    ++malformed_;
    return;
  }
  // By socket and process: an address the kernel hands out again later belongs to another sender.
  const std::string key = from + "/" + std::to_string(get_u32(data + 24));
  Assembly& a = assembling_[key];
  if (sequence < a.sequence) return;  // a late piece of an update already superseded
  if (sequence > a.sequence || a.chunks.size() != count) {
    a.sequence = sequence;  // a newer update: an unfinished older one is abandoned
    a.chunks.assign(count, std::string());
    a.have.assign(count, false);
    a.received = 0;
  }
  if (a.have[index]) return;
  a.chunks[index].assign(data + PartDatagram::kHeaderBytes, size - PartDatagram::kHeaderBytes);
  a.have[index] = true;
  if (++a.received < count) return;
  std::string bytes;
  for (const auto& c : a.chunks) bytes += c;
  assembling_.erase(key);
  try {
    absorb(decode_process_part(bytes), from);
  } catch (const ProcessPartError&) {
    std::lock_guard lock(parts_mutex_);
    ++malformed_;
  }
}

void ProcessPartsHub::notify_generation(const std::string& to, std::uint64_t generation) {
  if (to.empty()) return;
  char message[16] = {};
  put_u32(message, PartDatagram::kMagic);
  message[4] = static_cast<char>(PartDatagram::kReset);
  put_u64(message + 8, generation);
  sockaddr_un addr{};
  try {
    const socklen_t length = to_sockaddr(to, addr);
    // Best effort: a child that misses it is told again with its next (stale) part.
    ::sendto(fd_, message, sizeof message, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), length);
  } catch (const std::runtime_error&) {
  }
}

void ProcessPartsHub::absorb(ProcessPart part, const std::string& reply_to) {
  std::uint64_t stale_generation = 0;
  bool stale = false;
  {
    std::lock_guard lock(parts_mutex_);
    Source& source = sources_[part.source];
    if (!reply_to.empty()) source.reply_to = reply_to;
    if (part.generation < generation_) {
      stale = true;  // recorded before our last reset: the child must reset first
      stale_generation = generation_;
    } else if (!source.has_part || part.sequence > source.part.sequence) {
      source.part = std::move(part);
      source.has_part = true;
      ++received_;
    }
  }
  if (stale) notify_generation(reply_to, stale_generation);
}

void ProcessPartsHub::merge_into(Snapshot& snapshot) {
  if (!owned_by_this_process()) return;
  drain();
  std::vector<const Source*> ordered;
  std::lock_guard lock(parts_mutex_);
  std::uint64_t dropped = 0;
  for (const auto& [key, source] : sources_) {
    if (!source.has_part) continue;
    ordered.push_back(&source);
    dropped += source.part.updates_dropped;
  }
  // Deterministic order: by process id, then label.
  std::sort(ordered.begin(), ordered.end(), [](const Source* a, const Source* b) {
    return std::tie(a->part.pid, a->part.label) < std::tie(b->part.pid, b->part.label);
  });
  for (const Source* s : ordered) merge_process_part(snapshot, s->part.snapshot, s->part.label);
  if (!ordered.empty()) {
    snapshot.run.metadata["process_parts.sources"] = std::to_string(ordered.size());
    snapshot.run.metadata["process_parts.updates_dropped"] = std::to_string(dropped);
  }
}

void ProcessPartsHub::reset() {
  if (!owned_by_this_process()) return;
  std::vector<std::string> notify;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(parts_mutex_);
    generation = ++generation_;
    for (auto& [key, source] : sources_) {
      notify.push_back(source.reply_to);
      source.has_part = false;
      source.part = ProcessPart{};
    }
  }
  for (const auto& to : notify) notify_generation(to, generation);
}

ProcessPartsStatus ProcessPartsHub::status() {
  ProcessPartsStatus s;
  s.address = address_;
  std::lock_guard lock(parts_mutex_);
  for (const auto& [key, source] : sources_) {
    if (!source.has_part) continue;
    ++s.sources;
    s.updates_dropped += source.part.updates_dropped;
  }
  s.updates_received = received_;
  s.updates_malformed = malformed_;
  s.generation = generation_;
  return s;
}

}  // namespace detail
}  // namespace codeprof
