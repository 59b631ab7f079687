#pragma once
// TcpListener: one listening socket on a control-thread loop that hands each accepted
// connection to a callback. Shared by the control-thread listeners (the Control API; the Admin
// API can move onto it). Owned by its server; used only on the loop's thread; the listening
// socket is closed by stop() (once the accept loop notices) or by the destructor.

#include <cstdint>
#include <functional>
#include <string>

#include "core/loop.h"
#include "core/result.h"
#include "core/socket.h"

namespace apisix::admin {

class TcpListener {
 public:
  using OnAccept = std::function<void(core::Socket socket, std::string client_ip)>;

  // `name` names the listener in logs ("control").
  TcpListener(core::Loop& loop, std::string name) : loop_(loop), name_(std::move(name)) {}
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Binds `ip`:`port` (0: a free port, see bound_port()).
  [[nodiscard]] Result<void> listen(const std::string& ip, uint16_t port);
  uint16_t bound_port() const { return port_; }
  // Starts accepting; `on_accept` runs on the loop for every connection.
  void start(OnAccept on_accept);
  // Stops accepting and closes the socket; connections already accepted are not touched.
  void stop();
  bool stopping() const { return stopping_; }

 private:
  core::Task<void> accept_loop();

  core::Loop& loop_;
  std::string name_;
  OnAccept on_accept_;
  int fd_ = -1;
  core::IoState* io_ = nullptr;
  uint16_t port_ = 0;
  bool stopping_ = false;
};

}  // namespace apisix::admin
