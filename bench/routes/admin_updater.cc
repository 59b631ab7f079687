// admin_updater: a light Admin API client for bench/routes.sh. Replaces random filler routes
// (the same shapes admin_load.py creates) at a fixed rate over one keep-alive connection, so
// that the update stream costs the client CPU (which wrk shares) as little as possible.
//
//   admin_updater PORT KEY ROUTES RATE SECONDS [sink]
//
// With "sink", any status is accepted (the same load aimed at a server that is not the
// gateway). Prints the number of updates and the slowest round trip. Loopback only.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// The filler route i of admin_load.py, with a "desc" that changes on every update.
std::string filler(int i, long variant) {
  std::string r = "{\"upstream_id\":\"u1\",\"name\":\"filler-" + std::to_string(i) + "\",";
  switch (i % 5) {
    case 0:
      r += "\"uri\":\"/r/" + std::to_string(i) + "\"";
      break;
    case 1:
      r += "\"uri\":\"/p/" + std::to_string(i) + "/*\"";
      break;
    case 2:
      r += "\"uri\":\"/h/" + std::to_string(i) + "\",\"host\":\"h" + std::to_string(i) +
           ".example.com\"";
      break;
    case 3:
      r += "\"uri\":\"/v/" + std::to_string(i) + "\",\"vars\":[[\"arg_k\",\"==\",\"v" +
           std::to_string(i) + "\"]]";
      break;
    default:
      r += "\"uri\":\"/w/" + std::to_string(i) + "/*\",\"methods\":[\"GET\",\"POST\"]";
  }
  return r + ",\"desc\":\"update " + std::to_string(variant) + "\"}";
}

// Reads one response (head + Content-Length body); returns its status, -1 on failure.
int read_response(int fd, std::string& buf) {
  for (;;) {
    size_t end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      int status = std::atoi(buf.c_str() + 9);
      size_t length = 0;
      for (const char* name : {"Content-Length: ", "content-length: "}) {
        size_t at = buf.find(name);
        if (at != std::string::npos && at < end) {
          length = std::strtoul(buf.c_str() + at + std::strlen(name), nullptr, 10);
        }
      }
      while (buf.size() < end + 4 + length) {
        char tmp[16384];
        ssize_t n = ::read(fd, tmp, sizeof(tmp));
        if (n <= 0) return -1;
        buf.append(tmp, static_cast<size_t>(n));
      }
      buf.erase(0, end + 4 + length);
      return status;
    }
    char tmp[16384];
    ssize_t n = ::read(fd, tmp, sizeof(tmp));
    if (n <= 0) return -1;
    buf.append(tmp, static_cast<size_t>(n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: admin_updater PORT KEY ROUTES RATE SECONDS [sink]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string key = argv[2];
  const int routes = std::atoi(argv[3]);
  const double rate = std::atof(argv[4]);
  const double seconds = std::atof(argv[5]);
  const bool sink = argc > 6 && std::strcmp(argv[6], "sink") == 0;
  int fd = connect_loopback(port);
  std::mt19937 rng(std::random_device{}());
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  auto next = start;
  long count = 0;
  double slowest_ms = 0;
  std::string buf;
  while (Clock::now() < deadline) {
    int i = static_cast<int>(rng() % static_cast<unsigned>(routes));
    std::string body = filler(i, count + 1);
    std::string req =
        "PUT /apisix/admin/routes/f" + std::to_string(i) +
        " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: " + key +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    auto t0 = Clock::now();
    if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
      std::perror("write");
      return 1;
    }
    int status = read_response(fd, buf);
    if (status < 0 || (!sink && status / 100 != 2)) {
      std::fprintf(stderr, "PUT f%d: status %d\n", i, status);
      return 1;
    }
    slowest_ms =
        std::max(slowest_ms, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    ++count;
    next += std::chrono::duration_cast<Clock::duration>(interval);
    std::this_thread::sleep_until(next);  // pacing of the update stream
  }
  std::printf("updates %ld in %.1f s, slowest admin round trip %.1f ms\n", count, seconds,
              slowest_ms);
  return 0;
}
