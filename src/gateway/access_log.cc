#include "gateway/access_log.h"

#include <cstdio>
#include <ctime>

#include <unistd.h>

namespace apisix::gateway {
namespace {

void append_or_dash(std::string& out, std::string_view value) {
  if (value.empty()) {
    out += '-';
  } else {
    out += value;
  }
}

void append_seconds(std::string& out, double seconds) {
  char text[32];
  int n = std::snprintf(text, sizeof(text), "%.3f", seconds);
  out.append(text, static_cast<size_t>(n));
}

}  // namespace

std::string_view AccessLog::time_local() {
  std::time_t now = std::time(nullptr);
  if (now != cached_second_) {
    cached_second_ = now;
    std::tm tm{};
    ::localtime_r(&now, &tm);
    cached_time_len_ =
        std::strftime(cached_time_, sizeof(cached_time_), "%d/%b/%Y:%H:%M:%S %z", &tm);
  }
  return {cached_time_, cached_time_len_};
}

// $remote_addr - $remote_user [$time_local] $http_host "$request" $status $body_bytes_sent
// $request_time "$http_referer" "$http_user_agent" $upstream_addr $upstream_status
// $upstream_response_time "$upstream_scheme://$upstream_host$upstream_uri" "$apisix_request_id"
void AccessLog::write(const AccessRecord& r) {
  if (fd_ < 0) {
    return;
  }
  buffer_ += r.remote_addr;
  buffer_ += " - - [";
  buffer_ += time_local();
  buffer_ += "] ";
  append_or_dash(buffer_, r.http_host);
  buffer_ += " \"";
  buffer_ += r.request;
  buffer_ += "\" ";
  buffer_ += std::to_string(r.status);
  buffer_ += ' ';
  buffer_ += std::to_string(r.body_bytes_sent);
  buffer_ += ' ';
  append_seconds(buffer_, r.request_time);
  buffer_ += " \"";
  append_or_dash(buffer_, r.referer);
  buffer_ += "\" \"";
  append_or_dash(buffer_, r.user_agent);
  buffer_ += "\" ";
  append_or_dash(buffer_, r.upstream_addr);
  buffer_ += ' ';
  append_or_dash(buffer_, r.upstream_status);
  buffer_ += ' ';
  if (r.upstream_response_time >= 0) {
    append_seconds(buffer_, r.upstream_response_time);
  } else {
    buffer_ += '-';
  }
  buffer_ += " \"";
  append_or_dash(buffer_, r.upstream_scheme_host_uri);
  buffer_ += "\" \"-\"\n";
  if (buffer_.size() >= buffer_bytes_) {
    flush();
  }
}

void AccessLog::flush() {
  size_t done = 0;
  while (fd_ >= 0 && done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n <= 0) {
      break;  // a full disk must not stop the proxy; the lines are dropped
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

}  // namespace apisix::gateway
