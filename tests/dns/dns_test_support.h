#pragma once
// Running coroutines on a core::Loop from a test, with a watchdog, and waiting for conditions
// from inside the loop (polling with loop timers, bounded by a scaled deadline).

#include <chrono>
#include <functional>
#include <optional>

#include "core/loop.h"
#include "core/task.h"

namespace apisix::test {

// Runs `body` on `loop` until it finishes; false when it did not within `timeout` (scaled).
bool run_test_on_loop(core::Loop& loop, std::function<core::Task<void>()> body,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Inside the loop: re-checks `predicate` every `poll` until it holds or `timeout` (scaled)
// passes; returns its last value.
core::Task<bool> eventually(core::Loop& loop, std::function<bool()> predicate,
                            std::chrono::milliseconds timeout,
                            std::chrono::milliseconds poll = std::chrono::milliseconds(10));

}  // namespace apisix::test
