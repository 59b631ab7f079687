#pragma once

// Deadlines and condition waits for integration tests. Tests never sleep to synchronise: they
// wait for an observable condition and fail when a deadline passes.

#include <chrono>
#include <functional>

namespace apisix::test {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// Multiplier for every harness timeout, from APISIX_TEST_TIMEOUT_SCALE (default 1; sanitizer
// builds may set 3-10). Values below 1 are ignored.
double timeout_scale();

// The deadline `timeout` (scaled by timeout_scale()) from now.
Deadline deadline_in(std::chrono::milliseconds timeout);

// `timeout` scaled by timeout_scale().
std::chrono::milliseconds scaled(std::chrono::milliseconds timeout);

// Milliseconds left until `deadline` (0 when passed; capped at INT_MAX for poll()).
int remaining_ms(Deadline deadline);

// Calls `predicate` until it returns true or `timeout` (scaled) passes; re-checks every `poll`.
// Returns the last result of the predicate.
bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(10));

}  // namespace apisix::test
