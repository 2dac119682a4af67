// Socket counters with codeprof::net linked into this binary: a real HTTP server on loopback that
// sends its body slowly; the fetching scope sees exactly the bytes its recv calls returned and
// spends most of its time blocked; the network-bound rule names it and not a CPU-bound operation;
// files, pipes and Unix sockets pass through the wrappers unchanged and uncounted; errno (EINTR,
// EBADF) is the call's own.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "codeprof/codeprof.hpp"
#include "metrics/net_counters.hpp"
#include "metrics/system_sampler.hpp"
#include "probe_test_util.hpp"

using namespace codeprof;
using namespace codeprof::test;

namespace {

constexpr std::size_t kChunk = 32 * 1024;
constexpr int kChunks = 8;
constexpr std::size_t kBody = kChunk * kChunks;
constexpr int kPauseMs = 15;  // between chunks: the client waits ~100 ms in recv per fetch
// The client's wait in each gap is the server's pause less the time the client spends taking the
// previous chunk in, which a loaded machine stretches: the floor grants it a pause's worth in all.
constexpr std::int64_t kBlockedFloorNs = (kChunks - 2) * kPauseMs * 1'000'000LL;

// An HTTP server on 127.0.0.1 whose /shard sends kBody bytes in kChunks pieces, pausing between
// them, like a slow object store.
class SlowServer {
 public:
  SlowServer() {
    server_.Get("/shard", [](const httplib::Request&, httplib::Response& res) {
      res.set_content_provider(kBody, "application/octet-stream",
                               [](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                 if (offset > 0) std::this_thread::sleep_for(std::chrono::milliseconds(kPauseMs));
                                 const std::string piece(kChunk, static_cast<char>('a' + offset / kChunk));
                                 return sink.write(piece.data(), piece.size());
                               });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~SlowServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct Fetch {
  std::string response;  // every byte the recv calls returned
  std::int64_t request_bytes = 0;
  std::int64_t recv_calls = 0;
};

// A plain HTTP/1.1 client on the socket API: one write() of the request, recv() until EOF.
Fetch fetch_raw(int port) {
  Fetch f;
  const int fd = connect_loopback(port);
  if (fd < 0) throw std::runtime_error("cannot connect to the test server");
  const std::string request = "GET /shard HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size()))
    throw std::runtime_error("short write of the request");
  f.request_bytes = static_cast<std::int64_t>(request.size());
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ++f.recv_calls;
    if (n <= 0) break;
    f.response.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return f;
}

std::size_t body_size(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? 0 : response.size() - end - 4;
}

metrics::NetCounters now() { return *metrics::thread_net_counters(); }

std::uint32_t op(const char* name) { return register_site(name, Category::DataLoading).id; }

Config network_config() {
  Config c = metrics_config();
  c.metrics.network = true;
  return c;
}

}  // namespace

TEST(NetCounters, LinkedMeansAvailable) {
  ASSERT_TRUE(metrics::net_counters_linked());
  metrics::ProbeSet probes(network_config());
  EXPECT_TRUE(probes.any());
  EXPECT_FALSE(has_unavailable(probes.unavailable(), "network"));
}

TEST(NetCounters, SlowHttpFetchHasExactBytesAndIsMostlyBlocked) {
  SlowServer server;
  metrics::ProbeSet probes(network_config());
  Fetch f;
  const auto start = std::chrono::steady_clock::now();
  const ProbeDeltas d = measure(probes, op("net.fetch_shard"), [&] { f = fetch_raw(server.port()); });
  const auto elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();

  ASSERT_EQ(body_size(f.response), kBody);
  EXPECT_EQ(d.get(ProbeMetric::NetRecvBytes), static_cast<std::int64_t>(f.response.size()));
  EXPECT_EQ(d.get(ProbeMetric::NetSentBytes), f.request_bytes);
  EXPECT_EQ(d.get(ProbeMetric::NetCalls), 1 + 1 + f.recv_calls);  // connect, write, the recvs
  // The server pauses 7 x 15 ms while the client sits in recv: most of the scope is blocked.
  EXPECT_GE(d.get(ProbeMetric::NetBlockedNs), kBlockedFloorNs);
  EXPECT_LE(d.get(ProbeMetric::NetBlockedNs), elapsed_ns);
  EXPECT_GT(static_cast<double>(d.get(ProbeMetric::NetBlockedNs)) / static_cast<double>(elapsed_ns), 0.5);
}

TEST(NetCounters, SharedLibraryCallsAreSeen) {
  // cpp-httplib is a shared library here: its send/recv reach the wrappers exported by this binary.
  SlowServer server;
  const metrics::NetCounters before = now();
  httplib::Client client("127.0.0.1", server.port());
  const auto res = client.Get("/shard");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->body.size(), kBody);
  const metrics::NetCounters after = now();
  EXPECT_GE(after.recv_bytes - before.recv_bytes, static_cast<std::int64_t>(kBody));
  EXPECT_GT(after.sent_bytes - before.sent_bytes, 0);
  EXPECT_GE(after.blocked_ns - before.blocked_ns, kBlockedFloorNs);
}

TEST(NetCounters, FilesPipesAndUnixSocketsPassThroughUncounted) {
  const std::string src = temp_path("net_src"), dst = temp_path("net_dst");
  std::vector<char> data(3 * 1024 * 1024 + 77);
  std::mt19937 rng(42);
  for (char& c : data) c = static_cast<char>(rng());
  const metrics::NetCounters before = now();
  {
    const int fd = ::open(src.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    for (std::size_t off = 0; off < data.size();) {
      const ssize_t n = ::write(fd, data.data() + off, std::min<std::size_t>(4099, data.size() - off));
      ASSERT_GT(n, 0);
      off += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  // Copy file -> pipe -> file with read/write, and through a Unix socketpair with send/recv.
  int pipefd[2], pair[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  std::thread pump([&] {
    const int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
    char buf[8191];
    for (ssize_t n; (n = ::read(in, buf, sizeof buf)) > 0;) {
      for (ssize_t off = 0; off < n;) off += ::write(pipefd[1], buf + off, static_cast<std::size_t>(n - off));
    }
    ::close(in);
    ::close(pipefd[1]);
  });
  std::thread relay([&] {
    char buf[5000];
    for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;)
      for (ssize_t off = 0; off < n;) off += ::send(pair[0], buf + off, static_cast<std::size_t>(n - off), 0);
    ::shutdown(pair[0], SHUT_WR);
  });
  const int out = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(out, 0);
  char buf[6007];
  for (ssize_t n; (n = ::recv(pair[1], buf, sizeof buf, 0)) > 0;) ASSERT_EQ(::write(out, buf, static_cast<std::size_t>(n)), n);
  ::close(out);
  pump.join();
  relay.join();
  ::close(pipefd[0]), ::close(pair[0]), ::close(pair[1]);

  std::vector<char> copy(data.size() + 1);
  const int in = ::open(dst.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(in, 0);
  std::size_t got = 0;
  for (ssize_t n; (n = ::read(in, copy.data() + got, copy.size() - got)) > 0;) got += static_cast<std::size_t>(n);
  ::close(in);
  ASSERT_EQ(got, data.size());
  EXPECT_EQ(std::memcmp(copy.data(), data.data(), data.size()), 0);
  const metrics::NetCounters after = now();
  EXPECT_EQ(after.sent_bytes, before.sent_bytes);
  EXPECT_EQ(after.recv_bytes, before.recv_bytes);
  EXPECT_EQ(after.calls, before.calls);
  EXPECT_EQ(after.blocked_ns, before.blocked_ns);
  std::remove(src.c_str());
  std::remove(dst.c_str());
}

TEST(NetCounters, ErrnoIsTheCallsOwn) {
  // A successful read leaves errno alone (the classification's getsockopt fails with ENOTSOCK).
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  errno = 12345;
  char c = 0;
  ASSERT_EQ(::read(p[0], &c, 1), 1);
  EXPECT_EQ(errno, 12345);
  ::close(p[0]), ::close(p[1]);
  // A closed descriptor: EBADF from the call, whatever the classifier saw.
  errno = 0;
  EXPECT_EQ(::read(p[0], &c, 1), -1);
  EXPECT_EQ(errno, EBADF);
  errno = 0;
  EXPECT_EQ(::recv(p[0], &c, 1, 0), -1);
  EXPECT_EQ(errno, EBADF);
  // A file descriptor number reused by a socket is classified again.
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  const metrics::NetCounters before = now();
  errno = 0;
  EXPECT_EQ(::recv(s, &c, 1, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(now().calls - before.calls, 1);
  ::close(s);
}

// What code built with _FORTIFY_SOURCE calls instead of read/recv/recvfrom for a buffer of known size.
extern "C" ssize_t __read_chk(int, void*, size_t, size_t);
extern "C" ssize_t __recv_chk(int, void*, size_t, size_t, int);
extern "C" ssize_t __recvfrom_chk(int, void*, size_t, size_t, int, sockaddr*, socklen_t*);

TEST(NetCounters, FortifiedReadsAreCounted) {
  int pair[2];
  // A TCP connection over loopback: a listener, a client and the accepted end.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  pair[0] = connect_loopback(ntohs(addr.sin_port));
  pair[1] = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(pair[0], 0);
  ASSERT_GE(pair[1], 0);
  ASSERT_EQ(::send(pair[0], "0123456789", 10, 0), 10);
  char buf[16];
  const metrics::NetCounters before = now();
  ASSERT_EQ(__recv_chk(pair[1], buf, 3, sizeof buf, MSG_WAITALL), 3);
  ASSERT_EQ(__read_chk(pair[1], buf, 3, sizeof buf), 3);
  ASSERT_EQ(__recvfrom_chk(pair[1], buf, 4, sizeof buf, MSG_WAITALL, nullptr, nullptr), 4);
  const metrics::NetCounters after = now();
  EXPECT_EQ(std::string(buf, 4), "6789");
  EXPECT_EQ(after.recv_bytes - before.recv_bytes, 10);
  EXPECT_EQ(after.calls - before.calls, 3);
  ::close(pair[0]), ::close(pair[1]), ::close(listener);
}

namespace {
std::atomic<int> interrupts{0};
void on_signal(int) { interrupts.fetch_add(1); }
}  // namespace

TEST(NetCounters, InterruptedRecvReturnsEintrAndIsCounted) {
  struct sigaction sa{}, old{};
  sa.sa_handler = on_signal;  // no SA_RESTART: a blocked recv returns EINTR
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  const int client = connect_loopback(ntohs(addr.sin_port));
  ASSERT_GE(client, 0);
  const int served = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(served, 0);

  std::atomic<bool> done{false};
  ssize_t rc = 0;
  int err = 0;
  std::int64_t calls = 0;
  std::thread reader([&] {
    const metrics::NetCounters before = now();
    char c;
    rc = ::recv(client, &c, 1, 0);  // nobody sends: only a signal ends it
    err = errno;
    calls = now().calls - before.calls;
    done = true;
  });
  // The signal may come before recv blocks; send it until the call has returned.
  while (!done) {
    ::pthread_kill(reader.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reader.join();
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(err, EINTR);
  EXPECT_EQ(calls, 1);
  EXPECT_GE(interrupts.load(), 1);
  ::close(client), ::close(served), ::close(listener);
  ::sigaction(SIGUSR1, &old, nullptr);
}

TEST(NetCounters, PollOnASocketCountsAsBlockedNotAsACall) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  const metrics::NetCounters before = now();
  pollfd p{s, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 30), 0);  // nothing arrives: the timeout (at least 30 ms) passes
  const metrics::NetCounters after = now();
  EXPECT_GE(after.blocked_ns - before.blocked_ns, 30'000'000);
  EXPECT_EQ(after.calls, before.calls);
  // A pipe's poll is not network time.
  int pp[2];
  ASSERT_EQ(::pipe(pp), 0);
  pollfd q{pp[0], POLLIN, 0};
  EXPECT_EQ(::poll(&q, 1, 5), 0);
  EXPECT_EQ(now().blocked_ns, after.blocked_ns);
  ::close(pp[0]), ::close(pp[1]), ::close(s);
}

TEST(NetCounters, ProfilerReportsTheFetchAndTheRuleNamesIt) {
  SlowServer server;
  Config c = network_config();
  c.metrics.cpu = true;
  Profiler p(c);
  std::int64_t received = 0;
  for (int i = 0; i < 2; ++i) {
    {
      auto s = p.profile_operation("fetch_shard", Category::DataLoading);
      received += static_cast<std::int64_t>(fetch_raw(server.port()).response.size());
    }
    {
      auto s = p.profile_operation("decode_shard", Category::Preprocessing);
      burn_cpu(60'000'000);
    }
  }
  const Snapshot s = p.snapshot();
  const OperationStats* fetch = s.find("fetch_shard");
  const OperationStats* decode = s.find("decode_shard");
  ASSERT_NE(fetch, nullptr);
  ASSERT_NE(decode, nullptr);
  EXPECT_EQ(fetch->resource(ProbeMetric::NetRecvBytes).samples, 2u);
  EXPECT_EQ(fetch->resource(ProbeMetric::NetRecvBytes).total, received);
  EXPECT_EQ(decode->resource(ProbeMetric::NetRecvBytes).total, 0);
  EXPECT_EQ(decode->resource(ProbeMetric::NetBlockedNs).total, 0);

  const auto recs = p.get_performance_recommendations();
  int fired = 0;
  for (const Recommendation& r : recs)
    if (r.id == "network-bound") {
      ++fired;
      EXPECT_NE(r.title.find("fetch_shard"), std::string::npos) << r.title;
      EXPECT_EQ(r.title.find("decode_shard"), std::string::npos) << r.title;
      EXPECT_NE(r.evidence_text.find("network_blocked_share"), std::string::npos) << r.evidence_text;
    }
  EXPECT_EQ(fired, 1);
}

TEST(NetCounters, SamplerRatesAddUpToTheProcessTraffic) {
  SlowServer server;
  Config c = metrics_config();
  c.sampler_interval_ms = 10;
  const std::int64_t origin =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  metrics::SystemSampler sampler(c, origin);
  metrics::NetCounters before{};
  ASSERT_TRUE(metrics::read_net_process_totals(before));
  sampler.start();
  const Fetch f = fetch_raw(server.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(6));  // past sample_now's minimum gap
  sampler.sample_now();
  sampler.stop();
  metrics::NetCounters after{};
  ASSERT_TRUE(metrics::read_net_process_totals(after));
  // The process received the response (client) and the request (server thread).
  EXPECT_EQ(after.recv_bytes - before.recv_bytes, static_cast<std::int64_t>(f.response.size()) + f.request_bytes);

  const auto series = sampler.series();
  const TimelineSeries* recv = nullptr;
  const TimelineSeries* rss = nullptr;
  for (const auto& t : series) {
    if (t.name == "net_recv_bytes_per_s") recv = &t;
    if (t.name == "rss_bytes") rss = &t;
  }
  ASSERT_NE(recv, nullptr);
  ASSERT_NE(rss, nullptr);
  EXPECT_EQ(recv->unit, "bytes_per_second");
  ASSERT_GE(recv->values.size(), 2u);
  // Rates times intervals add up to the bytes (the first interval starts at the start-up levels).
  double bytes = 0.0;
  std::int64_t previous = rss->t_ns.front();
  for (std::size_t i = 0; i < recv->values.size(); ++i) {
    bytes += recv->values[i] * static_cast<double>(recv->t_ns[i] - previous) * 1e-9;
    previous = recv->t_ns[i];
  }
  EXPECT_NEAR(bytes, static_cast<double>(after.recv_bytes - before.recv_bytes), 1.0);
}
