#pragma once
// AccessLog: one worker's buffered writer for logs/access.log, in APISIX's default format
// (core.md §1.6). Lines collect in memory and go out in one write(2) when the buffer passes
// access_log_buffer bytes or once a second, so logging costs no syscall per request. The file
// descriptor is opened by the Server (O_APPEND) and shared; each worker has its own buffer.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace apisix::gateway {

// What one request leaves in the access log. Strings are copied out of the request head
// when the request starts (the head's buffer is reused for the body).
struct AccessRecord {
  std::string remote_addr;
  std::string http_host;
  std::string request;  // "GET /path?q HTTP/1.1"
  std::string referer;
  std::string user_agent;
  std::string upstream_addr;    // "ip:port[, ip:port]"
  std::string upstream_status;  // "502, 200"
  std::string upstream_scheme_host_uri;
  int status = 0;
  uint64_t body_bytes_sent = 0;
  double request_time = 0;             // seconds
  double upstream_response_time = -1;  // seconds; < 0: no upstream was contacted
};

class AccessLog {
 public:
  AccessLog() = default;
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;
  ~AccessLog() { flush(); }

  // fd < 0 disables logging.
  void open(int fd, size_t buffer_bytes) {
    fd_ = fd;
    buffer_bytes_ = buffer_bytes;
  }
  bool enabled() const { return fd_ >= 0; }
  void write(const AccessRecord& record);
  void flush();

 private:
  std::string_view time_local();

  int fd_ = -1;
  size_t buffer_bytes_ = 16384;
  std::string buffer_;
  int64_t cached_second_ = -1;
  char cached_time_[40] = {};
  size_t cached_time_len_ = 0;
};

}  // namespace apisix::gateway
