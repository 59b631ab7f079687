#include "tests/harness/etcd_server.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/harness/process.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

// The body of an HTTP response ("" when it has no head).
std::string body_of(const std::string& response) {
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : response.substr(body + 4);
}

// One blocking HTTP/1.0 exchange over TLS on a connected socket `fd` (which it closes). The
// harness does not verify etcd's certificate: it only needs to reach it.
std::string https_once(SSL_CTX* ctx, int fd, const std::string& request, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  SSL* ssl = SSL_new(ctx);
  std::string response;
  if (ssl != nullptr && SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1 &&
      SSL_write(ssl, request.data(), static_cast<int>(request.size())) ==
          static_cast<int>(request.size())) {
    char buf[4096];
    for (;;) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) {
        break;
      }
      response.append(buf, static_cast<size_t>(n));
    }
  }
  SSL_free(ssl);
  ERR_clear_error();
  ::close(fd);
  return body_of(response);
}

// One blocking HTTP/1.0 exchange with 127.0.0.1:port, over TLS when `tls` is set; returns the
// body ("" on failure).
std::string http_once(uint16_t port, const std::string& request, int timeout_ms,
                      SSL_CTX* tls = nullptr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return {};
  }
  if (tls != nullptr) {
    return https_once(tls, fd, request, timeout_ms);
  }
  Deadline deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return {};
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[4096];
  for (;;) {
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
  return body_of(response);
}

}  // namespace

void EtcdServer::SslCtxFree::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

EtcdServer::EtcdServer() : EtcdServer(EtcdServerOptions{}) {}

EtcdServer::EtcdServer(EtcdServerOptions options) : options_(options) {
  if (is_tls() && !make_tls(error_)) {
    return;
  }
  // A port found free can be taken before etcd binds it; try a few times.
  for (int attempt = 0; attempt < 3 && pid_ <= 0; ++attempt) {
    error_.clear();
    start_once(error_);
  }
}

bool EtcdServer::make_tls(std::string& error) {
  try {
    CertRequest ca;
    ca.common_name = "apisix test etcd CA";
    ca.is_ca = true;
    certs_.ca = make_cert(ca);
    CertRequest server;
    server.common_name = "etcd";
    server.dns_names = {"localhost"};
    server.ip_addresses = {"127.0.0.1"};
    server.server_auth = true;
    server.client_auth = true;
    certs_.server = make_cert(server, &certs_.ca);
    CertRequest client;
    client.common_name = "apisix-etcd-client";
    client.client_auth = true;
    certs_.client = make_cert(client, &certs_.ca);
    CertRequest other;
    other.common_name = "apisix unrelated CA";
    other.is_ca = true;
    certs_.other_ca = make_cert(other);
    auto dir = dir_.path() / "certs";
    std::filesystem::create_directories(dir);
    write_cert_files(certs_.ca, dir, "ca");
    write_cert_files(certs_.server, dir, "server");
    write_cert_files(certs_.client, dir, "client");
    write_cert_files(certs_.other_ca, dir, "other_ca");
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
  client_tls_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* ctx = client_tls_.get();
  if (ctx == nullptr ||
      SSL_CTX_use_certificate_file(ctx, certs_.client.cert_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, certs_.client.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    ERR_clear_error();
    error = "cannot set up the harness's TLS client";
    return false;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  return true;
}

std::string EtcdServer::exchange(const std::string& request, int timeout_ms) {
  return http_once(client_port_, request, timeout_ms, client_tls_.get());
}

EtcdServer::~EtcdServer() { stop(); }

bool EtcdServer::start_once(std::string& error) {
  std::string binary = find_program("APISIX_ETCD_BINARY", "etcd");
  if (binary.empty()) {
    error = "etcd not found (set APISIX_ETCD_BINARY or put etcd on PATH)";
    return false;
  }
  client_port_ = free_loopback_port();
  peer_port_ = free_loopback_port();
  return launch(error);
}

bool EtcdServer::restart() {
  if (pid_ > 0) {
    return true;
  }
  error_.clear();
  return launch(error_);
}

bool EtcdServer::launch(std::string& error) {
  std::string binary = find_program("APISIX_ETCD_BINARY", "etcd");
  if (binary.empty()) {
    error = "etcd not found (set APISIX_ETCD_BINARY or put etcd on PATH)";
    return false;
  }
  std::string client = client_url();
  std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  auto data = dir_.path() / ("data-" + std::to_string(client_port_));
  std::vector<std::string> argv = {binary,
                                   "--name=test",
                                   "--data-dir=" + data.string(),
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=test=" + peer,
                                   "--enable-v2=false",
                                   "--logger=zap",
                                   "--log-level=error"};
  if (is_tls()) {
    argv.push_back("--cert-file=" + certs_.server.cert_file.string());
    argv.push_back("--key-file=" + certs_.server.key_file.string());
  }
  if (options_.client_cert_auth) {
    argv.push_back("--client-cert-auth");
    argv.push_back("--trusted-ca-file=" + certs_.ca.cert_file.string());
  }
  auto out = dir_.path() / "etcd.out";
  auto err = dir_.path() / "etcd.err";
  pid_ = spawn_until_ready(
      argv, out, err,
      [&] {
        return exchange("GET /health HTTP/1.0\r\n\r\n", 1000).find("\"health\":\"true\"") !=
               std::string::npos;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(20), error);
  if (pid_ > 0) {
    return true;
  }
  error = "etcd did not become healthy: " + error;
  return false;
}

std::string EtcdServer::post(std::string_view path, std::string_view body, std::string_view token) {
  std::string request =
      "POST " + std::string(path) + " HTTP/1.0\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!token.empty()) {
    request += "Authorization: " + std::string(token) + "\r\n";
  }
  request += "\r\n";
  request += body;
  return exchange(request, static_cast<int>(scaled(std::chrono::seconds(10)).count()));
}

bool EtcdServer::enable_auth(const std::string& user, const std::string& password) {
  post("/v3/auth/role/add", R"({"name":"root"})");
  std::string added =
      post("/v3/auth/user/add", R"({"name":")" + user + R"(","password":")" + password + "\"}");
  std::string granted = post("/v3/auth/user/grant", R"({"user":")" + user + R"(","role":"root"})");
  std::string enabled = post("/v3/auth/enable", "{}");
  return enabled.find("\"error\"") == std::string::npos && !enabled.empty() &&
         added.find("\"error\"") == std::string::npos &&
         granted.find("\"error\"") == std::string::npos;
}

namespace {

std::string base64(std::string_view in) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kTable[(n >> 18) & 63];
    out += kTable[(n >> 12) & 63];
    out += kTable[(n >> 6) & 63];
    out += kTable[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kTable[(n >> 18) & 63];
    out += kTable[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kTable[(n >> 18) & 63];
    out += kTable[(n >> 12) & 63];
    out += kTable[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string unbase64(std::string_view in) {
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int d = digit(c);
    if (d < 0) continue;
    acc = (acc << 6) | uint32_t(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The string value of "name":"..." (or the number of "name":123 / "name":"123") in `body`.
std::string json_field(const std::string& body, const std::string& name) {
  std::string needle = "\"" + name + "\":";
  size_t at = body.find(needle);
  if (at == std::string::npos) return {};
  at += needle.size();
  if (at < body.size() && body[at] == '"') {
    size_t end = body.find('"', at + 1);
    return end == std::string::npos ? std::string() : body.substr(at + 1, end - at - 1);
  }
  size_t end = at;
  while (end < body.size() && (std::isdigit(static_cast<unsigned char>(body[end])) != 0)) ++end;
  return body.substr(at, end - at);
}

int64_t to_int(const std::string& s) {
  return s.empty() ? 0 : std::strtoll(s.c_str(), nullptr, 10);
}

}  // namespace

int64_t EtcdServer::put(std::string_view key, std::string_view value) {
  std::string body =
      post("/v3/kv/put", "{\"key\":\"" + base64(key) + "\",\"value\":\"" + base64(value) + "\"}");
  return to_int(json_field(body, "revision"));
}

int64_t EtcdServer::remove(std::string_view key) {
  std::string body = post("/v3/kv/deleterange", "{\"key\":\"" + base64(key) + "\"}");
  return to_int(json_field(body, "revision"));
}

std::optional<std::string> EtcdServer::get(std::string_view key) {
  std::string body = post("/v3/kv/range", "{\"key\":\"" + base64(key) + "\"}");
  if (body.find("\"kvs\"") == std::string::npos) {
    return std::nullopt;
  }
  return unbase64(json_field(body, "value"));
}

int64_t EtcdServer::revision() {
  std::string body = post("/v3/kv/range", "{\"key\":\"" + base64("\x01") + "\"}");
  return to_int(json_field(body, "revision"));
}

bool EtcdServer::compact(int64_t revision) {
  std::string body = post("/v3/kv/compaction",
                          "{\"revision\":\"" + std::to_string(revision) + "\",\"physical\":true}");
  return !body.empty() && body.find("\"error\"") == std::string::npos;
}

void EtcdServer::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, Deadline::max());
    pid_ = -1;
  }
}

}  // namespace apisix::test
