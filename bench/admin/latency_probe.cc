// latency_probe: how long an Admin API write takes to be acknowledged, and then to become
// visible at the proxy, for bench/admin_latency.sh.
//
//   latency_probe ADMIN_PORT KEY COUNT RATE PROXY_PORT[,PROXY_PORT...]
//
// Update i replaces route "probe" with one that matches only GET /hello?v=i on Host
// probe.test (upstream "u1" must exist). After the write is acknowledged, every listed proxy
// is polled on a keep-alive connection until that request answers 200 (before, nothing
// matches: 404). Writes are paced at RATE per second. Prints one line per measure:
//
//   ack  n=... p50_ms=... p99_ms=... max_ms=...
//   seen PORT n=... p50_ms=... p99_ms=... max_ms=... timeouts=...   (from the answer)
//   total PORT n=... p50_ms=... p99_ms=... max_ms=...               (from sending the write)
//   errors=...
//
// Loopback only. Exit status 1 when a write failed or a probe never became visible.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// One keep-alive HTTP/1.1 client connection that reconnects when the server closes it.
class Conn {
 public:
  explicit Conn(int port) : port_(port) {}
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Sends `request` and returns the response status (0 on failure).
  int exchange(const std::string& request) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0) {
        fd_ = connect_loopback(port_);
        if (fd_ < 0) return 0;
      }
      int status = once(request);
      if (status != 0) return status;
      ::close(fd_);
      fd_ = -1;
    }
    return 0;
  }

 private:
  int once(const std::string& request) {
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      return 0;
    }
    std::string in;
    char buf[8192];
    for (;;) {
      size_t head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        int status = std::atoi(in.c_str() + 9);
        size_t length = 0;
        const char* cl = strcasestr(in.c_str(), "\r\ncontent-length:");
        if (cl != nullptr && cl < in.c_str() + head_end) {
          length = std::strtoul(cl + 17, nullptr, 10);
        }
        if (in.size() >= head_end + 4 + length) {
          if (strcasestr(in.substr(0, head_end).c_str(), "connection: close") != nullptr) {
            ::close(fd_);
            fd_ = -1;
          }
          return status;
        }
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return 0;
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return 0;
      in.append(buf, static_cast<size_t>(n));
    }
  }
  int port_;
  int fd_ = -1;
};

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

void report(const char* what, std::vector<double> v, const std::string& extra) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    if (v.empty()) return 0.0;
    size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  std::printf("%s n=%zu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f%s\n", what, v.size(), at(0.5), at(0.99),
              v.empty() ? 0.0 : v.back(), extra.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: latency_probe ADMIN_PORT KEY COUNT RATE PROXY_PORT[,...]\n");
    return 2;
  }
  int admin_port = std::atoi(argv[1]);
  std::string key = argv[2];
  int count = std::atoi(argv[3]);
  double rate = std::atof(argv[4]);
  std::vector<int> proxies;
  for (const char* p = argv[5]; *p != '\0';) {
    proxies.push_back(std::atoi(p));
    const char* comma = std::strchr(p, ',');
    if (comma == nullptr) break;
    p = comma + 1;
  }

  Conn admin(admin_port);
  std::vector<Conn> observers;
  observers.reserve(proxies.size());
  for (int port : proxies) observers.emplace_back(port);
  std::vector<double> acks;
  std::vector<std::vector<double>> seen(proxies.size());
  std::vector<std::vector<double>> total(proxies.size());
  std::vector<int> timeouts(proxies.size(), 0);
  int errors = 0;
  const auto period = std::chrono::duration<double>(1.0 / rate);
  const Clock::time_point start = Clock::now();

  for (int i = 1; i <= count; ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(period * i));
    std::string body = R"({"uri":"/hello","host":"probe.test","vars":[["arg_v","==",")" +
                       std::to_string(i) + R"("]],"upstream_id":"u1"})";
    std::string put =
        "PUT /apisix/admin/routes/probe HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: " + key +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    Clock::time_point sent = Clock::now();
    int status = admin.exchange(put);
    if (status != 200 && status != 201) {
      ++errors;
      std::fprintf(stderr, "update %d: status %d\n", i, status);
      continue;
    }
    Clock::time_point acked = Clock::now();
    acks.push_back(std::chrono::duration<double, std::milli>(acked - sent).count());
    std::string get = "GET /hello?v=" + std::to_string(i) + " HTTP/1.1\r\nHost: probe.test\r\n\r\n";
    for (size_t o = 0; o < observers.size(); ++o) {
      for (;;) {
        int got = observers[o].exchange(get);
        if (got == 200) {
          seen[o].push_back(ms_since(acked));
          total[o].push_back(ms_since(sent));
          break;
        }
        if (ms_since(acked) > 5000) {
          ++timeouts[o];
          break;
        }
      }
    }
  }
  report("ack ", acks, "");
  int failed = errors;
  for (size_t o = 0; o < observers.size(); ++o) {
    std::string label = "seen " + std::to_string(proxies[o]);
    report(label.c_str(), seen[o], " timeouts=" + std::to_string(timeouts[o]));
    std::string whole = "total " + std::to_string(proxies[o]);
    report(whole.c_str(), total[o], "");
    failed += timeouts[o];
  }
  std::printf("errors=%d\n", errors);
  return failed == 0 ? 0 : 1;
}
