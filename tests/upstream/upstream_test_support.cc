#include "tests/upstream/upstream_test_support.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace apisix::test {

NamedUpstream::NamedUpstream(std::string name)
    : server(std::make_unique<UpstreamServer>(UpstreamOptions{.name = name})) {
  server->set_handler([this, name](const RecordedRequest&, ResponseWriter& writer) {
    int delay = delay_ms.load();
    if (delay > 0 && !writer.delay(std::chrono::milliseconds(delay))) {
      return;
    }
    if (failing.load()) {
      writer.respond(failing_status.load(), {}, name);
    } else {
      writer.respond(200, {}, name);
    }
  });
}

size_t NamedUpstream::proxied() const {
  size_t n = 0;
  for (const RecordedRequest& r : server->requests()) {
    if (r.target != "/hc") {
      ++n;
    }
  }
  return n;
}

std::string config_with_control(GatewayConfig config) {
  std::string yaml = config.to_yaml();
  const std::string off = "  enable_control: false\n";
  size_t at = yaml.find(off);
  if (at != std::string::npos) {
    yaml.replace(at, off.size(),
                 "  enable_control: true\n  control:\n    ip: 127.0.0.1\n    port: 0\n");
  }
  return yaml;
}

std::map<std::string, int> count_bodies(uint16_t port, std::string_view target, int count) {
  std::map<std::string, int> out;
  auto client = std::make_unique<RawClient>(port);
  for (int i = 0; i < count; ++i) {
    if (!client->connected()) {
      client = std::make_unique<RawClient>(port);
    }
    HttpResponse r = client->get(target);
    if (!r.ok()) {
      ++out["<error>"];
      client = std::make_unique<RawClient>(port);
      continue;
    }
    if (r.status != 200) {
      ++out["<status " + std::to_string(r.status) + ">"];
    } else {
      ++out[r.body];
    }
    if (r.header("Connection") == "close") {
      client = std::make_unique<RawClient>(port);
    }
  }
  return out;
}

uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace apisix::test
