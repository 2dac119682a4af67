// Data-parallel training over torch.distributed's gloo backend (c10d from C++), on the CPU, with
// every rank profiled by codeprof: the example of docs/MULTI_RANK.md.
//
// Each rank trains the same small MLP on its own shard of synthetic data and averages the
// gradients with one all-reduce per step, as DistributedDataParallel does. Ranks meet through a
// TCPStore at MASTER_ADDR:MASTER_PORT and read RANK, WORLD_SIZE and LOCAL_RANK like torchrun sets
// them, so `torchrun --nproc-per-node 4 ./ddp_gloo` style launchers work unchanged.
//
//   ./ddp_gloo --rank 0 --world-size 4 --dashboard-port 0 --port-file r0.url --output-dir out &
//   ... (ranks 1-3)
//   --plant straggler=2      rank 2's input takes 40 ms longer per step (a slow disk or busy node)
//
// Every rank stops at the same step: the stop flag (--steps, --seconds, SIGTERM/SIGINT on any
// rank) travels in the gradient all-reduce. At the end each rank writes rank<R>.json (report) and
// rank<R>.trace.json (Chrome trace) into --output-dir.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/nn/functional/loss.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <codeprof/codeprof.hpp>
#include <codeprof/dashboard.hpp>
#include <codeprof/exporters.hpp>

namespace {

using codeprof::Category;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop_requested{false};
extern "C" void on_stop_signal(int) { g_stop_requested.store(true); }

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return end && *end == '\0' ? static_cast<int>(x) : fallback;
}

std::string env_string(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

struct Options {
  int rank = env_int("RANK", 0);
  int world_size = env_int("WORLD_SIZE", 1);
  int local_rank = env_int("LOCAL_RANK", -1);
  std::string master_addr = env_string("MASTER_ADDR", "127.0.0.1");
  int master_port = env_int("MASTER_PORT", 29500);
  std::int64_t steps = 200;      // 0: until --seconds or a signal
  double seconds = 0.0;          // 0: no time limit
  std::int64_t batch_size = 64;
  std::int64_t features = 64;
  std::int64_t hidden = 128;
  std::string plant;             // "straggler=RANK[:MS]"
  std::string job_name = env_string("CODEPROF_JOB_NAME", "ddp-gloo-example");
  int dashboard_port = -1;       // -1: no dashboard; 0: any free port
  std::string port_file;         // where the dashboard's URL is written once it listens
  std::string output_dir;
  bool trace = true;
};

struct Plant {
  int straggler = -1;
  int delay_ms = 40;
};

Plant parse_plant(const std::string& text) {
  Plant p;
  if (text.empty()) return p;
  const std::string prefix = "straggler=";
  if (text.rfind(prefix, 0) != 0) throw CLI::ValidationError("--plant", "expected straggler=RANK[:MS], got '" + text + "'");
  const std::string rest = text.substr(prefix.size());
  const auto colon = rest.find(':');
  try {
    std::size_t used = 0;
    p.straggler = std::stoi(rest.substr(0, colon), &used);
    if (used != rest.substr(0, colon).size() || p.straggler < 0) throw std::invalid_argument("rank");
    if (colon != std::string::npos) {
      p.delay_ms = std::stoi(rest.substr(colon + 1), &used);
      if (used != rest.substr(colon + 1).size() || p.delay_ms < 0) throw std::invalid_argument("ms");
    }
  } catch (const std::exception&) {
    throw CLI::ValidationError("--plant", "expected straggler=RANK[:MS] with RANK and MS non-negative integers, got '" + text + "'");
  }
  return p;
}

struct MlpImpl : torch::nn::Module {
  MlpImpl(std::int64_t in, std::int64_t hidden)
      : fc1(register_module("fc1", torch::nn::Linear(in, hidden))),
        fc2(register_module("fc2", torch::nn::Linear(hidden, hidden))),
        head(register_module("head", torch::nn::Linear(hidden, 1))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    return head(torch::relu(fc2(torch::relu(fc1(x))))).squeeze(1);
  }
  torch::nn::Linear fc1, fc2, head;
};
TORCH_MODULE(Mlp);

// This rank's shard: a deterministic batch per (rank, step) from a fixed linear target.
struct Batch {
  torch::Tensor x, y;
};
Batch load_batch(const Options& o, const torch::Tensor& truth, std::int64_t step) {
  torch::manual_seed(static_cast<std::uint64_t>(o.rank) * 1'000'003ull + static_cast<std::uint64_t>(step));
  Batch b;
  b.x = torch::randn({o.batch_size, o.features});
  b.y = torch::matmul(b.x, truth) + 0.1 * torch::randn({o.batch_size});
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Data-parallel training over c10d gloo on the CPU, profiled by codeprof (docs/MULTI_RANK.md)."};
  app.add_option("--rank", o.rank, "this process's rank (default: $RANK or 0)")->check(CLI::NonNegativeNumber);
  app.add_option("--world-size", o.world_size, "number of ranks (default: $WORLD_SIZE or 1)")->check(CLI::PositiveNumber);
  app.add_option("--local-rank", o.local_rank, "rank on this node (default: $LOCAL_RANK, else the rank)");
  app.add_option("--master-addr", o.master_addr, "rank 0's address for the rendezvous (default: $MASTER_ADDR or 127.0.0.1)");
  app.add_option("--master-port", o.master_port, "rendezvous port (default: $MASTER_PORT or 29500)")->check(CLI::Range(1, 65535));
  app.add_option("--steps", o.steps, "training steps (default 200; 0: until --seconds or a signal)")->check(CLI::NonNegativeNumber);
  app.add_option("--seconds", o.seconds, "stop after this many seconds (default: no limit)")->check(CLI::NonNegativeNumber);
  app.add_option("--batch-size", o.batch_size, "examples per rank and step (default 64)")->check(CLI::PositiveNumber);
  app.add_option("--hidden", o.hidden, "hidden width of the MLP (default 128)")->check(CLI::PositiveNumber);
  app.add_option("--plant", o.plant, "straggler=RANK[:MS]: that rank's input takes MS ms (default 40) longer per step");
  app.add_option("--job-name", o.job_name, "job name in metrics and reports (default: $CODEPROF_JOB_NAME or ddp-gloo-example)");
  app.add_option("--dashboard-port", o.dashboard_port, "serve the dashboard and /metrics on this port (0: any free port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--port-file", o.port_file, "write the dashboard's URL to this file once it listens");
  app.add_option("--output-dir", o.output_dir, "write rank<R>.json and rank<R>.trace.json here at the end");
  app.add_flag("!--no-trace", o.trace, "do not record raw events for the trace (the report keeps the slowest calls)");
  CLI11_PARSE(app, argc, argv);
  Plant plant;
  try {
    plant = parse_plant(o.plant);
  } catch (const CLI::ValidationError& e) {
    std::fprintf(stderr, "ddp_gloo: %s\n", e.what());
    return 2;
  }
  if (o.rank >= o.world_size) {
    std::fprintf(stderr, "ddp_gloo: --rank %d: expected a rank below --world-size %d\n", o.rank, o.world_size);
    return 2;
  }
  if (o.local_rank < 0) o.local_rank = o.rank;
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  // Several ranks share the cores of one machine here: one thread each for libtorch.
  at::set_num_threads(1);

  codeprof::Config config = codeprof::Config::from_env();
  config.rank = o.rank;
  config.world_size = o.world_size;
  config.local_rank = o.local_rank;
  config.job_name = o.job_name;
  config.trace_enabled = o.trace;
  config.step_operation = "train_step";
  codeprof::Profiler profiler(config);
  profiler.set_thread_name("rank " + std::to_string(o.rank) + " main");
  std::optional<codeprof::Dashboard> dashboard;
  if (o.dashboard_port >= 0) {
    dashboard.emplace(profiler, codeprof::DashboardOptions{.host = config.dashboard_host,
                                                          .port = static_cast<std::uint16_t>(o.dashboard_port),
                                                          .token = config.dashboard_token});
    if (!o.port_file.empty()) {
      const std::string tmp = o.port_file + ".tmp";
      std::ofstream(tmp) << dashboard->url() << "\n";
      std::filesystem::rename(tmp, o.port_file);  // the reader sees the whole line or nothing
    }
  }

  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  {
    // One-time set-up, not a collective of the steps: kept out of multi_gpu, whose time the rank
    // comparison subtracts from the steps.
    CODEPROF_SCOPE(profiler, "rendezvous", Category::Custom);
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(o.master_port);
    store_options.isServer = o.rank == 0;
    store_options.numWorkers = o.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = std::chrono::seconds(60);
    auto store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, store_options);
    auto gloo = c10d::ProcessGroupGloo::Options::create();
    gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.master_addr));
    gloo->timeout = std::chrono::seconds(60);
    group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.world_size, gloo);
  }

  torch::manual_seed(7);  // the same initial weights and target on every rank
  Mlp model(o.features, o.hidden);
  const torch::Tensor truth = torch::randn({o.features});
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01));
  std::vector<torch::Tensor> params = model->parameters();

  const auto started = Clock::now();
  std::int64_t step = 0;
  double last_loss = 0.0;
  for (bool stop = false; !stop; ++step) {
    CODEPROF_SCOPE(profiler, "train_step", Category::TrainingLoop);
    Batch batch;
    {
      CODEPROF_SCOPE(profiler, "load_batch", Category::DataLoading);
      batch = load_batch(o, truth, step);
      if (o.rank == plant.straggler) std::this_thread::sleep_for(std::chrono::milliseconds(plant.delay_ms));
    }
    torch::Tensor loss;
    {
      CODEPROF_SCOPE(profiler, "forward", Category::ModelInference);
      loss = torch::mse_loss(model->forward(batch.x), batch.y);
    }
    {
      CODEPROF_SCOPE(profiler, "backward", Category::TrainingLoop);
      optimizer.zero_grad();
      loss.backward();
    }
    // This rank's vote to stop rides in the last element of the gradient all-reduce.
    const bool done_here = (o.steps > 0 && step + 1 >= o.steps) || g_stop_requested.load() ||
                           (o.seconds > 0 && std::chrono::duration<double>(Clock::now() - started).count() >= o.seconds);
    std::vector<torch::Tensor> pieces;
    for (const auto& p : params) pieces.push_back(p.grad().reshape({-1}));
    pieces.push_back(torch::full({1}, done_here ? 1.0f : 0.0f));
    std::vector<torch::Tensor> flat{torch::cat(pieces)};
    {
      CODEPROF_SCOPE(profiler, "allreduce_gradients", Category::MultiGpu);
      group->allreduce(flat)->wait();
    }
    {
      CODEPROF_SCOPE(profiler, "optimizer_step", Category::TrainingLoop);
      torch::NoGradGuard no_grad;
      std::int64_t offset = 0;
      for (auto& p : params) {
        const std::int64_t n = p.numel();
        p.mutable_grad().copy_(flat[0].narrow(0, offset, n).view_as(p) / static_cast<double>(o.world_size));
        offset += n;
      }
      stop = flat[0][offset].item<float>() > 0.0f;
      optimizer.step();
    }
    last_loss = loss.item<double>();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - started).count();
  std::fprintf(stderr, "ddp_gloo: rank %d: %lld steps in %.2f s, last loss %.4f\n", o.rank, static_cast<long long>(step), wall,
               last_loss);

  if (!o.output_dir.empty()) {
    const std::string base = (std::filesystem::path(o.output_dir) / ("rank" + std::to_string(o.rank))).string();
    const codeprof::Snapshot s = profiler.snapshot();
    const codeprof::Findings f = profiler.analyze();
    codeprof::io::write_file_atomic(base + ".json", codeprof::io::to_json_report(s, f));
    codeprof::io::write_file_atomic(base + ".trace.json", codeprof::io::to_chrome_trace(s));
  }
  if (dashboard) dashboard->stop();
  return 0;
}
