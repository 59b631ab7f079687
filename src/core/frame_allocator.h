#pragma once
// Per-thread free lists for coroutine frames. Every connection and request runs as a chain of
// coroutines; recycling their frames per thread keeps the steady state free of malloc calls.
// A frame freed on another thread than the one that allocated it simply joins that thread's
// list (all blocks come from operator new, so any list may hold any block of its class).

#include <cstddef>

namespace apisix::core {

void* allocate_frame(std::size_t bytes);
void free_frame(void* block, std::size_t bytes) noexcept;

}  // namespace apisix::core
