#pragma once
// The sampled profile in the shape the flame graph and hot-lines table of the dashboard
// (/api/profile, docs/HTTP_API.md) and of the HTML report read (web/flamegraph.js): stacks as
// operation names and frame indexes from the root, per-operation hot lines, what ran.
#include <cstddef>
#include <cstdint>
#include <string>

#include "codeprof/snapshot.hpp"

namespace codeprof::io {

// The heaviest stacks first, at most `max_stacks` of them (the rest is summed in "omitted").
std::string profile_view_json(const Snapshot& snapshot, std::size_t max_stacks = 20'000);

// The name of a sampled operation by its id; "operation#<id>" when the profile does not list it.
std::string operation_name(const SampleProfile& p, std::uint32_t id);

}  // namespace codeprof::io
