#include "tests/harness/socket_stream.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace apisix::test {

namespace {

constexpr size_t kReadChunk = size_t{256} * 1024;

IoStatus status_from_errno(int err) {
  if (err == ECONNRESET || err == EPIPE) {
    return IoStatus::Reset;
  }
  return IoStatus::Error;
}

// Waits for `events` on `fd`. Returns Ok, Timeout or Error.
IoStatus wait_fd(int fd, short events, Deadline deadline, int& err) {
  while (true) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) {
      return IoStatus::Ok;
    }
    if (rc == 0) {
      if (Clock::now() >= deadline) {
        return IoStatus::Timeout;
      }
      continue;
    }
    if (errno != EINTR) {
      err = errno;
      return IoStatus::Error;
    }
  }
}

}  // namespace

const char* to_string(IoStatus status) {
  switch (status) {
    case IoStatus::Ok:
      return "ok";
    case IoStatus::Eof:
      return "connection closed by peer";
    case IoStatus::Reset:
      return "connection reset by peer";
    case IoStatus::Timeout:
      return "timed out";
    case IoStatus::Error:
      return "socket error";
    case IoStatus::Malformed:
      return "malformed HTTP";
    case IoStatus::TooLarge:
      return "too large";
  }
  return "?";
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

RefusingPort::RefusingPort() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
}

RefusingPort::~RefusingPort() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

SocketStream::SocketStream(int fd) : fd_(fd) {
  if (fd_ >= 0) {
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
}

SocketStream::~SocketStream() { close(); }

SocketStream::SocketStream(SocketStream&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      buf_(std::move(other.buf_)),
      pos_(std::exchange(other.pos_, 0)),
      last_errno_(other.last_errno_),
      bytes_received_(other.bytes_received_) {}

SocketStream& SocketStream::operator=(SocketStream&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    buf_ = std::move(other.buf_);
    pos_ = std::exchange(other.pos_, 0);
    last_errno_ = other.last_errno_;
    bytes_received_ = other.bytes_received_;
  }
  return *this;
}

void SocketStream::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  buf_.clear();
  pos_ = 0;
}

void SocketStream::abort() {
  if (fd_ >= 0) {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  }
  close();
}

void SocketStream::shutdown_write() {
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_WR);
  }
}

void SocketStream::shutdown_both() {
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
  }
}

void SocketStream::consume(size_t n) {
  pos_ += n;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > (1 << 20) && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

IoStatus SocketStream::fill(Deadline deadline) {
  if (fd_ < 0) {
    return IoStatus::Error;
  }
  size_t old = buf_.size();
  buf_.resize(old + kReadChunk);
  while (true) {
    ssize_t n = ::read(fd_, buf_.data() + old, kReadChunk);
    if (n > 0) {
      buf_.resize(old + static_cast<size_t>(n));
      bytes_received_ += static_cast<uint64_t>(n);
      return IoStatus::Ok;
    }
    if (n == 0) {
      buf_.resize(old);
      return IoStatus::Eof;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      IoStatus st = wait_fd(fd_, POLLIN, deadline, last_errno_);
      if (st != IoStatus::Ok) {
        buf_.resize(old);
        return st;
      }
      continue;
    }
    last_errno_ = errno;
    buf_.resize(old);
    return status_from_errno(last_errno_);
  }
}

IoStatus SocketStream::read_until(std::string_view delim, size_t max_bytes, Deadline deadline,
                                  std::string& out) {
  size_t searched = 0;
  while (true) {
    std::string_view have = pending();
    size_t from = searched >= delim.size() ? searched - delim.size() + 1 : 0;
    size_t at = have.find(delim, from);
    if (at != std::string_view::npos) {
      size_t len = at + delim.size();
      if (len > max_bytes) {
        return IoStatus::TooLarge;
      }
      out.assign(have.substr(0, len));
      consume(len);
      return IoStatus::Ok;
    }
    if (have.size() > max_bytes) {
      return IoStatus::TooLarge;
    }
    searched = have.size();
    IoStatus st = fill(deadline);
    if (st != IoStatus::Ok) {
      return st;
    }
  }
}

IoStatus SocketStream::read_exact(uint64_t n, Deadline deadline, BodySink* sink, BodySink* tap) {
  while (n > 0) {
    if (buffered() == 0) {
      IoStatus st = fill(deadline);
      if (st != IoStatus::Ok) {
        return st;
      }
    }
    std::string_view piece =
        pending().substr(0, static_cast<size_t>(std::min<uint64_t>(n, buffered())));
    if (sink != nullptr) {
      sink->feed(piece);
    }
    if (tap != nullptr) {
      tap->feed(piece);
    }
    n -= piece.size();
    consume(piece.size());
  }
  return IoStatus::Ok;
}

IoStatus SocketStream::read_to_eof(Deadline deadline, BodySink* sink) {
  while (true) {
    if (buffered() > 0) {
      if (sink != nullptr) {
        sink->feed(pending());
      }
      consume(buffered());
    }
    IoStatus st = fill(deadline);
    if (st == IoStatus::Eof) {
      return IoStatus::Ok;
    }
    if (st != IoStatus::Ok) {
      return st;
    }
  }
}

IoStatus SocketStream::read_some(Deadline deadline, std::string& out) {
  if (buffered() == 0) {
    IoStatus st = fill(deadline);
    if (st != IoStatus::Ok) {
      return st;
    }
  }
  out.assign(pending());
  consume(buffered());
  return IoStatus::Ok;
}

IoStatus SocketStream::wait_eof(Deadline deadline, std::string* unexpected) {
  if (buffered() > 0) {
    if (unexpected != nullptr) {
      unexpected->assign(pending());
    }
    return IoStatus::Malformed;
  }
  IoStatus st = fill(deadline);
  if (st == IoStatus::Eof || st == IoStatus::Reset) {
    return IoStatus::Ok;
  }
  if (st == IoStatus::Ok) {
    if (unexpected != nullptr) {
      unexpected->assign(pending());
    }
    return IoStatus::Malformed;
  }
  return st;
}

IoStatus SocketStream::write_all(std::string_view data, Deadline deadline) {
  if (fd_ < 0) {
    return IoStatus::Error;
  }
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      IoStatus st = wait_fd(fd_, POLLOUT, deadline, last_errno_);
      if (st != IoStatus::Ok) {
        return st;
      }
      continue;
    }
    last_errno_ = errno;
    return status_from_errno(last_errno_);
  }
  return IoStatus::Ok;
}

}  // namespace apisix::test
