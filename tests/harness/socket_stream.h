#pragma once

// A non-blocking TCP socket with a read buffer; every read and write takes a deadline.
// Owns its file descriptor. Used by one thread at a time (the one driving the connection);
// shutdown_both() may be called from another thread to wake a blocked reader.

#include <cstdint>
#include <string>
#include <string_view>

#include "tests/harness/body.h"
#include "tests/harness/wait.h"

namespace apisix::test {

// What a read or write ended with.
enum class IoStatus {
  Ok,         // done; the caller continues
  Eof,        // the peer closed its side before the operation completed
  Reset,      // the peer reset the connection (ECONNRESET/EPIPE)
  Timeout,    // the deadline passed
  Error,      // another socket error (last_errno())
  Malformed,  // the bytes do not follow HTTP/1.1 framing
  TooLarge,   // a line or head exceeded the caller's limit
};

const char* to_string(IoStatus status);

// Connects to 127.0.0.1:port (blocking connect, then switched to non-blocking).
// Returns the fd, or -1 with errno set.
int connect_loopback(uint16_t port);

// A loopback port that is bound but not listening: connecting to it is refused, and nothing
// else can take the port while this object lives. Stands in for a dead upstream node.
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

class SocketStream {
 public:
  SocketStream() = default;
  explicit SocketStream(int fd);
  ~SocketStream();
  SocketStream(SocketStream&& other) noexcept;
  SocketStream& operator=(SocketStream&& other) noexcept;
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  void close();
  // Closes with SO_LINGER 0 so the peer sees a reset.
  void abort();
  void shutdown_write();
  void shutdown_both();
  int last_errno() const { return last_errno_; }

  // Reads until `delim` has been received; `out` gets everything up to and including it.
  IoStatus read_until(std::string_view delim, size_t max_bytes, Deadline deadline,
                      std::string& out);
  // Reads exactly `n` bytes into `sink` (discarded when null); `tap`, if set, also gets them.
  IoStatus read_exact(uint64_t n, Deadline deadline, BodySink* sink, BodySink* tap = nullptr);
  // Reads until the peer closes; Eof is the normal end and is reported as Ok.
  IoStatus read_to_eof(Deadline deadline, BodySink* sink);
  // Returns buffered bytes, or waits for at least one byte.
  IoStatus read_some(Deadline deadline, std::string& out);
  // Waits until the peer closes (Ok), data arrives (Malformed; the bytes go to `unexpected`),
  // or the deadline passes (Timeout).
  IoStatus wait_eof(Deadline deadline, std::string* unexpected = nullptr);

  IoStatus write_all(std::string_view data, Deadline deadline);

  size_t buffered() const { return buf_.size() - pos_; }
  // Bytes received but not consumed yet.
  std::string_view peek() const { return pending(); }
  // Total bytes received from the socket.
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  IoStatus fill(Deadline deadline);
  std::string_view pending() const { return std::string_view(buf_).substr(pos_); }
  void consume(size_t n);

  int fd_ = -1;
  std::string buf_;
  size_t pos_ = 0;
  int last_errno_ = 0;
  uint64_t bytes_received_ = 0;
};

}  // namespace apisix::test
