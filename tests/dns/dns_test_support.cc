#include "tests/dns/dns_test_support.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/harness/wait.h"

namespace apisix::test {

bool run_test_on_loop(core::Loop& loop, std::function<core::Task<void>()> body,
                      std::chrono::milliseconds timeout) {
  std::mutex mutex;
  std::condition_variable cv;
  bool finished = false;
  bool timed_out = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mutex);
    if (!cv.wait_for(lock, scaled(timeout), [&] { return finished; })) {
      timed_out = true;
      loop.stop();
    }
  });
  core::spawn([](core::Loop& l, std::function<core::Task<void>()> b, std::mutex& m,
                 std::condition_variable& c, bool& done) -> core::Task<void> {
    co_await b();
    {
      std::lock_guard lock(m);
      done = true;
    }
    c.notify_all();
    l.stop();
  }(loop, std::move(body), mutex, cv, finished));
  loop.run();
  watchdog.join();
  return !timed_out;
}

core::Task<bool> eventually(core::Loop& loop, std::function<bool()> predicate,
                            std::chrono::milliseconds timeout, std::chrono::milliseconds poll) {
  auto deadline = core::Clock::now() + scaled(timeout);
  while (!predicate()) {
    if (core::Clock::now() >= deadline) {
      co_return predicate();
    }
    co_await loop.sleep_for(poll);
  }
  co_return true;
}

}  // namespace apisix::test
