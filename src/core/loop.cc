#include "core/loop.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include <sys/eventfd.h>
#include <unistd.h>

#include "core/task.h"

namespace apisix::core {
namespace {

constexpr uint64_t kWakeTag = ~uint64_t{0};

thread_local Loop* tls_current_loop = nullptr;

uint64_t tag_of(const IoState* io) {
  return (static_cast<uint64_t>(io->generation) << 32) | io->index;
}

}  // namespace

Loop::Loop() : now_(Clock::now()) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    throw std::runtime_error(std::string("event loop setup failed: ") + std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

Loop::~Loop() {
  for (IoState* io : slab_) {
    delete io;
  }
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

IoState* Loop::add(int fd) {
  IoState* io;
  if (!free_slots_.empty()) {
    io = slab_[free_slots_.back()];
    free_slots_.pop_back();
  } else {
    io = new IoState();
    io->index = static_cast<uint32_t>(slab_.size());
    slab_.push_back(io);
  }
  uint32_t index = io->index;
  uint32_t generation = io->generation + 1;
  *io = IoState{};
  io->index = index;
  io->generation = generation;
  io->fd = fd;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = tag_of(io);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    io->fd = -1;
    ++io->generation;
    free_slots_.push_back(io->index);
    return nullptr;
  }
  return io;
}

void Loop::remove(IoState* io) {
  if (io == nullptr || io->fd < 0) {
    return;
  }
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, io->fd, nullptr);
  io->fd = -1;
  io->reader = {};
  io->writer = {};
  ++io->generation;  // stale epoll events and timer entries now miss
  free_slots_.push_back(io->index);
}

void Loop::cancel(IoState* io) {
  if (auto h = std::exchange(io->reader, {})) {
    io->read_result = Wait::Cancelled;
    h.resume();
  }
  if (auto h = std::exchange(io->writer, {})) {
    io->write_result = Wait::Cancelled;
    h.resume();
  }
}

Loop* Loop::current() { return tls_current_loop; }

// A wait re-uses the heap entry armed by an earlier wait when that fires no later than the
// new deadline (it re-arms itself on firing early); a shorter deadline needs its own entry.
void Loop::wait_read(IoState* io, std::coroutine_handle<> h, TimePoint deadline) {
  io->reader = h;
  io->read_result = Wait::Ready;
  io->read_deadline = deadline;
  if (deadline != kNoDeadline && (!io->read_armed || deadline < io->read_timer_at)) {
    io->read_armed = true;
    io->read_timer_at = deadline;
    push_timer({deadline, io->index, io->generation, TimerKind::Read});
  }
}

void Loop::wait_write(IoState* io, std::coroutine_handle<> h, TimePoint deadline) {
  io->writer = h;
  io->write_result = Wait::Ready;
  io->write_deadline = deadline;
  if (deadline != kNoDeadline && (!io->write_armed || deadline < io->write_timer_at)) {
    io->write_armed = true;
    io->write_timer_at = deadline;
    push_timer({deadline, io->index, io->generation, TimerKind::Write});
  }
}

void Loop::add_sleeper(TimePoint until, std::coroutine_handle<> h) {
  uint32_t slot;
  if (!free_sleepers_.empty()) {
    slot = free_sleepers_.back();
    free_sleepers_.pop_back();
  } else {
    slot = static_cast<uint32_t>(sleepers_.size());
    sleepers_.emplace_back();
  }
  sleepers_[slot].generation++;
  sleepers_[slot].handle = h;
  push_timer({until, slot, sleepers_[slot].generation, TimerKind::Sleep});
}

void Loop::push_timer(TimerEntry entry) {
  timers_.push_back(entry);
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
}

void Loop::run_timers() {
  while (!timers_.empty() && timers_.front().when <= now_) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    TimerEntry entry = timers_.back();
    timers_.pop_back();
    if (entry.kind == TimerKind::Sleep) {
      Sleeper& sleeper = sleepers_[entry.index];
      if (sleeper.generation == entry.generation && sleeper.handle) {
        auto h = std::exchange(sleeper.handle, {});
        free_sleepers_.push_back(entry.index);
        h.resume();
      }
      continue;
    }
    IoState* io = slab_[entry.index];
    if (io->generation != entry.generation) {
      continue;  // fd was closed since
    }
    bool is_read = entry.kind == TimerKind::Read;
    bool& armed = is_read ? io->read_armed : io->write_armed;
    TimePoint& timer_at = is_read ? io->read_timer_at : io->write_timer_at;
    std::coroutine_handle<>& waiter = is_read ? io->reader : io->writer;
    TimePoint deadline = is_read ? io->read_deadline : io->write_deadline;
    if (!armed || entry.when != timer_at) {
      continue;  // superseded by an entry for a shorter deadline
    }
    armed = false;
    if (!waiter || deadline == kNoDeadline) {
      continue;
    }
    if (deadline > now_) {
      armed = true;  // the wait was extended after this entry was pushed: re-arm lazily
      timer_at = deadline;
      push_timer({deadline, entry.index, entry.generation, entry.kind});
      continue;
    }
    (is_read ? io->read_result : io->write_result) = Wait::Timeout;
    std::exchange(waiter, {}).resume();
  }
}

int Loop::next_timeout_ms() const {
  if (!deferred_.empty()) {
    return 0;
  }
  if (timers_.empty()) {
    return 1000;
  }
  auto delta = timers_.front().when - now_;
  if (delta <= Clock::duration::zero()) {
    return 0;
  }
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(delta).count();
  return static_cast<int>(std::min<int64_t>(ms, 1000));
}

void Loop::post(std::function<void()> fn) {
  bool need_wake;
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
    need_wake = !wake_pending_;
    wake_pending_ = true;
  }
  if (need_wake) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }
}

void Loop::run_posted() {
  {
    std::lock_guard lock(posted_mutex_);
    running_.swap(posted_);
    wake_pending_ = false;
  }
  for (auto& fn : running_) {
    fn();
  }
  running_.clear();
}

void Loop::run_deferred() {
  deferred_running_.swap(deferred_);
  for (std::coroutine_handle<> h : deferred_running_) {
    reset_sync_transfers();
    h.resume();
  }
  deferred_running_.clear();
}

void Loop::stop() {
  post([this] { stopping_ = true; });
}

void Loop::run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  Loop* outer = std::exchange(tls_current_loop, this);
  while (!stopping_) {
    int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, next_timeout_ms());
    now_ = Clock::now();
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        uint64_t value;
        while (::read(wake_fd_, &value, sizeof(value)) > 0) {
        }
        woken = true;
        continue;
      }
      auto index = static_cast<uint32_t>(tag);
      auto generation = static_cast<uint32_t>(tag >> 32);
      IoState* io = slab_[index];
      if (io->generation != generation) {
        continue;
      }
      uint32_t ev = events[i].events;
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        io->readable = true;
        if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
          io->peer_closed = true;
        }
        if (io->reader) {
          std::coroutine_handle<> h = std::exchange(io->reader, {});
          reset_sync_transfers();
          h.resume();
          if (io->generation != generation) {
            continue;
          }
        }
      }
      if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
        io->writable = true;
        if (io->writer) {
          reset_sync_transfers();
          std::exchange(io->writer, {}).resume();
        }
      }
    }
    reset_sync_transfers();
    run_timers();
    if (woken) {
      run_posted();
    }
    run_deferred();
  }
  tls_current_loop = outer;
}

}  // namespace apisix::core

namespace apisix::core {

bool defer_to_current_loop(std::coroutine_handle<> h) {
  Loop* loop = Loop::current();
  if (loop == nullptr) {
    return false;
  }
  loop->defer(h);
  return true;
}

}  // namespace apisix::core
