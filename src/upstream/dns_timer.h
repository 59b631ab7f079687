#pragma once
// DnsTimer: a re-armable one-shot timer on a core::Loop for the DNS code (c-ares timeouts, cache
// refreshes). The Loop's sleeps cannot be cancelled, so the timer is a coroutine waiting on an
// eventfd with a loop deadline: arming earlier pokes the eventfd, arming later just moves the
// deadline, destroying the timer cancels the wait. Owned by one object; loop thread only.

#include <functional>
#include <memory>

#include "core/loop.h"

namespace apisix::upstream {

class DnsTimer {
 public:
  // `on_fire` runs on the loop thread when an armed deadline passes; it may re-arm the timer
  // or destroy it.
  DnsTimer(core::Loop& loop, std::function<void()> on_fire);
  ~DnsTimer();
  DnsTimer(const DnsTimer&) = delete;
  DnsTimer& operator=(const DnsTimer&) = delete;

  void arm_at(core::TimePoint when);
  void disarm();
  core::TimePoint armed_at() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// co_await yield_to(loop): resumes the coroutine from the top of the loop, on a fresh stack.
// Used where a coroutine started inside a c-ares callback must not call back into c-ares.
struct YieldToLoop {
  core::Loop* loop;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const { loop->defer(h); }
  void await_resume() const noexcept {}
};

}  // namespace apisix::upstream
