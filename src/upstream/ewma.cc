#include "upstream/ewma.h"

#include <algorithm>
#include <cmath>

namespace apisix::upstream {
namespace {

constexpr double kDecaySeconds = std::chrono::duration<double>(EwmaNodeStats::kDecayTime).count();
constexpr int64_t kIdleExpiryNs =
    std::chrono::duration_cast<std::chrono::nanoseconds>(EwmaNodeStats::kIdleExpiry).count();

int64_t to_ns(EwmaClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// e^(-dt / decay) for dt = now - touched, never above 1 (a clock read slightly behind another
// worker's must not amplify the average).
double decay_weight(int64_t now_ns, int64_t touched_ns) {
  double dt = static_cast<double>(std::max<int64_t>(now_ns - touched_ns, 0)) * 1e-9;
  return std::exp(-dt / kDecaySeconds);
}

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

EwmaNodeStats::Snapshot EwmaNodeStats::read() const {
  // Seqlock read. The data loads are acquire so that the second sequence load cannot move
  // above them: a reader that sees a writer's (release) data sees its odd sequence too.
  while (true) {
    uint64_t before = seq_.load(std::memory_order_acquire);
    if (before & 1u) {
      cpu_relax();
      continue;
    }
    Snapshot out{ewma_.load(std::memory_order_acquire),
                 touched_ns_.load(std::memory_order_acquire)};
    if (seq_.load(std::memory_order_relaxed) == before) {
      return out;
    }
  }
}

double EwmaNodeStats::score(EwmaClock::time_point now) const {
  Snapshot s = read();
  int64_t now_ns = to_ns(now);
  if (s.touched_ns == kNever || now_ns - s.touched_ns > kIdleExpiryNs) {
    return 0.0;
  }
  return s.ewma * decay_weight(now_ns, s.touched_ns);
}

void EwmaNodeStats::update(std::chrono::nanoseconds rtt, EwmaClock::time_point now) {
  // Writers exclude each other by making the sequence odd. APISIX takes a lock with timeout 0
  // and drops the update when it is busy; the critical section here is a few instructions, so
  // waiting for it loses nothing.
  uint64_t seq = seq_.load(std::memory_order_relaxed);
  while (true) {
    if (seq & 1u) {
      cpu_relax();
      seq = seq_.load(std::memory_order_relaxed);
      continue;
    }
    if (seq_.compare_exchange_weak(seq, seq + 1, std::memory_order_acquire,
                                   std::memory_order_relaxed)) {
      break;
    }
  }
  int64_t now_ns = to_ns(now);
  double rtt_seconds = std::chrono::duration<double>(rtt).count();
  double old = ewma_.load(std::memory_order_relaxed);
  int64_t touched = touched_ns_.load(std::memory_order_relaxed);
  double updated;
  if (touched == kNever || now_ns - touched > kIdleExpiryNs) {
    updated = rtt_seconds;  // APISIX: no entry, last touched at time 0, so the weight is ~0
  } else {
    double w = decay_weight(now_ns, touched);
    updated = old * w + rtt_seconds * (1.0 - w);
  }
  ewma_.store(updated, std::memory_order_release);
  touched_ns_.store(now_ns, std::memory_order_release);
  seq_.store(seq + 2, std::memory_order_release);
}

Ewma::Ewma(std::span<const uint32_t> nodes, std::vector<std::shared_ptr<EwmaNodeStats>> stats)
    : owners_(std::move(stats)) {
  size_t n = std::min(nodes.size(), owners_.size());
  owners_.resize(n);
  nodes_.assign(nodes.begin(), nodes.begin() + static_cast<std::ptrdiff_t>(n));
  stats_.reserve(n);
  uint32_t max_node = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!owners_[i]) {
      owners_[i] = std::make_shared<EwmaNodeStats>();
    }
    stats_.push_back(owners_[i].get());
    max_node = std::max(max_node, nodes_[i]);
  }
  position_.assign(n == 0 ? 0 : size_t{max_node} + 1, kNotHere);
  for (size_t i = 0; i < n; ++i) {
    position_[nodes_[i]] = static_cast<uint32_t>(i);
  }
}

bool Ewma::report(uint32_t node, std::chrono::nanoseconds rtt, EwmaClock::time_point now) const {
  EwmaNodeStats* stats = stats_of(node);
  if (stats == nullptr) {
    return false;
  }
  stats->update(rtt, now);
  return true;
}

double Ewma::score(uint32_t node, EwmaClock::time_point now) const {
  EwmaNodeStats* stats = stats_of(node);
  return stats == nullptr ? 0.0 : stats->score(now);
}

}  // namespace apisix::upstream
