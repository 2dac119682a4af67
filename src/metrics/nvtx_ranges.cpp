#include "metrics/nvtx_ranges.hpp"

#if defined(CODEPROF_HAVE_NVTX3)
#include <nvtx3/nvToolsExt.h>

#include <vector>

#include "metrics/site_cache.hpp"
#endif

namespace codeprof::metrics {

#if defined(CODEPROF_HAVE_NVTX3)

namespace {

nvtxDomainHandle_t domain() noexcept {
  static const nvtxDomainHandle_t d = nvtxDomainCreateA("codeprof");
  return d;
}

// Registered strings: the tool copies each name once, and a push passes a handle.
nvtxStringHandle_t registered_name(std::uint32_t id) noexcept {
  thread_local std::vector<nvtxStringHandle_t> handles;
  if (id < handles.size() && handles[id]) return handles[id];
  try {
    const CachedSite* site = cached_site(id);
    nvtxStringHandle_t h = nvtxDomainRegisterStringA(domain(), site ? site->name.c_str() : "?");
    if (id >= handles.size()) handles.resize(id + 1, nullptr);
    handles[id] = h;
    return h;
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

std::string nvtx_unavailable_reason() { return {}; }

void nvtx_push(std::uint32_t operation_id) noexcept {
  nvtxEventAttributes_t attr{};
  attr.version = NVTX_VERSION;
  attr.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  attr.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
  attr.message.registered = registered_name(operation_id);
  nvtxDomainRangePushEx(domain(), &attr);
}

void nvtx_pop() noexcept { nvtxDomainRangePop(domain()); }

#else

std::string nvtx_unavailable_reason() {
  return "built without NVTX: nvtx3/nvToolsExt.h was not found at build time (install the CUDA toolkit's "
         "nvtx3 headers and rebuild)";
}
void nvtx_push(std::uint32_t) noexcept {}
void nvtx_pop() noexcept {}

#endif

}  // namespace codeprof::metrics
