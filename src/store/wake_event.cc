#include "store/wake_event.h"

#include <cstdint>

#include <sys/eventfd.h>
#include <unistd.h>

namespace apisix::store {

WakeEvent::WakeEvent(core::Loop& loop) : loop_(loop) {
  fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd_ >= 0) {
    io_ = loop_.add(fd_);
  }
}

WakeEvent::~WakeEvent() {
  if (io_ != nullptr) {
    loop_.remove(io_);
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void WakeEvent::notify() {
  notified_ = true;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof(one));
}

void WakeEvent::cancel() {
  if (io_ != nullptr) {
    loop_.cancel(io_);
  }
}

void WakeEvent::drain() {
  uint64_t value;
  while (::read(fd_, &value, sizeof(value)) > 0) {
  }
  io_->readable = false;  // drained: the next notify() is a new edge
}

core::Task<core::Wait> WakeEvent::wait(core::TimePoint deadline) {
  for (;;) {
    if (notified_) {
      notified_ = false;
      drain();
      co_return core::Wait::Ready;
    }
    if (io_ == nullptr) {
      co_return core::Wait::Cancelled;
    }
    core::Wait w = co_await loop_.readable(io_, deadline);
    if (w != core::Wait::Ready) {
      co_return w;
    }
    drain();
  }
}

}  // namespace apisix::store
