// store_writer <data_dir> <count> <concurrency>: opens an embedded store and puts keys
// /w/<i> = test_value(i) with `concurrency` writers, printing "ack <i>" on stdout the moment a
// put is acknowledged. The durability test kills it with SIGKILL mid-way and checks that every
// printed key survived.

#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "core/loop.h"
#include "store/embedded_store.h"
#include "tests/store/store_ops.h"

namespace {

apisix::core::Task<void> write_all(apisix::core::Loop* loop, apisix::store::ConfigStore* store,
                                   int count, int concurrency, int* failures) {
  *failures = co_await apisix::test::put_all(store, "/w/", count, concurrency, [](int i) {
    std::string line = "ack " + std::to_string(i) + "\n";
    // One write(2) per line: a line in the file is whole, and written after the ack.
    [[maybe_unused]] ssize_t n = ::write(1, line.data(), line.size());
  });
  loop->stop();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: store_writer <data_dir> <count> <concurrency>\n");
    return 2;
  }
  apisix::core::Loop loop;
  apisix::store::EmbeddedOptions options;
  options.data_dir = argv[1];
  // Small enough that a long run also rewrites its files (and may be killed doing so).
  options.compact_log_bytes = 256 * 1024;
  auto store = apisix::store::EmbeddedStore::open(loop, options);
  if (!store) {
    std::fprintf(stderr, "open failed: %s\n", store.error().context.c_str());
    return 1;
  }
  int failures = 0;
  int count = std::atoi(argv[2]);
  int concurrency = std::atoi(argv[3]);
  apisix::store::ConfigStore* s = store->get();
  // Started from inside the loop: put_all needs Loop::current().
  loop.post([&] { apisix::core::spawn(write_all(&loop, s, count, concurrency, &failures)); });
  loop.run();
  store.value().reset();
  return failures == 0 ? 0 : 1;
}
