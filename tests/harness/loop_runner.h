#pragma once

// Running coroutine tests on the project's own event loop (src/core): a test body is a
// coroutine taking the loop; run_on_loop() runs it on a fresh loop on the calling thread and
// returns when it finished (or after a minute, scaled, failing the test). Header-only: the
// harness library does not link src/core; tests that include this do.

#include <chrono>

#include <gtest/gtest.h>

#include "core/loop.h"
#include "core/task.h"
#include "tests/harness/wait.h"

// ASSERT_* returns, which a coroutine cannot: fail the test and leave the coroutine.
#define APISIX_CO_ASSERT(cond)                   \
  if (!(cond)) {                                 \
    ADD_FAILURE() << "assertion failed: " #cond; \
    co_return;                                   \
  }

namespace apisix::test {

template <typename Fn>
void run_on_loop(Fn&& fn) {
  core::Loop loop;
  bool finished = false;
  auto body = [&]() -> core::Task<void> {
    co_await fn(loop);
    finished = true;
  };
  // Stops the loop once the body finished, so no coroutine is left suspended.
  auto watchdog = [&]() -> core::Task<void> {
    auto limit = core::Clock::now() + scaled(std::chrono::seconds(60));
    while (!finished && core::Clock::now() < limit) {
      co_await loop.sleep_for(std::chrono::milliseconds(2));
    }
    loop.stop();
  };
  core::spawn(body());
  core::spawn(watchdog());
  loop.run();
  EXPECT_TRUE(finished) << "the test coroutine did not finish";
}

}  // namespace apisix::test
