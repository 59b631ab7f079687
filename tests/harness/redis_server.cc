#include "tests/harness/redis_server.h"

#include <cstdlib>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/process.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

std::string encode(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& arg : args) {
    out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  }
  return out;
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {
  // A port found free can be taken before redis binds it; try a few times.
  for (int attempt = 0; attempt < 3 && pid_ <= 0; ++attempt) {
    error_.clear();
    port_ = free_loopback_port();
    tls_port_ = options_.tls_cert_file.empty() ? 0 : free_loopback_port();
    launch(error_);
  }
}

RedisServer::~RedisServer() { stop(); }

bool RedisServer::restart() {
  if (pid_ > 0) {
    return true;
  }
  error_.clear();
  return launch(error_);
}

bool RedisServer::launch(std::string& error) {
  std::string binary = find_program("APISIX_REDIS_BINARY", "redis-server");
  if (binary.empty()) {
    error = "redis-server not found (set APISIX_REDIS_BINARY or put redis-server on PATH)";
    return false;
  }
  std::vector<std::string> argv = {
      binary, "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly",
      "no",   "--dir",  dir_.path().string()};
  if (!options_.password.empty()) {
    argv.insert(argv.end(), {"--requirepass", options_.password});
  }
  if (tls_port_ != 0) {
    argv.insert(argv.end(),
                {"--tls-port", std::to_string(tls_port_), "--tls-cert-file",
                 options_.tls_cert_file.string(), "--tls-key-file", options_.tls_key_file.string(),
                 "--tls-ca-cert-file", options_.tls_ca_file.string(), "--tls-auth-clients", "no"});
  }
  auto out = dir_.path() / "redis.out";
  auto err = dir_.path() / "redis.err";
  pid_ = spawn_until_ready(
      argv, out, err,
      [&] {
        std::string pong = command({"PING"});
        return pong == "+PONG";
      },
      std::chrono::seconds(20), std::chrono::milliseconds(10), error);
  if (pid_ > 0) {
    return true;
  }
  error = "redis-server did not answer PING: " + error;
  return false;
}

std::string RedisServer::exchange(const std::vector<std::string>& args, bool whole) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return {};
  }
  std::string request;
  if (!options_.password.empty()) {
    request += encode({"AUTH", options_.password});
  }
  request += encode(args);
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return {};
  }
  Deadline deadline = deadline_in(std::chrono::seconds(10));
  std::string response;
  size_t skip = options_.password.empty() ? 0 : std::string::npos;  // where our reply starts
  char buf[4096];
  for (;;) {
    if (skip == std::string::npos) {
      size_t end = response.find("\r\n");
      if (end != std::string::npos) {
        skip = end + 2;  // the AUTH reply
      }
    }
    if (skip != std::string::npos) {
      size_t end = response.find("\r\n", skip);
      if (end != std::string::npos) {
        std::string line = response.substr(skip, end - skip);
        if (!whole || line.empty() || line[0] != '$') {
          ::close(fd);
          return line;
        }
        long length = std::strtol(line.c_str() + 1, nullptr, 10);
        if (length < 0) {
          ::close(fd);
          return {};
        }
        if (response.size() >= end + 2 + static_cast<size_t>(length)) {
          ::close(fd);
          return response.substr(end + 2, static_cast<size_t>(length));
        }
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      break;
    }
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return {};
}

std::string RedisServer::command(const std::vector<std::string>& args) {
  return exchange(args, false);
}

std::string RedisServer::info_field(const std::string& section, const std::string& field) {
  std::string text = exchange({"INFO", section}, true);
  std::string needle = field + ":";
  size_t at = text.find(needle);
  if (at == std::string::npos || (at > 0 && text[at - 1] != '\n')) {
    return {};
  }
  at += needle.size();
  return text.substr(at, text.find("\r\n", at) - at);
}

void RedisServer::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, Deadline::max());
    pid_ = -1;
  }
}

}  // namespace apisix::test
