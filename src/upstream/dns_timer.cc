#include "upstream/dns_timer.h"

#include <cstdint>
#include <stdexcept>
#include <utility>

#include <sys/eventfd.h>
#include <unistd.h>

#include "core/task.h"

namespace apisix::upstream {

struct DnsTimer::State {
  core::Loop* loop = nullptr;
  int fd = -1;
  core::IoState* io = nullptr;
  core::TimePoint deadline = core::kNoDeadline;     // what the timer is armed for
  core::TimePoint waiting_for = core::kNoDeadline;  // the deadline the coroutine waits with
  std::function<void()> on_fire;
  bool closed = false;
};

namespace {

void drain(int fd) {
  uint64_t value;
  while (::read(fd, &value, sizeof(value)) > 0) {
  }
}

core::Task<void> run_timer(std::shared_ptr<DnsTimer::State> s) {
  while (!s->closed) {
    s->waiting_for = s->deadline;
    core::Wait w = co_await s->loop->readable(s->io, s->deadline);
    if (s->closed || w == core::Wait::Cancelled) {
      break;
    }
    if (w == core::Wait::Ready) {
      s->io->readable = false;
      drain(s->fd);  // poked: wait again with the new deadline
      continue;
    }
    if (s->deadline > s->loop->now()) {
      continue;  // moved later while we waited
    }
    s->deadline = core::kNoDeadline;
    s->on_fire();  // may destroy the DnsTimer: only `s` is touched after this
  }
  s->waiting_for = core::kNoDeadline;
}

}  // namespace

DnsTimer::DnsTimer(core::Loop& loop, std::function<void()> on_fire)
    : state_(std::make_shared<State>()) {
  state_->loop = &loop;
  state_->on_fire = std::move(on_fire);
  state_->fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (state_->fd < 0) {
    throw std::runtime_error("eventfd failed");  // resource exhaustion at setup
  }
  state_->io = loop.add(state_->fd);
  if (state_->io == nullptr) {
    ::close(state_->fd);
    throw std::runtime_error("cannot register the DNS timer with the loop");
  }
  core::spawn(run_timer(state_));
}

DnsTimer::~DnsTimer() {
  state_->closed = true;
  state_->loop->cancel(state_->io);  // resumes a waiting coroutine, which then ends
  state_->loop->remove(state_->io);
  ::close(state_->fd);
}

void DnsTimer::arm_at(core::TimePoint when) {
  state_->deadline = when;
  if (when < state_->waiting_for) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(state_->fd, &one, sizeof(one));
    state_->waiting_for = when;  // one poke is enough until the coroutine re-waits
  }
}

void DnsTimer::disarm() { state_->deadline = core::kNoDeadline; }

core::TimePoint DnsTimer::armed_at() const { return state_->deadline; }

}  // namespace apisix::upstream
