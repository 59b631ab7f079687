#pragma once

// Coroutines shared by the store tests and the store_writer helper: many puts in flight at
// once (the way the Admin API's concurrent requests reach a store).

#include <functional>
#include <string>

#include "core/loop.h"
#include "core/task.h"
#include "store/config_store.h"
#include "store/wake_event.h"

namespace apisix::test {

// The key and value of write number `i` under `prefix`.
inline std::string test_key(const std::string& prefix, int i) { return prefix + std::to_string(i); }
inline std::string test_value(int i) {
  return "{\"i\":" + std::to_string(i) + ",\"pad\":\"" +
         std::string(static_cast<size_t>(i % 300), 'x') + "\"}";
}

struct PutAllState {
  int remaining = 0;
  int failures = 0;
  store::WakeEvent* wake = nullptr;
  std::function<void(int)> on_ack;
};

inline core::Task<void> put_worker(store::ConfigStore* s, std::string prefix, int first, int step,
                                   int count, PutAllState* state) {
  for (int i = first; i < count; i += step) {
    auto r = co_await s->put(test_key(prefix, i), test_value(i), store::PutOptions{});
    if (!r || r->conflict()) {
      ++state->failures;
      break;
    }
    if (state->on_ack) {
      state->on_ack(i);
    }
  }
  if (--state->remaining == 0) {
    state->wake->notify();
  }
}

// Puts keys prefix+0 .. prefix+(count-1) with `concurrency` writers; returns the failures.
inline core::Task<int> put_all(store::ConfigStore* s, std::string prefix, int count,
                               int concurrency, std::function<void(int)> on_ack = {}) {
  store::WakeEvent wake(*core::Loop::current());
  PutAllState state;
  state.remaining = concurrency;
  state.wake = &wake;
  state.on_ack = std::move(on_ack);
  for (int w = 0; w < concurrency; ++w) {
    core::spawn(put_worker(s, prefix, w, concurrency, count, &state));
  }
  while (state.remaining > 0) {
    co_await wake.wait(core::kNoDeadline);
  }
  co_return state.failures;
}

}  // namespace apisix::test
