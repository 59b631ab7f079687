#pragma once

// Test support for ConfigStore tests: a core::Loop running on its own thread, so test bodies
// stay synchronous (and may use ASSERT_*). Every call posts work to the loop thread and blocks
// until it is done. Store objects are created, used and destroyed on the loop thread only.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>

#include "core/loop.h"
#include "core/task.h"
#include "tests/harness/wait.h"

namespace apisix::test {

template <typename>
struct TaskValue;
template <typename T>
struct TaskValue<core::Task<T>> {
  using type = T;
};

class LoopThread {
 public:
  LoopThread() : thread_([this] { loop_.run(); }) {}
  ~LoopThread() {
    loop_.stop();
    thread_.join();
  }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  core::Loop& loop() { return loop_; }

  // Calls `make` on the loop thread; it returns a Task (which must not depend on `make`
  // staying alive); waits for the task's value.
  template <typename F>
  typename TaskValue<std::invoke_result_t<F&>>::type run(
      F make, std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    using T = typename TaskValue<std::invoke_result_t<F&>>::type;
    auto out = std::make_shared<std::promise<T>>();
    auto future = out->get_future();
    loop_.post([out, make = std::move(make)]() mutable { core::spawn(drive<T>(make(), out)); });
    wait_or_abort(future, timeout);
    return future.get();
  }

  // Runs a plain function on the loop thread and waits for it.
  void invoke(std::function<void()> fn) {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    loop_.post([done, fn = std::move(fn)] {
      fn();
      done->set_value();
    });
    wait_or_abort(future, std::chrono::seconds(60));
    future.get();
  }

 private:
  template <typename T>
  static core::Task<void> drive(core::Task<T> task, std::shared_ptr<std::promise<T>> out) {
    out->set_value(co_await task);
  }
  template <typename Future>
  static void wait_or_abort(Future& future, std::chrono::milliseconds timeout) {
    if (future.wait_for(scaled(timeout)) != std::future_status::ready) {
      std::fprintf(stderr, "store operation did not finish in time\n");
      std::abort();  // the loop still references the waiting state: no clean way out
    }
  }

  core::Loop loop_;
  std::thread thread_;
};

}  // namespace apisix::test
