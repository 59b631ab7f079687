#include "core/socket.h"

#include <cerrno>
#include <climits>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

namespace apisix::core {

IoError error_from_errno(int err) {
  switch (err) {
    case ECONNRESET:
    case ECONNREFUSED:
    case EPIPE:
    case ECONNABORTED:
    case EHOSTUNREACH:
    case ENETUNREACH:
      return IoError::Reset;
    default:
      return IoError::Other;
  }
}

IoError error_from_wait(Wait w) {
  return w == Wait::Timeout ? IoError::Timeout : IoError::Cancelled;
}

const char* to_string(IoError error) {
  switch (error) {
    case IoError::None:
      return "ok";
    case IoError::Eof:
      return "connection closed by peer";
    case IoError::Timeout:
      return "timed out";
    case IoError::Cancelled:
      return "cancelled";
    case IoError::Reset:
      return "connection reset or refused";
    case IoError::Other:
      return "i/o error";
  }
  return "?";
}

bool Endpoint::parse(std::string_view ip, uint16_t port, Endpoint& out) {
  std::string text(ip);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  out = Endpoint{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

uint16_t Endpoint::port() const {
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
}

std::string Endpoint::ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, text,
                sizeof(text));
  } else {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, text,
                sizeof(text));
  }
  return text;
}

std::string Endpoint::to_string() const {
  std::string out;
  bool v6 = addr.ss_family == AF_INET6;
  if (v6) {
    out.push_back('[');
  }
  out.append(ip());
  if (v6) {
    out.push_back(']');
  }
  out.push_back(':');
  out.append(std::to_string(port()));
  return out;
}

Socket::Socket(Loop& loop, int fd) : loop_(&loop), fd_(fd) {
  io_ = loop.add(fd);
  if (io_ == nullptr) {
    ::close(fd_);
    fd_ = -1;
  }
}

Socket::Socket(Socket&& other) noexcept
    : loop_(std::exchange(other.loop_, nullptr)),
      io_(std::exchange(other.io_, nullptr)),
      fd_(std::exchange(other.fd_, -1)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    loop_ = std::exchange(other.loop_, nullptr);
    io_ = std::exchange(other.io_, nullptr);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void Socket::close() {
  if (fd_ >= 0) {
    loop_->remove(io_);
    ::close(fd_);
    fd_ = -1;
    io_ = nullptr;
  }
}

void Socket::shutdown_write() {
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_WR);
  }
}

ssize_t Socket::try_read(char* buf, size_t len) {
  ssize_t n = ::recv(fd_, buf, len, 0);
  if (n >= 0) {
    return n;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    io_->readable = false;
    return -1;
  }
  return -2;
}

Task<IoResult> Socket::read_some(char* buf, size_t len, TimePoint deadline) {
  for (;;) {
    if (io_->readable) {
      ssize_t n = ::recv(fd_, buf, len, 0);
      if (n > 0) {
        // A short read drained the socket buffer; with edge-triggered epoll a new event
        // arrives when more data does, so skip the recv that would only say EAGAIN.
        if (static_cast<size_t>(n) < len && !io_->peer_closed) {
          io_->readable = false;
        }
        co_return IoResult{static_cast<size_t>(n), IoError::None};
      }
      if (n == 0) {
        co_return IoResult{0, IoError::Eof};
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        co_return IoResult{0, error_from_errno(errno)};
      }
      io_->readable = false;
    }
    Wait w = co_await loop_->readable(io_, deadline);
    if (w != Wait::Ready) {
      co_return IoResult{0, error_from_wait(w)};
    }
  }
}

Task<IoResult> Socket::write_all(std::span<iovec> iov, TimePoint deadline) {
  size_t total = 0;
  size_t first = 0;
  while (first < iov.size()) {
    if (iov[first].iov_len == 0) {
      ++first;
      continue;
    }
    if (io_->writable) {
      msghdr msg{};
      msg.msg_iov = &iov[first];
      msg.msg_iovlen = std::min<size_t>(iov.size() - first, IOV_MAX);
      ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n >= 0) {
        total += static_cast<size_t>(n);
        auto left = static_cast<size_t>(n);
        while (left > 0 && first < iov.size()) {
          size_t take = std::min(left, iov[first].iov_len);
          iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + take;
          iov[first].iov_len -= take;
          left -= take;
          if (iov[first].iov_len == 0) {
            ++first;
          }
        }
        continue;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        co_return IoResult{total, error_from_errno(errno)};
      }
      io_->writable = false;
    }
    Wait w = co_await loop_->writable(io_, deadline);
    if (w != Wait::Ready) {
      co_return IoResult{total, error_from_wait(w)};
    }
  }
  co_return IoResult{total, IoError::None};
}

Task<IoResult> Socket::write_all(std::string_view data, TimePoint deadline) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  co_return co_await write_all(std::span<iovec>(&iov, 1), deadline);
}

Result<int> listen_tcp(const Endpoint& endpoint, bool reuse_port, int backlog) {
  int fd = ::socket(endpoint.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Error{ErrorKind::Io, ErrorSource::Config, false,
                 std::string("socket(): ") + std::strerror(errno)};
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port) {
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  }
  if (endpoint.addr.ss_family == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&endpoint.addr), endpoint.len) != 0 ||
      ::listen(fd, backlog) != 0) {
    int err = errno;
    ::close(fd);
    return Error{ErrorKind::Io, ErrorSource::Config, false,
                 "cannot listen on " + endpoint.to_string() + ": " + std::strerror(err)};
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

Task<ConnectResult> connect_tcp(Loop& loop, const Endpoint& endpoint, TimePoint deadline) {
  int fd = ::socket(endpoint.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    co_return ConnectResult{Socket(), IoError::Other};
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&endpoint.addr), endpoint.len);
  if (rc != 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    co_return ConnectResult{Socket(), error_from_errno(err)};
  }
  Socket socket(loop, fd);
  if (!socket.is_open()) {
    co_return ConnectResult{Socket(), IoError::Other};
  }
  if (rc != 0) {
    socket.io()->writable = false;
    Wait w = co_await loop.writable(socket.io(), deadline);
    if (w != Wait::Ready) {
      co_return ConnectResult{Socket(), error_from_wait(w)};
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      co_return ConnectResult{Socket(), error_from_errno(err)};
    }
  }
  co_return ConnectResult{std::move(socket), IoError::None};
}

}  // namespace apisix::core
