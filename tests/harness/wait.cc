#include "tests/harness/wait.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>
#include <thread>

namespace apisix::test {

double timeout_scale() {
  static const double scale = [] {
    const char* env = std::getenv("APISIX_TEST_TIMEOUT_SCALE");
    if (env == nullptr) {
      return 1.0;
    }
    char* end = nullptr;
    double value = std::strtod(env, &end);
    return (end != env && value >= 1.0) ? value : 1.0;
  }();
  return scale;
}

std::chrono::milliseconds scaled(std::chrono::milliseconds timeout) {
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(
      static_cast<double>(timeout.count()) * timeout_scale()));
}

Deadline deadline_in(std::chrono::milliseconds timeout) { return Clock::now() + scaled(timeout); }

int remaining_ms(Deadline deadline) {
  if (deadline == Deadline::max()) {
    return INT_MAX;
  }
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  Deadline deadline = deadline_in(timeout);
  while (true) {
    if (predicate()) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return predicate();
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(poll, deadline - Clock::now()));
  }
}

}  // namespace apisix::test
