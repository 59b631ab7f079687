#include "tests/harness/process.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/temp_dir.h"

extern char** environ;

namespace apisix::test {

pid_t spawn_process(const std::vector<std::string>& argv, const std::filesystem::path& out_file,
                    const std::filesystem::path& err_file, std::string& error) {
  // Everything the child needs is prepared before fork(): after it, only async-signal-safe
  // calls are allowed because the test process has other threads.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  int out_fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err_fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) {
    error = std::string("cannot open output files: ") + std::strerror(errno);
    for (int fd : {out_fd, err_fd, null_fd}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
    return -1;
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(args[0], args.data(), environ);
    const char msg[] = "exec failed\n";
    [[maybe_unused]] ssize_t n = ::write(2, msg, sizeof(msg) - 1);
    ::_exit(127);
  }
  int saved = errno;
  ::close(out_fd);
  ::close(err_fd);
  ::close(null_fd);
  if (pid < 0) {
    error = std::string("fork failed: ") + std::strerror(saved);
    return -1;
  }
  return pid;
}

std::optional<int> wait_for_exit(pid_t pid, Deadline deadline) {
  while (true) {
    int status = 0;
    pid_t rc = ::waitpid(pid, &status, WNOHANG);
    if (rc == pid) {
      if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
      }
      if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
      }
      continue;
    }
    if (rc < 0 && errno != EINTR) {
      return -1;
    }
    if (Clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string CommandResult::describe() const {
  std::string s = "exit " + std::to_string(exit_code);
  if (timed_out) {
    s += " (timed out)";
  }
  return s + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  TempDir dir("apisix-cmd-");
  auto out_file = dir.path() / "stdout";
  auto err_file = dir.path() / "stderr";
  CommandResult result;
  std::string error;
  pid_t pid = spawn_process(argv, out_file, err_file, error);
  if (pid < 0) {
    result.err = error;
    return result;
  }
  auto code = wait_for_exit(pid, deadline_in(timeout));
  if (!code) {
    result.timed_out = true;
    ::kill(pid, SIGKILL);
    code = wait_for_exit(pid, Deadline::max());
  }
  result.exit_code = *code;
  result.out = read_file(out_file);
  result.err = read_file(err_file);
  return result;
}

std::string find_program(const char* env_var, std::string_view name) {
  if (const char* env = std::getenv(env_var); env != nullptr && *env != '\0') {
    return env;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    size_t colon = dirs.find(':');
    std::filesystem::path candidate = std::filesystem::path(dirs.substr(0, colon)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
  }
  return {};
}

uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

pid_t spawn_until_ready(const std::vector<std::string>& argv, const std::filesystem::path& out_file,
                        const std::filesystem::path& err_file, const std::function<bool()>& ready,
                        std::chrono::milliseconds timeout, std::chrono::milliseconds poll,
                        std::string& error) {
  pid_t pid = spawn_process(argv, out_file, err_file, error);
  if (pid <= 0) {
    return -1;
  }
  bool exited = false;
  bool up = wait_until(
      [&] {
        if (wait_for_exit(pid, Clock::now())) {
          exited = true;  // reaped: stop waiting, and never signal that pid again
          return true;
        }
        return ready();
      },
      timeout, poll);
  if (up && !exited) {
    return pid;
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    wait_for_exit(pid, Deadline::max());
  }
  error = (exited ? "exited early; " : "not ready in time; ") + tail_file(out_file, 20) +
          tail_file(err_file, 20);
  return -1;
}

}  // namespace apisix::test
