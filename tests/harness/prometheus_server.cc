#include "tests/harness/prometheus_server.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/process.h"
#include "tests/harness/raw_client.h"

namespace apisix::test {
namespace {

// Percent-encodes everything but RFC 3986 unreserved characters (for a query parameter).
std::string url_encode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

PrometheusServer::PrometheusServer(PrometheusServerOptions options) : options_(std::move(options)) {
  // A port found free can be taken before prometheus binds it; try a few times.
  for (int attempt = 0; attempt < 3 && pid_ <= 0; ++attempt) {
    error_.clear();
    port_ = free_loopback_port();
    launch(error_);
  }
}

PrometheusServer::~PrometheusServer() { stop(); }

bool PrometheusServer::launch(std::string& error) {
  std::string binary = find_program("APISIX_PROMETHEUS_BINARY", "prometheus");
  if (binary.empty()) {
    error = "prometheus not found (install it with scripts/setup, or set APISIX_PROMETHEUS_BINARY)";
    return false;
  }
  // scrape_timeout must not exceed scrape_interval.
  auto config = dir_.path() / "prometheus.yml";
  write_file(config,
             "global:\n"
             "  scrape_interval: 1s\n"
             "  scrape_timeout: 1s\n"
             "  evaluation_interval: 1s\n"
             "scrape_configs:\n"
             "  - job_name: " +
                 options_.job +
                 "\n"
                 "    metrics_path: " +
                 options_.metrics_path +
                 "\n"
                 "    static_configs:\n"
                 "      - targets: ['" +
                 options_.target + "']\n");
  std::vector<std::string> argv = {binary, "--config.file=" + config.string(),
                                   "--storage.tsdb.path=" + (dir_.path() / "data").string(),
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                   "--log.level=info"};
  auto out = dir_.path() / "prometheus.out";
  auto err = dir_.path() / "prometheus.err";
  pid_ = spawn_until_ready(
      argv, out, err, [&] { return get("/-/ready").has_value(); }, std::chrono::seconds(30),
      std::chrono::milliseconds(20), error);
  if (pid_ > 0) {
    return true;
  }
  error = "prometheus did not become ready: " + error;
  return false;
}

std::string PrometheusServer::log_tail() const {
  return tail_file(dir_.path() / "prometheus.err", 30);
}

std::optional<std::string> PrometheusServer::get(std::string_view target) {
  RawClient client(port_);
  if (!client.connected()) {
    return std::nullopt;
  }
  HttpResponse response =
      client.get(target, {{"Host", "127.0.0.1:" + std::to_string(port_)}, {"Connection", "close"}});
  if (!response.ok() || response.status != 200) {
    return std::nullopt;
  }
  return response.body;
}

std::string PrometheusServer::query(std::string_view promql) {
  return get("/api/v1/query?query=" + url_encode(promql)).value_or("");
}

std::optional<double> PrometheusServer::query_value(std::string_view promql) {
  // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},
  //  "value":[<time>,"<sample>"]}]}}: exactly one "value" pair is wanted.
  std::string json = query(promql);
  if (json.find("\"status\":\"success\"") == std::string::npos) {
    return std::nullopt;
  }
  constexpr std::string_view kValue = "\"value\":[";
  size_t at = json.find(kValue);
  if (at == std::string::npos || json.find(kValue, at + 1) != std::string::npos) {
    return std::nullopt;
  }
  size_t open = json.find(",\"", at + kValue.size());
  if (open == std::string::npos) {
    return std::nullopt;
  }
  size_t close = json.find('"', open + 2);
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::string sample = json.substr(open + 2, close - open - 2);
  char* end = nullptr;
  double value = std::strtod(sample.c_str(), &end);
  if (end == sample.c_str()) {
    return std::nullopt;
  }
  return value;
}

bool PrometheusServer::wait_for_value(std::string_view promql, double expected,
                                      std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        auto value = query_value(promql);
        return value && *value == expected;
      },
      timeout, std::chrono::milliseconds(100));
}

bool PrometheusServer::wait_for_target_up(std::chrono::milliseconds timeout) {
  return wait_for_value("up{job=\"" + options_.job + "\"}", 1, timeout);
}

void PrometheusServer::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, Deadline::max());
    pid_ = -1;
  }
}

}  // namespace apisix::test
