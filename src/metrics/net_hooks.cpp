// codeprof::net: interposes the C library's socket calls so that bytes, calls and the time spent
// blocked in them are counted per thread (and per process for the sampler). Link it
// (target_link_libraries(app PRIVATE codeprof::net)) or preload its shared build
// (LD_PRELOAD=libcodeprof_net.so, e.g. for Python) to turn the counters on.
//
// Each wrapper forwards to the next definition (dlsym(RTLD_NEXT): the C library, or a sanitizer's
// interceptor in front of it) and returns its result with its errno. A descriptor is classified
// once (getsockopt SO_DOMAIN: one system call) and the class is cached per descriptor number, so a
// read or write of a file or pipe pays one relaxed byte load and a branch. The cache entry is
// forgotten when the descriptor is closed (close, fclose, dup2/dup3 over it) or created by a socket
// call, so a number reused for something else is classified again. What bypasses the C library's
// exported functions is not seen: stdio's internal reads of a FILE*, raw syscall(), a library with
// its own statically linked C library, and a descriptor closed that way keeps its class until one
// of the calls above reuses it.
// The wrappers define read, recv, ... themselves: the fortified headers' inline versions of them
// must not be in the way (the fortified entry points, __read_chk and friends, are wrapped below).
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "metrics/net_counters.hpp"

namespace {

using codeprof::metrics::NetCounters;

// initial-exec: no lazy allocation on first access, also in the preloaded shared build.
constinit thread_local __attribute__((tls_model("initial-exec"))) NetCounters tls_counters{};

struct ProcessTotals {
  std::atomic<std::int64_t> sent_bytes{0};
  std::atomic<std::int64_t> recv_bytes{0};
  std::atomic<std::int64_t> calls{0};
  std::atomic<std::int64_t> blocked_ns{0};
};
constinit ProcessTotals process_totals;

// ---------------------------------------------------------------- descriptor classes

enum Kind : std::uint8_t {
  kUnknown = 0,        // not classified yet (or forgotten): ask the kernel at the next call
  kInet = 1,           // AF_INET / AF_INET6 socket: counted
  kOther = 2,          // file, pipe, Unix-domain socket, ...: not counted
  kEpollWithInet = 3,  // an epoll instance that watches at least one internet socket
};

// Descriptors below this number are cached (64 KiB of bytes); higher ones are classified at
// every call (correct, one system call more).
constexpr int kCachedFds = 1 << 16;
constinit std::atomic<std::uint8_t> fd_kinds[kCachedFds] = {};

Kind classify(int fd) noexcept {
  int domain = 0;
  socklen_t len = sizeof domain;
  const int saved = errno;
  const int rc = ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
  const int err = errno;
  errno = saved;
  if (rc == 0) return domain == AF_INET || domain == AF_INET6 ? kInet : kOther;
  return err == ENOTSOCK ? kOther : kUnknown;  // EBADF and the like: the real call reports it
}

[[gnu::noinline]] Kind classify_and_cache(int fd) noexcept {
  const Kind k = classify(fd);
  if (fd >= 0 && fd < kCachedFds && k != kUnknown) fd_kinds[fd].store(k, std::memory_order_relaxed);
  return k;
}

// The fast path (a cached class) stays inline in every wrapper; the first call on a number asks
// the kernel out of line.
inline Kind kind_of(int fd) noexcept {
  if (fd < 0) return kUnknown;
  if (fd < kCachedFds) {
    const auto k = static_cast<Kind>(fd_kinds[fd].load(std::memory_order_relaxed));
    if (k != kUnknown) [[likely]]
      return k;
  }
  return classify_and_cache(fd);
}

inline bool counted(int fd) noexcept { return kind_of(fd) == kInet; }

inline void forget(int fd) noexcept {
  if (fd >= 0 && fd < kCachedFds) fd_kinds[fd].store(kUnknown, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- the next definitions

template <typename Fn>
Fn next_fn(const char* name) noexcept {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

// Resolved once, eagerly at load (so that a first call from a signal handler does not run dlsym),
// and again lazily if a call comes before that.
template <typename Fn>
struct Next {
  const char* name;
  std::atomic<Fn> fn{nullptr};
  Fn get() noexcept {
    Fn f = fn.load(std::memory_order_acquire);
    if (!f) {
      f = next_fn<Fn>(name);
      fn.store(f, std::memory_order_release);
    }
    return f;
  }
};

// Spelled out rather than decltype(&::read): the declarations' access attributes would be dropped
// from a template argument (a warning).
#define CODEPROF_NEXT(name, ret, ...) Next<ret (*)(__VA_ARGS__)> next_##name{#name}
CODEPROF_NEXT(read, ssize_t, int, void*, size_t);
CODEPROF_NEXT(write, ssize_t, int, const void*, size_t);
CODEPROF_NEXT(readv, ssize_t, int, const iovec*, int);
CODEPROF_NEXT(writev, ssize_t, int, const iovec*, int);
CODEPROF_NEXT(send, ssize_t, int, const void*, size_t, int);
CODEPROF_NEXT(sendto, ssize_t, int, const void*, size_t, int, const sockaddr*, socklen_t);
CODEPROF_NEXT(sendmsg, ssize_t, int, const msghdr*, int);
CODEPROF_NEXT(recv, ssize_t, int, void*, size_t, int);
CODEPROF_NEXT(recvfrom, ssize_t, int, void*, size_t, int, sockaddr*, socklen_t*);
CODEPROF_NEXT(recvmsg, ssize_t, int, msghdr*, int);
CODEPROF_NEXT(__read_chk, ssize_t, int, void*, size_t, size_t);
CODEPROF_NEXT(__recv_chk, ssize_t, int, void*, size_t, size_t, int);
CODEPROF_NEXT(__recvfrom_chk, ssize_t, int, void*, size_t, size_t, int, sockaddr*, socklen_t*);
CODEPROF_NEXT(connect, int, int, const sockaddr*, socklen_t);
CODEPROF_NEXT(accept, int, int, sockaddr*, socklen_t*);
CODEPROF_NEXT(accept4, int, int, sockaddr*, socklen_t*, int);
CODEPROF_NEXT(socket, int, int, int, int);
CODEPROF_NEXT(socketpair, int, int, int, int, int*);
CODEPROF_NEXT(close, int, int);
CODEPROF_NEXT(fclose, int, FILE*);
CODEPROF_NEXT(dup, int, int);
CODEPROF_NEXT(dup2, int, int, int);
CODEPROF_NEXT(dup3, int, int, int, int);
CODEPROF_NEXT(poll, int, pollfd*, nfds_t, int);
CODEPROF_NEXT(ppoll, int, pollfd*, nfds_t, const timespec*, const sigset_t*);
CODEPROF_NEXT(select, int, int, fd_set*, fd_set*, fd_set*, timeval*);
CODEPROF_NEXT(pselect, int, int, fd_set*, fd_set*, fd_set*, const timespec*, const sigset_t*);
CODEPROF_NEXT(epoll_ctl, int, int, int, int, epoll_event*);
CODEPROF_NEXT(epoll_wait, int, int, epoll_event*, int, int);
CODEPROF_NEXT(epoll_pwait, int, int, epoll_event*, int, int, const sigset_t*);
#undef CODEPROF_NEXT

__attribute__((constructor(101))) void resolve_all() noexcept {
  next_read.get(), next_write.get(), next_readv.get(), next_writev.get();
  next_send.get(), next_sendto.get(), next_sendmsg.get();
  next_recv.get(), next_recvfrom.get(), next_recvmsg.get();
  next___read_chk.get(), next___recv_chk.get(), next___recvfrom_chk.get();
  next_connect.get(), next_accept.get(), next_accept4.get(), next_socket.get(), next_socketpair.get();
  next_close.get(), next_fclose.get(), next_dup.get(), next_dup2.get(), next_dup3.get();
  next_poll.get(), next_ppoll.get(), next_select.get(), next_pselect.get();
  next_epoll_ctl.get(), next_epoll_wait.get(), next_epoll_pwait.get();
}

// Calls the next definition; one that could not be found fails like an unsupported call.
template <typename Fn, typename... Args>
inline auto call_next(Next<Fn>& next, Args... args) noexcept -> decltype(next.get()(args...)) {
  Fn f = next.get();
  if (!f) [[unlikely]] {
    errno = ENOSYS;
    return -1;
  }
  return f(args...);
}

// ---------------------------------------------------------------- accounting

inline std::int64_t now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no system call
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

enum class Direction { Send, Recv, None };

void account(Direction d, std::int64_t result, std::int64_t blocked_ns, bool is_call) noexcept {
  NetCounters& c = tls_counters;
  const std::int64_t bytes = result > 0 ? result : 0;
  c.blocked_ns += blocked_ns;
  process_totals.blocked_ns.fetch_add(blocked_ns, std::memory_order_relaxed);
  if (is_call) {
    c.calls += 1;
    process_totals.calls.fetch_add(1, std::memory_order_relaxed);
  }
  if (bytes == 0) return;
  if (d == Direction::Send) {
    c.sent_bytes += bytes;
    process_totals.sent_bytes.fetch_add(bytes, std::memory_order_relaxed);
  } else if (d == Direction::Recv) {
    c.recv_bytes += bytes;
    process_totals.recv_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
}

// Times `call` and counts it; errno is the call's own afterwards. Out of line, so that the
// wrappers' path for files and pipes stays a load, a branch and a tail call.
template <typename Call>
[[gnu::noinline]] auto timed(Direction d, bool is_call, Call&& call) noexcept {
  const std::int64_t start = now_ns();
  const auto result = call();
  const int saved = errno;
  account(d, static_cast<std::int64_t>(result), now_ns() - start, is_call);
  errno = saved;
  return result;
}

// A transfer on an internet socket is timed and counted; anything else goes straight to the next
// definition (a load, a branch and a tail call). The lambdas copy the arguments, so that only the
// counted path spills them.
#define CODEPROF_TRANSFER(name, direction, fd, ...)                                     \
  do {                                                                                  \
    if (!counted(fd)) [[likely]]                                                        \
      return call_next(next_##name, __VA_ARGS__);                                       \
    return timed(direction, true, [=]() noexcept { return call_next(next_##name, __VA_ARGS__); }); \
  } while (0)

// A readiness wait counts as blocked time (not as a call) when it watches an internet socket.
#define CODEPROF_WAIT(name, watches_inet, ...)                                          \
  do {                                                                                  \
    if (!(watches_inet)) [[likely]]                                                     \
      return call_next(next_##name, __VA_ARGS__);                                       \
    return timed(Direction::None, false, [=]() noexcept { return call_next(next_##name, __VA_ARGS__); }); \
  } while (0)

bool any_inet(const pollfd* fds, nfds_t n) noexcept {
  if (!fds) return false;
  for (nfds_t i = 0; i < n; ++i)
    if (counted(fds[i].fd)) return true;
  return false;
}

bool any_inet(int nfds, const fd_set* r, const fd_set* w) noexcept {
  if (nfds > FD_SETSIZE) nfds = FD_SETSIZE;
  for (int fd = 0; fd < nfds; ++fd)
    if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w))) && counted(fd)) return true;
  return false;
}

bool epoll_watches_inet(int epfd) noexcept {
  return epfd >= 0 && epfd < kCachedFds && fd_kinds[epfd].load(std::memory_order_relaxed) == kEpollWithInet;
}

}  // namespace

// ---------------------------------------------------------------- the accessors (net_counters.hpp)

extern "C" NetCounters* codeprof_net_thread_counters() noexcept { return &tls_counters; }

extern "C" void codeprof_net_process_totals(NetCounters* out) noexcept {
  out->sent_bytes = process_totals.sent_bytes.load(std::memory_order_relaxed);
  out->recv_bytes = process_totals.recv_bytes.load(std::memory_order_relaxed);
  out->calls = process_totals.calls.load(std::memory_order_relaxed);
  out->blocked_ns = process_totals.blocked_ns.load(std::memory_order_relaxed);
}

// ---------------------------------------------------------------- the wrappers

extern "C" {

ssize_t read(int fd, void* buf, size_t n) { CODEPROF_TRANSFER(read, Direction::Recv, fd, fd, buf, n); }
ssize_t write(int fd, const void* buf, size_t n) { CODEPROF_TRANSFER(write, Direction::Send, fd, fd, buf, n); }
ssize_t readv(int fd, const iovec* iov, int count) { CODEPROF_TRANSFER(readv, Direction::Recv, fd, fd, iov, count); }
ssize_t writev(int fd, const iovec* iov, int count) { CODEPROF_TRANSFER(writev, Direction::Send, fd, fd, iov, count); }
ssize_t send(int fd, const void* buf, size_t n, int flags) {
  CODEPROF_TRANSFER(send, Direction::Send, fd, fd, buf, n, flags);
}
ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* addr, socklen_t len) {
  CODEPROF_TRANSFER(sendto, Direction::Send, fd, fd, buf, n, flags, addr, len);
}
ssize_t sendmsg(int fd, const msghdr* msg, int flags) { CODEPROF_TRANSFER(sendmsg, Direction::Send, fd, fd, msg, flags); }
ssize_t recv(int fd, void* buf, size_t n, int flags) { CODEPROF_TRANSFER(recv, Direction::Recv, fd, fd, buf, n, flags); }
ssize_t recvfrom(int fd, void* __restrict buf, size_t n, int flags, sockaddr* __restrict addr,
                 socklen_t* __restrict len) {
  CODEPROF_TRANSFER(recvfrom, Direction::Recv, fd, fd, buf, n, flags, addr, len);
}
ssize_t recvmsg(int fd, msghdr* msg, int flags) { CODEPROF_TRANSFER(recvmsg, Direction::Recv, fd, fd, msg, flags); }
// What code built with _FORTIFY_SOURCE calls for a read into a buffer of known size (the C
// library checks the size, then reads).
ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  CODEPROF_TRANSFER(__read_chk, Direction::Recv, fd, fd, buf, n, buflen);
}
ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
  CODEPROF_TRANSFER(__recv_chk, Direction::Recv, fd, fd, buf, n, buflen, flags);
}
ssize_t __recvfrom_chk(int fd, void* __restrict buf, size_t n, size_t buflen, int flags, sockaddr* __restrict addr,
                       socklen_t* __restrict len) {
  CODEPROF_TRANSFER(__recvfrom_chk, Direction::Recv, fd, fd, buf, n, buflen, flags, addr, len);
}
int connect(int fd, const sockaddr* addr, socklen_t len) { CODEPROF_TRANSFER(connect, Direction::None, fd, fd, addr, len); }

// A new descriptor from a socket call is classified afresh: its number may have held anything.
static int accepted(int s) noexcept {
  forget(s);
  return s;
}
static int accept_counted(int fd, sockaddr* addr, socklen_t* len) noexcept {
  CODEPROF_TRANSFER(accept, Direction::None, fd, fd, addr, len);
}
static int accept4_counted(int fd, sockaddr* addr, socklen_t* len, int flags) noexcept {
  CODEPROF_TRANSFER(accept4, Direction::None, fd, fd, addr, len, flags);
}
int accept(int fd, sockaddr* __restrict addr, socklen_t* __restrict len) { return accepted(accept_counted(fd, addr, len)); }
int accept4(int fd, sockaddr* __restrict addr, socklen_t* __restrict len, int flags) {
  return accepted(accept4_counted(fd, addr, len, flags));
}
int socket(int domain, int type, int protocol) noexcept { return accepted(call_next(next_socket, domain, type, protocol)); }
int socketpair(int domain, int type, int protocol, int sv[2]) noexcept {
  const int rc = call_next(next_socketpair, domain, type, protocol, sv);
  if (rc == 0) forget(sv[0]), forget(sv[1]);
  return rc;
}

// Forgotten before the descriptor is released: another thread may get its number right after.
int close(int fd) {
  forget(fd);
  return call_next(next_close, fd);
}
int fclose(FILE* stream) {
  if (stream) forget(::fileno(stream));
  const int rc = call_next(next_fclose, stream);
  return rc == -1 ? EOF : rc;
}
int dup(int fd) noexcept { return accepted(call_next(next_dup, fd)); }
int dup2(int from, int to) noexcept {
  forget(to);
  return call_next(next_dup2, from, to);
}
int dup3(int from, int to, int flags) noexcept {
  forget(to);
  return call_next(next_dup3, from, to, flags);
}

// glibc declares poll's array write-only (__attr_access), although the caller fills in fd and
// events for the kernel to read; reading them here is what the kernel does too.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
int poll(pollfd* fds, nfds_t n, int timeout) { CODEPROF_WAIT(poll, any_inet(fds, n), fds, n, timeout); }
int ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  CODEPROF_WAIT(ppoll, any_inet(fds, n), fds, n, timeout, mask);
}
#pragma GCC diagnostic pop
int select(int nfds, fd_set* __restrict r, fd_set* __restrict w, fd_set* __restrict e, timeval* __restrict timeout) {
  CODEPROF_WAIT(select, any_inet(nfds, r, w), nfds, r, w, e, timeout);
}
int pselect(int nfds, fd_set* __restrict r, fd_set* __restrict w, fd_set* __restrict e,
            const timespec* __restrict timeout, const sigset_t* __restrict mask) {
  CODEPROF_WAIT(pselect, any_inet(nfds, r, w), nfds, r, w, e, timeout, mask);
}

// An epoll instance that is given an internet socket is remembered as one; its waits then count.
int epoll_ctl(int epfd, int op, int fd, epoll_event* event) noexcept {
  const int rc = call_next(next_epoll_ctl, epfd, op, fd, event);
  if (rc == 0 && op == EPOLL_CTL_ADD && epfd >= 0 && epfd < kCachedFds && counted(fd))
    fd_kinds[epfd].store(kEpollWithInet, std::memory_order_relaxed);
  return rc;
}
int epoll_wait(int epfd, epoll_event* events, int max, int timeout) {
  CODEPROF_WAIT(epoll_wait, epoll_watches_inet(epfd), epfd, events, max, timeout);
}
int epoll_pwait(int epfd, epoll_event* events, int max, int timeout, const sigset_t* mask) {
  CODEPROF_WAIT(epoll_pwait, epoll_watches_inet(epfd), epfd, events, max, timeout, mask);
}

}  // extern "C"
