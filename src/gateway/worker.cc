#include "gateway/worker.h"

#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

namespace apisix::gateway {

using namespace std::chrono_literals;

Worker::Worker(uint32_t id, std::vector<Listener> listeners,
               std::shared_ptr<const Snapshot> initial, int access_log_fd)
    : id_(id), listeners_(std::move(listeners)), access_log_fd_(access_log_fd) {
  current_ = new SnapshotPin{std::move(initial), 1};  // the worker's own reference
}

Worker::~Worker() {
  join();
  if (current_ != nullptr && --current_->users == 0) {
    delete current_;
  }
  for (const Listener& l : listeners_) {
    if (l.fd >= 0) {
      ::close(l.fd);
    }
  }
}

void Worker::start() {
  thread_ = std::thread([this] {
    access_log_.open(access_log_fd_, 16384);
    for (const Listener& listener : listeners_) {
      core::IoState* io = loop_.add(listener.fd);
      listener_io_.push_back(io);
      core::spawn(accept_loop(listener, io));
    }
    core::spawn(housekeeping());
    loop_.run();
    access_log_.flush();
    stopped_ = true;
    finished_.store(true, std::memory_order_release);
  });
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Worker::publish(std::shared_ptr<const Snapshot> snapshot) {
  loop_.post([this, snapshot = std::move(snapshot)]() mutable {
    SnapshotPin* old = current_;
    current_ = new SnapshotPin{std::move(snapshot), 1};
    if (--old->users == 0) {
      delete old;  // no request still runs on it
    }
  });
}

SnapshotPin* Worker::pin() {
  ++current_->users;
  return current_;
}

void Worker::unpin(SnapshotPin* pin) {
  if (--pin->users == 0) {
    delete pin;
  }
}

void Worker::link(SessionLink* session) {
  ++sessions_;
  counters_.accepted.fetch_add(1, std::memory_order_relaxed);
  counters_.active.fetch_add(1, std::memory_order_relaxed);
  session->next = sessions_head_;
  if (sessions_head_ != nullptr) {
    sessions_head_->prev = session;
  }
  sessions_head_ = session;
}

void Worker::unlink(SessionLink* session) {
  --sessions_;
  counters_.active.fetch_sub(1, std::memory_order_relaxed);
  if (session->prev != nullptr) {
    session->prev->next = session->next;
  } else {
    sessions_head_ = session->next;
  }
  if (session->next != nullptr) {
    session->next->prev = session->prev;
  }
  session->prev = session->next = nullptr;
  maybe_finish_drain();
}

void Worker::maybe_finish_drain() {
  if (draining_ && sessions_ == 0) {
    pool_.clear();
    loop_.stop();
  }
}

void Worker::quit() {
  loop_.post([this] {
    if (draining_) {
      return;
    }
    draining_ = true;
    // Stop accepting: closing our listeners leaves the others of the reuseport group intact.
    for (size_t i = 0; i < listeners_.size(); ++i) {
      core::IoState* io = listener_io_[i];
      loop_.cancel(io);
      loop_.remove(io);
      ::close(listeners_[i].fd);
      listeners_[i].fd = -1;
    }
    // Idle keep-alive connections end now; busy ones end after their current response.
    std::vector<core::IoState*> idle;
    for (SessionLink* s = sessions_head_; s != nullptr; s = s->next) {
      if (s->idle) {
        idle.push_back(s->io);
      }
    }
    for (core::IoState* io : idle) {
      loop_.cancel(io);
    }
    maybe_finish_drain();
    Millis timeout = current_->snapshot->settings->worker_shutdown_timeout;
    core::spawn([](Worker& w, Millis t) -> core::Task<void> {
      co_await w.loop_.sleep_for(t);
      if (!w.stopped_) {
        core::log_warn("worker ", w.id_, ": shutdown timeout reached with ", w.sessions_,
                       " connections open");
        w.loop_.stop();
      }
    }(*this, timeout));
  });
}

void Worker::stop() { loop_.stop(); }

core::Task<void> Worker::accept_loop(Listener listener, core::IoState* io) {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = ::accept4(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        io->readable = false;
        core::Wait w = co_await loop_.readable(io, core::kNoDeadline);
        if (w == core::Wait::Cancelled || draining_) {
          co_return;
        }
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (draining_) {
        co_return;
      }
      // EMFILE and friends: back off briefly instead of spinning.
      core::log_error("accept() failed: ", std::strerror(errno));
      co_await loop_.sleep_for(100ms);
      continue;
    }
    const Snapshot& snap = *current_->snapshot;
    if (sessions_ >= snap.settings->worker_connections) {
      ::close(fd);  // over worker_connections: refuse rather than degrade everyone
      continue;
    }
    // Responses go out in one write each; Nagle would only add latency (nginx tcp_nodelay).
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    core::Endpoint peer;
    std::memcpy(&peer.addr, &addr, len);
    peer.len = len;
    core::Socket socket(loop_, fd);
    if (!socket.is_open()) {
      continue;
    }
    core::spawn(serve_client(*this, std::move(socket), peer, listener.port));
  }
}

core::Task<void> Worker::housekeeping() {
  while (!loop_.stopping()) {
    co_await loop_.sleep_for(1s);
    pool_.sweep(loop_.now());
    access_log_.flush();
  }
}

redis::RedisClients& Worker::redis() {
  if (!redis_) {
    redis_ = std::make_unique<redis::RedisClients>(loop_);
  }
  return *redis_;
}

}  // namespace apisix::gateway
