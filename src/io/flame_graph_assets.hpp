#pragma once
// The flame graph's scripts for the HTML report: d3, d3-flame-graph and web/flamegraph.js, which
// the dashboard library bundles from npm at build time. The io layer does not depend on npm: the
// dashboard library registers them when it is linked (src/server/autostart.cpp); without it the
// report shows the hot lines as a table and says how to get the flame graph.
#include <string>

namespace codeprof::io {

struct FlameGraphAssets {
  std::string script;  // d3, then d3-flame-graph, then web/flamegraph.js
  std::string style;   // d3-flame-graph's style sheet
};

using FlameGraphAssetsProvider = const FlameGraphAssets& (*)();
// `provider` is called when a report needs the assets (not during static initialisation).
// Returns the provider it replaces (nullptr: none).
FlameGraphAssetsProvider register_flame_graph_assets(FlameGraphAssetsProvider provider);
const FlameGraphAssets* flame_graph_assets();  // nullptr: not registered

}  // namespace codeprof::io
