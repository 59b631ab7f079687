#include "tests/harness/gateway_process.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/harness/wait.h"

namespace apisix::test {

namespace {

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::optional<std::vector<Listener>> parse_listen_file(const std::string& text) {
  std::vector<Listener> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    std::istringstream fields(line);
    Listener l;
    std::string addr;
    if (!(fields >> l.kind >> addr)) {
      return std::nullopt;
    }
    size_t colon = addr.rfind(':');
    if (colon == std::string::npos) {
      return std::nullopt;
    }
    l.ip = addr.substr(0, colon);
    if (l.ip.size() >= 2 && l.ip.front() == '[' && l.ip.back() == ']') {
      l.ip = l.ip.substr(1, l.ip.size() - 2);
    }
    int port = std::atoi(addr.c_str() + colon + 1);
    if (port <= 0 || port > 65535) {
      return std::nullopt;
    }
    l.port = static_cast<uint16_t>(port);
    out.push_back(l);
  }
  return out;
}

}  // namespace

std::string GatewayConfig::to_yaml() const {
  std::ostringstream y;
  y << "apisix:\n"
       "  node_listen:\n"
       "    - ip: 127.0.0.1\n"
       "      port: "
    << listen_port
    << "\n"
       "  enable_ipv6: false\n"
       "  enable_control: false\n"
       "  enable_admin: false\n"
    << extra_apisix_yaml
    << "deployment:\n"
       "  role: data_plane\n"
       "  role_data_plane:\n"
       "    config_provider: yaml\n"
       "nginx_config:\n"
       "  worker_processes: "
    << worker_processes
    << "\n"
       "  http:\n"
       "    keepalive_timeout: "
    << keepalive_timeout << "\n    client_header_timeout: " << client_header_timeout
    << "\n    client_body_timeout: " << client_body_timeout
    << "\n    client_max_body_size: " << client_max_body_size
    << "\n    send_timeout: " << send_timeout << "\n"
    << extra_yaml;
  return y.str();
}

std::string gateway_binary() {
  const char* env = std::getenv("APISIX_TEST_BINARY");
  return env != nullptr && *env != '\0' ? std::string(env) : default_gateway_binary();
}

GatewayOptions proxy_options(const std::vector<std::string>& nodes, GatewayConfig config,
                             double timeout_s, int retries) {
  GatewayOptions options;
  options.config = std::move(config);
  options.routes_yaml = catch_all_routes(nodes, timeout_s, retries);
  return options;
}

std::string catch_all_routes(const std::vector<std::string>& nodes, double timeout_s, int retries) {
  std::string t = format_number(timeout_s);
  std::string y = "upstreams:\n  - id: u1\n    nodes:\n";
  for (const auto& node : nodes) {
    y += "      \"" + node + "\": 1\n";
  }
  y += "    timeout: {connect: " + t + ", send: " + t + ", read: " + t + "}\n";
  if (retries >= 0) {
    y += "    retries: " + std::to_string(retries) + "\n";
  }
  y += "routes:\n  - id: r1\n    uri: /*\n    upstream_id: u1\n#END\n";
  return y;
}

long proc_status_kb(pid_t pid, std::string_view key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ':') {
      return std::atol(line.c_str() + key.size() + 1);
    }
  }
  return -1;
}

GatewayProcess::GatewayProcess() : dir_("apisix-itest-") {
  std::filesystem::create_directories(conf_dir());
  std::filesystem::create_directories(logs_dir());
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, Deadline::max());
  }
  if (std::string report = sanitizer_report(); !report.empty()) {
    ADD_FAILURE() << "the gateway reported a sanitizer error:\n" << report;
  }
  if (::testing::Test::HasFailure()) {
    std::cerr << "[gateway logs]\n" << describe_logs() << std::endl;
  }
}

std::string GatewayProcess::sanitizer_report() const {
  std::string text = read_file(logs_dir() / "stderr.log");
  size_t at = std::string::npos;
  for (const char* marker :
       {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
        "ERROR: ThreadSanitizer", "runtime error:"}) {
    at = std::min(at, text.find(marker));
  }
  if (at == std::string::npos) {
    return {};
  }
  size_t line_start = text.rfind('\n', at);
  return text.substr(line_start == std::string::npos ? 0 : line_start + 1, 6000);
}

::testing::AssertionResult GatewayProcess::fail(const std::string& what) const {
  return ::testing::AssertionFailure() << what << "\n" << describe_logs();
}

std::string GatewayProcess::describe_logs(size_t lines) const {
  return "--- error.log (tail) ---\n" + tail_file(logs_dir() / "error.log", lines) +
         "--- stderr (tail) ---\n" + tail_file(logs_dir() / "stderr.log", lines) +
         "--- stdout (tail) ---\n" + tail_file(logs_dir() / "stdout.log", lines / 4);
}

void GatewayProcess::prepare(const GatewayOptions& options) {
  binary_ = options.binary.empty() ? gateway_binary() : options.binary;
  write_file(conf_dir() / "config.yaml",
             options.config_yaml.empty() ? options.config.to_yaml() : options.config_yaml);
  update_routes(options.routes_yaml);
}

::testing::AssertionResult GatewayProcess::start(const GatewayOptions& options) {
  prepare(options);
  if (::access(binary_.c_str(), X_OK) != 0) {
    return ::testing::AssertionFailure() << "gateway binary not executable: " << binary_;
  }

  std::string error;
  // A process killed with SIGKILL leaves its listen file behind: never read a stale one.
  std::error_code ec;
  std::filesystem::remove(logs_dir() / "listen", ec);
  exit_code_.reset();
  listeners_.clear();
  pid_ = spawn_process({binary_, "start", "-p", prefix().string(), "--foreground"},
                       logs_dir() / "stdout.log", logs_dir() / "stderr.log", error);
  if (pid_ < 0) {
    return ::testing::AssertionFailure() << error;
  }
  auto listen_file = logs_dir() / "listen";
  Deadline deadline = deadline_in(options.start_timeout);
  while (true) {
    if (std::filesystem::exists(listen_file)) {
      auto parsed = parse_listen_file(read_file(listen_file));
      if (!parsed) {
        return fail("cannot parse logs/listen:\n" + read_file(listen_file));
      }
      listeners_ = *parsed;
      if (http_port() == 0) {
        return fail("logs/listen has no http listener:\n" + read_file(listen_file));
      }
      return ::testing::AssertionSuccess();
    }
    if (auto code = wait_for_exit(pid_, Clock::now())) {
      exit_code_ = code;
      return fail("gateway exited with code " + std::to_string(*code) + " before listening");
    }
    if (Clock::now() >= deadline) {
      return fail("gateway did not write logs/listen in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

uint16_t GatewayProcess::http_port() const {
  for (const auto& l : listeners_) {
    if (l.kind == "http") {
      return l.port;
    }
  }
  return 0;
}

uint16_t GatewayProcess::admin_port() const {
  for (const auto& l : listeners_) {
    if (l.kind == "admin") {
      return l.port;
    }
  }
  return 0;
}

uint16_t GatewayProcess::control_port() const {
  for (const auto& l : listeners_) {
    if (l.kind == "control") {
      return l.port;
    }
  }
  return 0;
}

bool GatewayProcess::signal(int sig) const { return pid_ > 0 && ::kill(pid_, sig) == 0; }

std::optional<int> GatewayProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (!exit_code_ && pid_ > 0) {
    exit_code_ = wait_for_exit(pid_, deadline_in(timeout));
  }
  return exit_code_;
}

bool GatewayProcess::is_running() {
  if (pid_ <= 0) {
    return false;
  }
  if (!exit_code_) {
    exit_code_ = wait_for_exit(pid_, Clock::now());
  }
  return !exit_code_.has_value();
}

long GatewayProcess::rss_kb() const { return pid_ > 0 ? proc_status_kb(pid_, "VmRSS") : -1; }

long GatewayProcess::peak_rss_kb() const { return pid_ > 0 ? proc_status_kb(pid_, "VmHWM") : -1; }

void GatewayProcess::update_routes(std::string_view yaml) {
  auto path = conf_dir() / "apisix.yaml";
  auto tmp = conf_dir() / "apisix.yaml.tmp";
  write_file(tmp, yaml);
  long now = static_cast<long>(std::time(nullptr));
  long mtime = std::max(now, last_routes_mtime_ + 1);
  last_routes_mtime_ = mtime;
  timeval times[2] = {{mtime, 0}, {mtime, 0}};
  ::utimes(tmp.c_str(), times);
  std::filesystem::rename(tmp, path);
}

void GatewayProcess::update_config(std::string_view yaml) {
  write_file_atomically(conf_dir() / "config.yaml", yaml);
}

CommandResult GatewayProcess::cli(const std::vector<std::string>& args,
                                  std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{binary_.empty() ? gateway_binary() : binary_};
  argv.insert(argv.end(), args.begin(), args.end());
  // The command may wait for the gateway to exit (stop, quit): keep reaping the gateway
  // meanwhile, or its zombie would look alive to the command.
  TempDir dir("apisix-cli-");
  CommandResult result;
  std::string error;
  pid_t pid = spawn_process(argv, dir.path() / "stdout", dir.path() / "stderr", error);
  if (pid < 0) {
    result.err = error;
    return result;
  }
  Deadline deadline = deadline_in(timeout);
  std::optional<int> code;
  while (!code) {
    code = wait_for_exit(pid, std::min(Clock::now() + std::chrono::milliseconds(5), deadline));
    is_running();
    if (!code && Clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      code = wait_for_exit(pid, Deadline::max());
    }
  }
  result.exit_code = *code;
  result.out = read_file(dir.path() / "stdout");
  result.err = read_file(dir.path() / "stderr");
  return result;
}

std::string GatewayProcess::error_log() const { return read_file(logs_dir() / "error.log"); }

std::string GatewayProcess::access_log() const { return read_file(logs_dir() / "access.log"); }

}  // namespace apisix::test
