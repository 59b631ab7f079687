#include "tests/harness/load_loop.h"

#include <memory>

#include "tests/harness/raw_client.h"
#include "tests/harness/wait.h"

namespace apisix::test {

uint64_t LoadResult::count(int status) const {
  auto it = by_status.find(status);
  return it == by_status.end() ? 0 : it->second;
}

std::string LoadResult::describe() const {
  std::string s = std::to_string(requests) + " responses, " + std::to_string(failures) +
                  " failures, " + std::to_string(connections) + " connections; statuses:";
  for (const auto& [status, n] : by_status) {
    s += " " + std::to_string(status) + "x" + std::to_string(n);
  }
  for (const auto& e : errors) {
    s += "\n  " + e;
  }
  return s;
}

LoadLoop::LoadLoop(LoadOptions options) : options_(std::move(options)) {}

LoadLoop::~LoadLoop() {
  if (!threads_.empty()) {
    stop();
  }
}

void LoadLoop::start() {
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] { worker(); });
  }
}

LoadResult LoadLoop::stop() {
  stopping_.store(true);
  for (auto& t : threads_) {
    t.join();
  }
  threads_.clear();
  std::lock_guard lock(mu_);
  return result_;
}

LoadResult LoadLoop::run() {
  start();
  for (auto& t : threads_) {
    t.join();
  }
  threads_.clear();
  std::lock_guard lock(mu_);
  return result_;
}

void LoadLoop::worker() {
  Deadline end = options_.duration.count() > 0 ? Clock::now() + options_.duration : Deadline::max();
  std::unique_ptr<RawClient> client;
  ReadOptions read;
  read.timeout = options_.request_timeout;
  read.store_limit = 4096;
  auto fail = [&](const std::string& what) {
    std::lock_guard lock(mu_);
    ++result_.failures;
    if (result_.errors.size() < 10) {
      result_.errors.push_back(what);
    }
  };
  while (!stopping_.load() && Clock::now() < end) {
    if (options_.max_requests > 0 && issued_.fetch_add(1) >= options_.max_requests) {
      break;
    }
    if (!client || !client->connected()) {
      client = std::make_unique<RawClient>(options_.port);
      {
        std::lock_guard lock(mu_);
        ++result_.connections;
      }
      if (!client->connected()) {
        fail("connect failed: errno " + std::to_string(client->connect_errno()));
        client.reset();
        continue;
      }
    }
    HttpResponse resp = client->round_trip(options_.request, read);
    if (!resp.ok()) {
      fail(resp.error);
      client.reset();
      continue;
    }
    completed_.fetch_add(1);
    {
      std::lock_guard lock(mu_);
      ++result_.requests;
      ++result_.by_status[resp.status];
      ++result_.by_body[resp.body.substr(0, 64)];
    }
    if (resp.headers.has_token("Connection", "close") || resp.framing == BodyFraming::Kind::Close) {
      client.reset();
    }
  }
}

}  // namespace apisix::test
