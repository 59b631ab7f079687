#pragma once
// WakeEvent: lets one coroutine on a Loop sleep until another piece of code on the same loop
// says "something changed", or until a deadline. Built on an eventfd registered with the loop,
// so it reuses the loop's per-fd deadline machinery (no extra timer kind). Owned by the
// object whose waiter it wakes; loop thread only.

#include "core/loop.h"
#include "core/task.h"

namespace apisix::store {

class WakeEvent {
 public:
  explicit WakeEvent(core::Loop& loop);
  ~WakeEvent();
  WakeEvent(const WakeEvent&) = delete;
  WakeEvent& operator=(const WakeEvent&) = delete;

  bool is_valid() const { return io_ != nullptr; }
  // Wakes the waiter (now or, if none waits yet, the next wait() returns at once).
  void notify();
  // Resumes a pending wait() with Wait::Cancelled, synchronously.
  void cancel();
  // Ready after notify(); Timeout at `deadline`; Cancelled after cancel().
  core::Task<core::Wait> wait(core::TimePoint deadline);

 private:
  void drain();

  core::Loop& loop_;
  core::IoState* io_ = nullptr;
  int fd_ = -1;
  bool notified_ = false;
};

}  // namespace apisix::store
