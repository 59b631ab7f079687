#pragma once

// A small load generator: K threads, each on its own keep-alive connection, send the same
// request over and over until stopped, a time limit or a request budget, and count the
// outcomes. Used to check that reloads and config changes drop nothing.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace apisix::test {

struct LoadOptions {
  uint16_t port = 0;
  int threads = 4;
  std::string request;                    // the raw request, sent as is (keep-alive)
  std::chrono::milliseconds duration{0};  // 0: until stop()
  uint64_t max_requests = 0;              // 0: unlimited (total over all threads)
  std::chrono::milliseconds request_timeout{10000};
};

struct LoadResult {
  uint64_t requests = 0;     // responses received
  uint64_t failures = 0;     // requests that got no complete response
  uint64_t connections = 0;  // connections opened
  std::map<int, uint64_t> by_status;
  std::map<std::string, uint64_t> by_body;  // first 64 bytes of each body
  std::vector<std::string> errors;          // the first few failure descriptions

  uint64_t count(int status) const;
  std::string describe() const;
};

class LoadLoop {
 public:
  explicit LoadLoop(LoadOptions options);
  ~LoadLoop();
  LoadLoop(const LoadLoop&) = delete;
  LoadLoop& operator=(const LoadLoop&) = delete;

  void start();
  // Stops the threads (each finishes its current request) and returns the totals.
  LoadResult stop();
  // Runs to completion (needs duration or max_requests) and returns the totals.
  LoadResult run();
  // Responses received so far.
  uint64_t completed() const { return completed_.load(); }

 private:
  void worker();

  LoadOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> issued_{0};
  std::atomic<uint64_t> completed_{0};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  LoadResult result_;
};

}  // namespace apisix::test
