// apisix-cpp command line, shaped like APISIX's: start, stop, quit, reload, test, version.

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/gateway_config.h"
#include "config/standalone.h"
#include "core/log.h"
#include "gateway/server.h"

#ifndef APISIX_CPP_VERSION
#define APISIX_CPP_VERSION "0.0.0"
#endif
#ifndef APISIX_COMPAT_VERSION
#define APISIX_COMPAT_VERSION "3.18.0"
#endif

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kUsage =
    "Usage: apisix-cpp <command> [options]\n"
    "\n"
    "Commands:\n"
    "  start     start the gateway (in the background unless --foreground)\n"
    "  stop      fast stop (SIGTERM)\n"
    "  quit      graceful stop: finish in-flight requests first (SIGQUIT)\n"
    "  reload    re-read config.yaml and the route config without dropping connections (SIGHUP)\n"
    "  test      check the configuration and exit\n"
    "  version   print the version\n"
    "  help      print this help\n"
    "\n"
    "Options:\n"
    "  -p, --prefix PREFIX   directory holding conf/, logs/ and data/ (default: current)\n"
    "  -c, --config FILE     config.yaml to use (default: PREFIX/conf/config.yaml)\n"
    "  --foreground          (start) stay in the foreground\n";

struct Cli {
  std::string command;
  std::string prefix = ".";
  std::string config;
  bool foreground = false;
};

bool parse_cli(int argc, char** argv, Cli& cli) {
  if (argc < 2) {
    return false;
  }
  cli.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "-p" || arg == "--prefix") && i + 1 < argc) {
      cli.prefix = argv[++i];
    } else if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
      cli.config = argv[++i];
    } else if (arg == "--foreground" || arg == "-f") {
      cli.foreground = true;
    } else {
      std::cerr << "apisix-cpp: unknown option " << arg << "\n";
      return false;
    }
  }
  std::error_code ec;
  fs::path abs = fs::absolute(cli.prefix, ec);
  cli.prefix = abs.lexically_normal().string();
  if (!cli.config.empty()) {
    cli.config = fs::absolute(cli.config, ec).string();
  }
  return true;
}

std::string config_path(const Cli& cli) {
  return cli.config.empty() ? (fs::path(cli.prefix) / "conf/config.yaml").string() : cli.config;
}

int read_pid(const Cli& cli) {
  std::ifstream in(fs::path(cli.prefix) / "logs/apisix.pid");
  int pid = 0;
  in >> pid;
  return pid;
}

int signal_running(const Cli& cli, int sig, bool wait_exit) {
  int pid = read_pid(cli);
  if (pid <= 0 || ::kill(pid, 0) != 0) {
    std::cerr << "apisix-cpp: not running (no live process in "
              << (fs::path(cli.prefix) / "logs/apisix.pid").string() << ")\n";
    return 1;
  }
  if (::kill(pid, sig) != 0) {
    std::cerr << "apisix-cpp: cannot signal " << pid << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  if (wait_exit) {
    auto deadline = std::chrono::steady_clock::now() + 300s;
    while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
  }
  return 0;
}

int run_test(const Cli& cli) {
  auto config =
      apisix::config::load_gateway_config_file(config_path(cli), apisix::config::process_env());
  if (!config) {
    std::cerr << "apisix-cpp: " << config.error().context << "\n";
    std::cerr << "configuration test failed\n";
    return 1;
  }
  auto settings = apisix::gateway::make_settings(*config);
  if (!settings) {
    std::cerr << "apisix-cpp: " << settings.error().context << "\n";
    std::cerr << "configuration test failed\n";
    return 1;
  }
  if (config->config_provider == "yaml" && config->role == "data_plane") {
    fs::path file = fs::path(cli.prefix) / "conf/apisix.yaml";
    std::ifstream in(file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && text.empty()) {
      std::cerr << "apisix-cpp: cannot read " << file.string() << "\n";
      return 1;
    }
    auto standalone = apisix::config::parse_standalone_yaml(text, apisix::config::process_env());
    if (!standalone) {
      std::cerr << "apisix-cpp: " << file.string() << ": " << standalone.error().context << "\n";
      std::cerr << "configuration test failed\n";
      return 1;
    }
    for (const auto& message : standalone->item_errors) {
      std::cerr << "apisix-cpp: " << file.string() << ": " << message << "\n";
    }
    if (!standalone->item_errors.empty()) {
      std::cerr << "configuration test failed\n";
      return 1;
    }
  }
  std::cout << "configuration test is successful\n";
  return 0;
}

// Blocks the signals the control thread reads through signalfd; threads inherit the mask.
void block_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1}) {
    sigaddset(&set, sig);
  }
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

int run_server(const Cli& cli, int report_fd) {
  block_signals();
  apisix::gateway::ServerOptions options;
  options.prefix = cli.prefix;
  options.config_path = cli.config;
  apisix::gateway::Server server(options);
  auto started = server.start();
  if (!started) {
    std::string message = "apisix-cpp: " + started.error().context + "\n";
    if (report_fd >= 0) {
      [[maybe_unused]] ssize_t n = ::write(report_fd, message.data(), message.size());
    } else {
      std::cerr << message;
    }
    apisix::core::log_error(started.error().context);
    return 1;
  }
  if (report_fd >= 0) {
    [[maybe_unused]] ssize_t n = ::write(report_fd, "", 1);
    ::close(report_fd);
  }
  int code = server.run();
  std::fflush(nullptr);
  // Coroutines parked on stopped loops are not unwound; the process ends here.
  std::_Exit(code);
}

int start(const Cli& cli) {
  if (cli.foreground) {
    return run_server(cli, -1);
  }
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) {
    std::perror("pipe");
    return 1;
  }
  pid_t child = ::fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  if (child == 0) {
    ::close(pipe_fds[0]);
    ::setsid();
    int null_fd = ::open("/dev/null", O_RDWR);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    return run_server(cli, pipe_fds[1]);
  }
  ::close(pipe_fds[1]);
  std::string report;
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buf, sizeof(buf))) > 0) {
    report.append(buf, static_cast<size_t>(n));
    if (!report.empty() && report.back() == '\0') {
      break;
    }
  }
  ::close(pipe_fds[0]);
  if (report.size() == 1 && report[0] == '\0') {
    return 0;
  }
  std::cerr << (report.empty() ? "apisix-cpp: failed to start\n" : report);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Cli cli;
  if (!parse_cli(argc, argv, cli)) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string& cmd = cli.command;
  if (cmd == "version") {
    std::cout << "apisix-cpp " APISIX_CPP_VERSION " (APISIX " APISIX_COMPAT_VERSION
                 " compatible)\n";
    return 0;
  }
  if (cmd == "help" || cmd == "-h" || cmd == "--help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd == "start") {
    return start(cli);
  }
  if (cmd == "stop") {
    return signal_running(cli, SIGTERM, true);
  }
  if (cmd == "quit") {
    return signal_running(cli, SIGQUIT, true);
  }
  if (cmd == "reload") {
    return signal_running(cli, SIGHUP, false);
  }
  if (cmd == "test") {
    return run_test(cli);
  }
  std::cerr << "apisix-cpp: unknown command " << cmd << "\n\n" << kUsage;
  return 2;
}
