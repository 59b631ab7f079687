#pragma once
// Task<T>: a lazily started coroutine that the caller co_awaits; on completion it transfers
// control straight back to its awaiter (symmetric transfer, no stack growth). spawn() starts a
// Task<void> that nobody awaits; its frame frees itself when it finishes.
// A Task is owned by whoever holds it; destroying an unfinished Task destroys its frame.

#include <coroutine>
#include <cstdlib>
#include <exception>
#include <optional>
#include <utility>

#include "core/frame_allocator.h"

namespace apisix::core {

class Loop;

// Counts completions handed straight to the awaiting coroutine since the loop last resumed
// something. Symmetric transfer is meant to be a tail call, but compilers do not guarantee it
// (not at -O0, not under AddressSanitizer): a loop whose awaits all complete at once would then
// nest one stack frame per iteration. Past a bound the continuation goes through the loop.
inline thread_local uint32_t tls_sync_transfers = 0;
inline constexpr uint32_t kMaxSyncTransfers = 64;
inline void reset_sync_transfers() { tls_sync_transfers = 0; }
// Defers `h` to this thread's running loop; false when no loop runs on this thread.
bool defer_to_current_loop(std::coroutine_handle<> h);

struct FramePromiseBase {
  static void* operator new(std::size_t bytes) { return allocate_frame(bytes); }
  static void operator delete(void* block, std::size_t bytes) noexcept { free_frame(block, bytes); }
};

template <typename T>
class Task;

namespace detail {

struct TaskPromiseBase : FramePromiseBase {
  std::coroutine_handle<> continuation = std::noop_coroutine();

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      std::coroutine_handle<> next = h.promise().continuation;
      if (++tls_sync_transfers > kMaxSyncTransfers && next != std::noop_coroutine() &&
          defer_to_current_loop(next)) {
        tls_sync_transfers = 0;
        return std::noop_coroutine();
      }
      return next;
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  // An exception escaping a request coroutine is a bug (STYLE.md §4): fail loudly.
  void unhandled_exception() noexcept { std::terminate(); }
};

template <typename T>
struct TaskPromise : TaskPromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <typename U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

}  // namespace detail

template <typename T = void>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() = default;
  explicit Task(Handle h) : h_(h) {}
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    h_.promise().continuation = awaiter;
    return h_;
  }
  T await_resume() {
    if constexpr (!std::is_void_v<T>) {
      return std::move(*h_.promise().value);
    }
  }

  Handle release() { return std::exchange(h_, {}); }

 private:
  void reset() {
    if (h_) {
      h_.destroy();
      h_ = {};
    }
  }
  Handle h_;
};

namespace detail {
template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

// A fire-and-forget coroutine: starts at once, frees its frame at the end.
struct Detached {
  struct promise_type : FramePromiseBase {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

inline Detached run_detached(Task<void> task) { co_await task; }
}  // namespace detail

// Starts `task` now on the current thread; it runs until its first suspension and then
// continues on whatever resumes it. Nobody can await it.
inline void spawn(Task<void> task) { detail::run_detached(std::move(task)); }

}  // namespace apisix::core
