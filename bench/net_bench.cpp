// Cost of codeprof::net's interposition, as ratios measured in one run. This program links
// codeprof::net, so ::read/::write/::send/::recv go through the wrappers; the baseline calls the
// very definitions the wrappers forward to (dlsym(RTLD_NEXT)), so a ratio is the wrappers' own cost.
//
//   non-socket: 64-byte write + read through a pipe, and a 4 KiB read of a cached file (the
//               wrapper's byte load and branch; the target is a ratio close to 1)
//   socket:     64-byte send + recv over a loopback TCP connection (classification cached, two
//               clock reads and the counters per call)
//
// Rounds alternate baseline and interposed (and which goes first) so that load on the machine
// hits both alike; the median of the rounds' CPU time per iteration is reported.
//   net_bench [rounds=15] [iterations=200000]
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "metrics/net_counters.hpp"

namespace {

using ReadFn = ssize_t (*)(int, void*, size_t);
using WriteFn = ssize_t (*)(int, const void*, size_t);
using SendFn = ssize_t (*)(int, const void*, size_t, int);
using RecvFn = ssize_t (*)(int, void*, size_t, int);

template <typename Fn>
Fn next(const char* name) {
  auto f = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
  if (!f) {
    std::fprintf(stderr, "net_bench: dlsym(RTLD_NEXT, %s) failed\n", name);
    std::exit(1);
  }
  return f;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::perror(what);
    std::exit(1);
  }
}

std::int64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// CPU ns per iteration of `body`, over `iterations`: this thread's CPU time (user + system), which
// preemption on a loaded machine inflates less than wall time.
template <typename Body>
double time_ns(int iterations, Body&& body) {
  const std::int64_t start = thread_cpu_ns();
  for (int i = 0; i < iterations; ++i) body();
  return static_cast<double>(thread_cpu_ns() - start) / iterations;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename Plain, typename Wrapped>
void compare(const char* name, int rounds, int iterations, Plain&& plain, Wrapped&& wrapped) {
  time_ns(iterations / 10, plain), time_ns(iterations / 10, wrapped);  // warm-up
  std::vector<double> p, w;
  for (int r = 0; r < rounds; ++r) {  // the order alternates too
    if (r % 2 == 0) {
      p.push_back(time_ns(iterations, plain));
      w.push_back(time_ns(iterations, wrapped));
    } else {
      w.push_back(time_ns(iterations, wrapped));
      p.push_back(time_ns(iterations, plain));
    }
  }
  const double mp = median(p), mw = median(w);
  std::printf("%-34s plain %8.1f ns   interposed %8.1f ns   ratio %.3f   (%+.1f ns)\n", name, mp, mw, mw / mp, mw - mp);
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 200000;
  if (!codeprof::metrics::net_counters_linked()) {
    std::fprintf(stderr, "net_bench: codeprof::net is not linked\n");
    return 1;
  }
  const auto real_read = next<ReadFn>("read");
  const auto real_write = next<WriteFn>("write");
  const auto real_send = next<SendFn>("send");
  const auto real_recv = next<RecvFn>("recv");
  char buf[4096] = {};

  int p[2];
  check(::pipe(p) == 0, "pipe");
  compare("pipe: write + read 64 B", rounds, iterations,
          [&] { real_write(p[1], buf, 64), real_read(p[0], buf, 64); },
          [&] { ::write(p[1], buf, 64), ::read(p[0], buf, 64); });

  const std::string path = "/tmp/codeprof_net_bench_" + std::to_string(::getpid());
  const int f = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  check(f >= 0, "open");
  check(::write(f, std::string(4096, 'x').data(), 4096) == 4096, "write");
  compare("file: read 4 KiB (page cache)", rounds, iterations,
          [&] { ::lseek(f, 0, SEEK_SET), real_read(f, buf, 4096); },
          [&] { ::lseek(f, 0, SEEK_SET), ::read(f, buf, 4096); });
  ::close(f);
  ::unlink(path.c_str());

  // A loopback TCP connection.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  check(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0, "bind");
  check(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0, "getsockname");
  check(::listen(listener, 1) == 0, "listen");
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(::connect(client, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0, "connect");
  const int server = ::accept(listener, nullptr, nullptr);
  check(server >= 0, "accept");
  const int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  compare("tcp loopback: send + recv 64 B", rounds, iterations / 4,
          [&] { real_send(client, buf, 64, 0), real_recv(server, buf, 64, MSG_WAITALL); },
          [&] { ::send(client, buf, 64, 0), ::recv(server, buf, 64, MSG_WAITALL); });
  ::close(client), ::close(server), ::close(listener);

  codeprof::metrics::NetCounters totals{};
  codeprof::metrics::read_net_process_totals(totals);
  std::printf("counted: %lld bytes sent, %lld received, %lld socket calls\n", static_cast<long long>(totals.sent_bytes),
              static_cast<long long>(totals.recv_bytes), static_cast<long long>(totals.calls));
  return 0;
}
