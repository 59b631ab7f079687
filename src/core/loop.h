#pragma once
// Loop: one epoll event loop, owned by one thread (a worker or the control thread), running
// the coroutines of that thread. Other threads talk to a loop only through post().
//
// File descriptors are registered once, edge-triggered, and tracked in IoState records kept in
// a slab owned by the loop; a coroutine waits for readiness with a deadline. Deadlines cost no
// timer churn: each IoState has at most one heap entry per direction, re-armed lazily when it
// fires early (the same trick nginx plays with its timer tree).

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include <sys/epoll.h>

namespace apisix::core {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
inline constexpr TimePoint kNoDeadline = TimePoint::max();

// What a wait ended with; the waiting code decides what happens next.
enum class Wait : uint8_t {
  Ready,      // the fd may be read/written now: try the operation again
  Timeout,    // the deadline passed: fail the operation with a timeout
  Cancelled,  // someone called Loop::cancel (shutdown): abandon the operation
};

class Loop;

// Readiness state of one registered fd. Owned by the Loop's slab; valid while registered.
struct IoState {
  int fd = -1;
  uint32_t index = 0;
  uint32_t generation = 0;
  bool readable = false;
  bool writable = false;
  bool peer_closed = false;  // EPOLLRDHUP/HUP seen: a read will return EOF, never wait again
  bool read_armed = false;
  bool write_armed = false;
  Wait read_result = Wait::Ready;
  Wait write_result = Wait::Ready;
  std::coroutine_handle<> reader;
  std::coroutine_handle<> writer;
  TimePoint read_deadline = kNoDeadline;
  TimePoint write_deadline = kNoDeadline;
  TimePoint read_timer_at = kNoDeadline;  // when the armed heap entry fires
  TimePoint write_timer_at = kNoDeadline;
};

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs until stop() is called (from any thread, or from a coroutine on this loop).
  void run();
  void stop();
  bool stopping() const { return stopping_; }

  // Thread-safe: runs `fn` on this loop's thread soon.
  void post(std::function<void()> fn);

  // This thread's loop while it runs, else nullptr.
  static Loop* current();
  // Loop thread only: resumes `h` from the top of the loop in this iteration, with a fresh
  // stack (see Task's final awaiter).
  void defer(std::coroutine_handle<> h) { deferred_.push_back(h); }

  // The loop's cached time, refreshed after every epoll_wait.
  TimePoint now() const { return now_; }
  void refresh_now() { now_ = Clock::now(); }

  // Registers `fd` (non-blocking) for edge-triggered read and write readiness.
  IoState* add(int fd);
  // Unregisters and invalidates `io` (does not close the fd). Waiters are not resumed.
  void remove(IoState* io);
  // Resumes any coroutine waiting on `io` with Wait::Cancelled.
  void cancel(IoState* io);

  struct ReadableAwaiter {
    Loop* loop;
    IoState* io;
    TimePoint deadline;
    bool await_ready() const noexcept { return io->readable; }
    void await_suspend(std::coroutine_handle<> h) { loop->wait_read(io, h, deadline); }
    Wait await_resume() const noexcept { return io->readable ? Wait::Ready : io->read_result; }
  };
  struct WritableAwaiter {
    Loop* loop;
    IoState* io;
    TimePoint deadline;
    bool await_ready() const noexcept { return io->writable; }
    void await_suspend(std::coroutine_handle<> h) { loop->wait_write(io, h, deadline); }
    Wait await_resume() const noexcept { return io->writable ? Wait::Ready : io->write_result; }
  };
  struct SleepAwaiter {
    Loop* loop;
    TimePoint until;
    bool await_ready() const noexcept { return until <= loop->now(); }
    void await_suspend(std::coroutine_handle<> h) { loop->add_sleeper(until, h); }
    void await_resume() const noexcept {}
  };

  // co_await loop.readable(io, deadline): wait until `io` may be read (or the deadline).
  ReadableAwaiter readable(IoState* io, TimePoint deadline) { return {this, io, deadline}; }
  WritableAwaiter writable(IoState* io, TimePoint deadline) { return {this, io, deadline}; }
  SleepAwaiter sleep_until(TimePoint until) { return {this, until}; }
  SleepAwaiter sleep_for(Clock::duration d) { return {this, now_ + d}; }

 private:
  enum class TimerKind : uint8_t { Read, Write, Sleep };
  struct TimerEntry {
    TimePoint when;
    uint32_t index;
    uint32_t generation;
    TimerKind kind;
    bool operator>(const TimerEntry& other) const { return when > other.when; }
  };
  struct Sleeper {
    uint32_t generation = 0;
    std::coroutine_handle<> handle;
  };

  void wait_read(IoState* io, std::coroutine_handle<> h, TimePoint deadline);
  void wait_write(IoState* io, std::coroutine_handle<> h, TimePoint deadline);
  void add_sleeper(TimePoint until, std::coroutine_handle<> h);
  void push_timer(TimerEntry entry);
  void run_timers();
  void run_posted();
  void run_deferred();
  int next_timeout_ms() const;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool stopping_ = false;
  TimePoint now_;

  std::vector<IoState*> slab_;
  std::vector<uint32_t> free_slots_;
  std::vector<TimerEntry> timers_;  // min-heap on `when`
  std::vector<Sleeper> sleepers_;
  std::vector<std::coroutine_handle<>> deferred_;
  std::vector<std::coroutine_handle<>> deferred_running_;
  std::vector<uint32_t> free_sleepers_;

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> running_;
  bool wake_pending_ = false;  // guarded by posted_mutex_
};

}  // namespace apisix::core
