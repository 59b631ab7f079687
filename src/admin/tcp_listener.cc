#include "admin/tcp_listener.h"

#include <cerrno>
#include <chrono>
#include <cstring>

#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

namespace apisix::admin {

TcpListener::~TcpListener() {
  if (fd_ >= 0 && io_ == nullptr) {
    ::close(fd_);
  }
}

Result<void> TcpListener::listen(const std::string& ip, uint16_t port) {
  core::Endpoint ep;
  if (!core::Endpoint::parse(ip, port, ep)) {
    return Error::config("invalid " + name_ + " address \"" + ip + "\": not an IP address");
  }
  auto fd = core::listen_tcp(ep, false, 512);
  if (!fd) {
    return fd.error();
  }
  fd_ = *fd;
  port_ = core::bound_port(fd_);
  return {};
}

void TcpListener::start(OnAccept on_accept) {
  on_accept_ = std::move(on_accept);
  core::spawn(accept_loop());
}

void TcpListener::stop() {
  stopping_ = true;
  if (io_ != nullptr) {
    loop_.cancel(io_);
  }
}

core::Task<void> TcpListener::accept_loop() {
  core::IoState* io = loop_.add(fd_);
  io_ = io;
  while (!stopping_) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        io->readable = false;
        if (co_await loop_.readable(io, core::kNoDeadline) != core::Wait::Ready) {
          break;
        }
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      core::log_error(name_, ": accept() failed: ", std::strerror(errno));
      co_await loop_.sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    core::Endpoint peer;
    std::memcpy(&peer.addr, &addr, len);
    peer.len = len;
    core::Socket socket(loop_, fd);
    if (socket.is_open()) {
      on_accept_(std::move(socket), peer.ip());
    }
  }
  io_ = nullptr;
  loop_.remove(io);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace apisix::admin
