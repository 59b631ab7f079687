#pragma once

// Child processes for integration tests: spawn with output to files, wait with a deadline,
// run a command to completion and capture what it printed.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "tests/harness/wait.h"

namespace apisix::test {

// Starts argv[0] (a path) with stdout/stderr appended to the given files and stdin from
// /dev/null. The child gets SIGKILL if the spawning thread exits first. Returns the pid, or
// -1 with `error` set.
pid_t spawn_process(const std::vector<std::string>& argv, const std::filesystem::path& out_file,
                    const std::filesystem::path& err_file, std::string& error);

// Starts argv as spawn_process() does and waits (polling every `poll`, up to `timeout`
// scaled) until `ready()` is true. Returns the pid; or -1 when the child exited first or
// never became ready (it is killed and reaped), with `error` holding the tails of its output
// files.
pid_t spawn_until_ready(const std::vector<std::string>& argv, const std::filesystem::path& out_file,
                        const std::filesystem::path& err_file, const std::function<bool()>& ready,
                        std::chrono::milliseconds timeout, std::chrono::milliseconds poll,
                        std::string& error);

// Reaps `pid` if it has exited by `deadline`: returns its exit code, or 128 + signal number
// when a signal ended it. nullopt when still running at the deadline.
std::optional<int> wait_for_exit(pid_t pid, Deadline deadline);

struct CommandResult {
  int exit_code = -1;
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string describe() const;
};

// The program to run for a test peer: $<env_var> when set, else the first `name` on $PATH
// ("" when neither).
std::string find_program(const char* env_var, std::string_view name);

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it for a socket bound
// to port 0); 0 on failure.
uint16_t free_loopback_port();

// Runs argv to completion (SIGKILL after `timeout`, scaled) and captures its output.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace apisix::test
