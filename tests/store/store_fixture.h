#pragma once

// A ConfigStore on a LoopThread, with synchronous wrappers for the tests. The store kind is
// "embedded" (a fresh data directory) or "etcd" (a fresh etcd server per test).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/config_store.h"
#include "store/embedded_store.h"
#include "store/etcd_store.h"
#include "tests/harness/etcd_server.h"
#include "tests/harness/temp_dir.h"
#include "tests/store/loop_thread.h"
#include "tests/store/store_ops.h"

namespace apisix::test {

class StoreFixture {
 public:
  // Starts what `kind` needs and opens the store; check ok() / error().
  explicit StoreFixture(const std::string& kind, store::EmbeddedOptions embedded = {}) {
    if (kind == "etcd") {
      etcd_ = std::make_unique<EtcdServer>();
      if (!etcd_->ok()) {
        error_ = "etcd: " + etcd_->error();
        return;
      }
    }
    if (embedded.data_dir.empty()) {
      embedded.data_dir = dir_.path() / "data";
    }
    embedded_options_ = embedded;
    open();
  }
  ~StoreFixture() { close(); }

  bool ok() const { return store_ != nullptr; }
  const std::string& error() const { return error_; }
  store::ConfigStore& store() { return *store_; }
  store::EmbeddedStore* embedded() { return dynamic_cast<store::EmbeddedStore*>(store_.get()); }
  EtcdServer* etcd() { return etcd_.get(); }
  LoopThread& loop() { return loop_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  void open() {
    loop_.invoke([this] {
      if (etcd_) {
        store::EtcdOptions options;
        options.hosts = {etcd_->client_url()};
        auto made = store::EtcdStore::create(loop_.loop(), options);
        if (made) {
          store_ = std::move(made.value());
        } else {
          error_ = made.error().context;
        }
      } else {
        auto made = store::EmbeddedStore::open(loop_.loop(), embedded_options_);
        if (made) {
          store_ = std::move(made.value());
        } else {
          error_ = made.error().context;
        }
      }
    });
  }
  void close() {
    loop_.invoke([this] { store_.reset(); });
  }

  Result<store::WriteResult> put(const std::string& key, const std::string& value,
                                 store::PutOptions options = {}) {
    return loop_.run([=, this] { return store_->put(key, value, options); });
  }
  Result<store::GetResult> get(const std::string& key) {
    return loop_.run([=, this] { return store_->get(key); });
  }
  Result<store::ListResult> list(const std::string& prefix) {
    return loop_.run([=, this] { return store_->list(prefix); });
  }
  Result<store::WriteResult> remove(const std::string& key,
                                    std::optional<int64_t> expected = std::nullopt) {
    return loop_.run([=, this] { return store_->remove(key, expected); });
  }
  Result<void> compact(int64_t revision) {
    return loop_.run([=, this] { return store_->compact(revision); });
  }
  Result<std::unique_ptr<store::Watch>> watch(const std::string& prefix, int64_t from) {
    return loop_.run([=, this] { return store_->watch(prefix, from); });
  }
  Result<store::WatchBatch> next(store::Watch& w, std::chrono::milliseconds timeout) {
    auto deadline = core::Clock::now() + scaled(timeout);
    return loop_.run([&w, deadline] { return w.next(deadline); });
  }
  int put_all(const std::string& prefix, int count, int concurrency) {
    return loop_.run([=, this] { return test::put_all(store_.get(), prefix, count, concurrency); });
  }
  // Reads batches until `count` events arrived, the compacted signal, or the timeout.
  struct Collected {
    std::vector<store::Event> events;
    bool compacted = false;
    int64_t compact_revision = 0;
    std::string error;
  };
  Collected collect(store::Watch& w, size_t count, std::chrono::milliseconds timeout) {
    Collected out;
    auto until = deadline_in(timeout);
    while (out.events.size() < count && !out.compacted) {
      auto left = std::chrono::milliseconds(remaining_ms(until));
      if (left.count() == 0) {
        out.error = "timed out";
        break;
      }
      auto deadline = core::Clock::now() + left;
      auto batch = loop_.run([&w, deadline] { return w.next(deadline); });
      if (!batch) {
        out.error = batch.error().context;
        break;
      }
      out.compacted = batch->compacted;
      out.compact_revision = batch->compact_revision;
      for (auto& e : batch->events) {
        out.events.push_back(std::move(e));
      }
    }
    return out;
  }

 private:
  std::unique_ptr<EtcdServer> etcd_;
  TempDir dir_{"apisix-store-"};
  store::EmbeddedOptions embedded_options_;
  std::string error_;
  LoopThread loop_;
  std::unique_ptr<store::ConfigStore> store_;
};

}  // namespace apisix::test
