#pragma once
// Pushes codeprof scopes as NVTX ranges (domain "codeprof") so that Nsight Systems shows them.
// Built with the header-only nvtx3 when it was found at build time (CODEPROF_HAVE_NVTX3); NVTX
// calls are no-ops until a tool such as nsys injects itself.
#include <cstdint>
#include <string>

namespace codeprof::metrics {

// Empty when ranges can be pushed, else why not (built without nvtx3).
std::string nvtx_unavailable_reason();
void nvtx_push(std::uint32_t operation_id) noexcept;
void nvtx_pop() noexcept;

}  // namespace codeprof::metrics
