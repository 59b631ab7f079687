#pragma once
// Socket: an owned, non-blocking TCP socket registered with one Loop, with coroutine reads and
// writes that take a deadline. Used only on the thread of its loop; closing it unregisters it.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "core/loop.h"
#include "core/result.h"
#include "core/task.h"

namespace apisix::core {

// How an I/O operation ended; anything but None ends the operation.
enum class IoError : uint8_t {
  None,
  Eof,        // the peer closed its side (reads only)
  Timeout,    // the deadline passed
  Cancelled,  // the loop cancelled the wait (shutdown)
  Reset,      // connection reset / refused / broken pipe
  Other,      // any other errno
};
const char* to_string(IoError error);
// How a failed socket call's errno, and a wait that did not end Ready, end an operation;
// shared by every stream over a Socket (plain and TLS).
IoError error_from_errno(int err);
IoError error_from_wait(Wait w);

struct IoResult {
  size_t bytes = 0;
  IoError error = IoError::None;
  bool ok() const { return error == IoError::None; }
};

// An IPv4 or IPv6 endpoint.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  static bool parse(std::string_view ip, uint16_t port, Endpoint& out);
  uint16_t port() const;
  std::string ip() const;
  std::string to_string() const;  // "1.2.3.4:80" or "[::1]:80"
};

class Socket {
 public:
  Socket() = default;
  Socket(Loop& loop, int fd);  // takes ownership of fd (must be non-blocking)
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { close(); }

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  Loop* loop() const { return loop_; }
  IoState* io() const { return io_; }
  void close();
  // Half-close the write side (used to signal EOF to an upstream that reads until close).
  void shutdown_write();

  // Reads up to `len` bytes (> 0 on success); waits for data until `deadline`.
  Task<IoResult> read_some(char* buf, size_t len, TimePoint deadline);
  // Writes all bytes of all buffers, waiting while the peer's window is full.
  Task<IoResult> write_all(std::span<iovec> iov, TimePoint deadline);
  Task<IoResult> write_all(std::string_view data, TimePoint deadline);

  // Non-blocking read attempt without waiting: returns bytes, 0 on EOF, -1 would-block,
  // -2 on error. Used to check whether a pooled connection was closed by its peer.
  ssize_t try_read(char* buf, size_t len);

 private:
  Loop* loop_ = nullptr;
  IoState* io_ = nullptr;
  int fd_ = -1;
};

// Opens a listening socket (SO_REUSEADDR, optional SO_REUSEPORT, IPV6_V6ONLY for v6).
Result<int> listen_tcp(const Endpoint& endpoint, bool reuse_port, int backlog);
uint16_t bound_port(int fd);

// Connects to `endpoint`; the socket is registered with `loop`.
struct ConnectResult {
  Socket socket;
  IoError error = IoError::None;
};
Task<ConnectResult> connect_tcp(Loop& loop, const Endpoint& endpoint, TimePoint deadline);

}  // namespace apisix::core
