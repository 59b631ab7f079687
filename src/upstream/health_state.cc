#include "upstream/health_state.h"

#include <algorithm>
#include <bit>

namespace apisix::upstream {

std::string_view to_string(NodeHealth health) {
  switch (health) {
    case NodeHealth::Healthy:
      return "healthy";
    case NodeHealth::Unhealthy:
      return "unhealthy";
    case NodeHealth::MostlyHealthy:
      return "mostly_healthy";
    case NodeHealth::MostlyUnhealthy:
      return "mostly_unhealthy";
  }
  return "healthy";
}

size_t HealthyView::count() const {
  size_t n = 0;
  for (size_t w = 0; w < (nodes_ + 63) / 64; ++w) {
    n += static_cast<size_t>(std::popcount(words_[w].load(std::memory_order_acquire)));
  }
  return n;
}

namespace {

// One target's state in a single word, so a report is one compare-and-swap:
// bits 0-7 success, 8-15 HTTP failures, 16-23 TCP failures, 24-31 timeouts (the checker
// library's 8-bit counters), bits 32-39 the NodeHealth.
constexpr unsigned kSuccessShift = 0;
constexpr unsigned kHttpShift = 8;
constexpr unsigned kTcpShift = 16;
constexpr unsigned kTimeoutShift = 24;
constexpr uint64_t kSuccessMask = 0x000000ffULL;
constexpr uint64_t kFailureMask = 0xffffff00ULL;
constexpr unsigned kHealthShift = 32;

NodeHealth health_of(uint64_t word) {
  return static_cast<NodeHealth>((word >> kHealthShift) & 0xff);
}
uint64_t counters_of(uint64_t word) { return word & 0xffffffffULL; }
uint32_t counter(uint64_t word, unsigned shift) {
  return static_cast<uint32_t>((word >> shift) & 0xff);
}
uint64_t make_word(NodeHealth health, uint64_t counters) {
  return (static_cast<uint64_t>(health) << kHealthShift) | counters;
}

unsigned shift_of(UpstreamHealth::Outcome outcome) {
  switch (outcome) {
    case UpstreamHealth::Outcome::Success:
      return kSuccessShift;
    case UpstreamHealth::Outcome::HttpFailure:
      return kHttpShift;
    case UpstreamHealth::Outcome::TcpFailure:
      return kTcpShift;
    case UpstreamHealth::Outcome::Timeout:
      return kTimeoutShift;
  }
  return kSuccessShift;
}

// lua-resty-healthcheck's counting rule (core.md §7.7): a success is not counted once the
// target is fully healthy, nor a failure once it is fully unhealthy; a success clears the
// failure counters and a failure clears the success counter; reaching the threshold sets the
// state (the counters stay as they are); otherwise the first failure of a healthy target
// makes it mostly_healthy and the first success of an unhealthy one mostly_unhealthy.
// Returns `word` itself when the report changes nothing.
uint64_t next_word(uint64_t word, UpstreamHealth::Outcome outcome, uint32_t limit) {
  bool is_success = outcome == UpstreamHealth::Outcome::Success;
  NodeHealth current = health_of(word);
  if ((is_success && current == NodeHealth::Healthy) ||
      (!is_success && current == NodeHealth::Unhealthy)) {
    return word;
  }
  unsigned shift = shift_of(outcome);
  uint32_t value = std::min<uint32_t>(counter(word, shift) + 1, 0xff);
  uint64_t counters = (counters_of(word) & ~(0xffULL << shift)) | (uint64_t{value} << shift);
  counters &= is_success ? kSuccessMask : kFailureMask;
  NodeHealth next = current;
  if (value >= limit) {
    next = is_success ? NodeHealth::Healthy : NodeHealth::Unhealthy;
  } else if (current == NodeHealth::Healthy && (counters & kFailureMask) != 0) {
    next = NodeHealth::MostlyHealthy;
  } else if (current == NodeHealth::Unhealthy && (counters & kSuccessMask) != 0) {
    next = NodeHealth::MostlyUnhealthy;
  }
  return make_word(next, counters);
}

std::string_view strip_brackets(std::string_view ip) {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') {
    return ip.substr(1, ip.size() - 2);
  }
  return ip;
}

}  // namespace

UpstreamHealth::UpstreamHealth(std::string key, std::shared_ptr<const HealthConfig> config,
                               std::span<const HealthNode> nodes, std::string_view rewrite_host)
    : key_(std::move(key)), config_(std::move(config)), nodes_(nodes.begin(), nodes.end()) {
  const ActiveCheck& active = config_->active;
  node_target_.reserve(nodes_.size());
  for (const HealthNode& node : nodes_) {
    HealthTarget t;
    t.ip = node.ip;
    t.port = active.port != 0 ? active.port : node.port;
    t.hostname = !active.host.empty() ? active.host : std::string(strip_brackets(node.ip));
    t.host_header = !rewrite_host.empty() ? std::string(rewrite_host) : node.domain;
    // The checker library identifies a target by ip, port and hostname; a second node with
    // the same identity shares the first one's state (and its Host header).
    auto same = std::find_if(targets_.begin(), targets_.end(), [&](const HealthTarget& x) {
      return x.ip == t.ip && x.port == t.port && x.hostname == t.hostname;
    });
    if (same == targets_.end()) {
      node_target_.push_back(targets_.size());
      targets_.push_back(std::move(t));
      target_nodes_.emplace_back();
    } else {
      node_target_.push_back(static_cast<size_t>(same - targets_.begin()));
    }
    target_nodes_[node_target_.back()].push_back(node_target_.size() - 1);
  }
  slots_ = std::make_unique<Slot[]>(targets_.size());
  for (size_t t = 0; t < targets_.size(); ++t) {
    slots_[t].word.store(make_word(NodeHealth::Healthy, 0), std::memory_order_relaxed);
  }
  size_t words = (nodes_.size() + 63) / 64;
  healthy_bits_ = std::make_unique<std::atomic<uint64_t>[]>(std::max<size_t>(words, 1));
  for (size_t w = 0; w < words; ++w) {
    size_t bits = std::min<size_t>(64, nodes_.size() - w * 64);
    healthy_bits_[w].store(bits == 64 ? ~0ULL : ((1ULL << bits) - 1), std::memory_order_relaxed);
  }
}

const HealthyRules& UpstreamHealth::healthy_rules(CheckSource source) const {
  return source == CheckSource::Active ? config_->active.healthy : config_->passive.healthy;
}

const UnhealthyRules& UpstreamHealth::unhealthy_rules(CheckSource source) const {
  return source == CheckSource::Active ? config_->active.unhealthy : config_->passive.unhealthy;
}

void UpstreamHealth::report_http_status(size_t node, int status, CheckSource source) {
  report_target_http_status(node_target_[node], status, source);
}
void UpstreamHealth::report_tcp_failure(size_t node, CheckSource source) {
  report_target(node_target_[node], Outcome::TcpFailure, source);
}
void UpstreamHealth::report_timeout(size_t node, CheckSource source) {
  report_target(node_target_[node], Outcome::Timeout, source);
}
void UpstreamHealth::report_success(size_t node, CheckSource source) {
  report_target(node_target_[node], Outcome::Success, source);
}

void UpstreamHealth::report_target_http_status(size_t target, int status, CheckSource source) {
  if (healthy_rules(source).http_statuses.contains(status)) {
    report_target(target, Outcome::Success, source);
  } else if (status == 0 || unhealthy_rules(source).http_statuses.contains(status)) {
    report_target(target, Outcome::HttpFailure, source);
  }
  // Any other status is neither a success nor a failure.
}

void UpstreamHealth::report_target(size_t target, Outcome outcome, CheckSource source) {
  uint32_t limit = 0;
  const UnhealthyRules& unhealthy = unhealthy_rules(source);
  switch (outcome) {
    case Outcome::Success:
      limit = healthy_rules(source).successes;
      break;
    case Outcome::HttpFailure:
      limit = unhealthy.http_failures;
      break;
    case Outcome::TcpFailure:
      limit = unhealthy.tcp_failures;
      break;
    case Outcome::Timeout:
      limit = unhealthy.timeouts;
      break;
  }
  apply(target, outcome, limit);
}

void UpstreamHealth::apply(size_t target, Outcome outcome, uint32_t limit) {
  if (limit == 0) {
    return;  // that counter is disabled (passive thresholds may be 0)
  }
  std::atomic<uint64_t>& slot = slots_[target].word;
  uint64_t old_word = slot.load(std::memory_order_acquire);
  uint64_t new_word;
  do {
    new_word = next_word(old_word, outcome, limit);
    if (new_word == old_word) {
      return;
    }
  } while (!slot.compare_exchange_weak(old_word, new_word, std::memory_order_acq_rel,
                                       std::memory_order_acquire));
  if (is_available(health_of(old_word)) != is_available(health_of(new_word))) {
    publish(target);
  }
}

// Brings the nodes' bits in line with the target's word. Two reporters may flip the same
// target in opposite directions at once; each re-reads the word after writing a bit and
// writes again until they agree, so the last writer always leaves the current state.
void UpstreamHealth::publish(size_t target) {
  const std::atomic<uint64_t>& slot = slots_[target].word;
  for (size_t node : target_nodes_[target]) {
    std::atomic<uint64_t>& bits = healthy_bits_[node / 64];
    uint64_t mask = 1ULL << (node % 64);
    for (;;) {
      bool available = is_available(health_of(slot.load(std::memory_order_seq_cst)));
      if (available) {
        bits.fetch_or(mask, std::memory_order_seq_cst);
      } else {
        bits.fetch_and(~mask, std::memory_order_seq_cst);
      }
      if (is_available(health_of(slot.load(std::memory_order_seq_cst))) == available) {
        break;
      }
    }
  }
  version_.fetch_add(1, std::memory_order_acq_rel);
}

TargetStatus UpstreamHealth::target_status(size_t target) const {
  uint64_t word = slots_[target].word.load(std::memory_order_acquire);
  TargetStatus s;
  s.health = health_of(word);
  s.counters.success = counter(word, kSuccessShift);
  s.counters.http_failure = counter(word, kHttpShift);
  s.counters.tcp_failure = counter(word, kTcpShift);
  s.counters.timeout_failure = counter(word, kTimeoutShift);
  return s;
}

void UpstreamHealth::store_word(size_t target, uint64_t word) {
  uint64_t old_word = slots_[target].word.exchange(word, std::memory_order_acq_rel);
  if (is_available(health_of(old_word)) != is_available(health_of(word))) {
    publish(target);
  }
}

void UpstreamHealth::adopt_state_from(const UpstreamHealth& other) {
  for (size_t t = 0; t < targets_.size(); ++t) {
    for (size_t o = 0; o < other.targets_.size(); ++o) {
      const HealthTarget& a = targets_[t];
      const HealthTarget& b = other.targets_[o];
      if (a.ip == b.ip && a.port == b.port && a.hostname == b.hostname) {
        store_word(t, other.slots_[o].word.load(std::memory_order_acquire));
        break;
      }
    }
  }
  if (other.is_used()) {
    touch();
  }
}

// --- HealthRegistry -------------------------------------------------------------------------

HealthRegistry::HealthRegistry(ClockFn clock, std::chrono::milliseconds grace)
    : clock_(clock ? std::move(clock) : ClockFn([] { return std::chrono::steady_clock::now(); })),
      grace_(grace) {}

bool HealthRegistry::same_inputs(const Entry& entry, const HealthConfig& config,
                                 std::span<const HealthNode> nodes, std::string_view rewrite_host) {
  const UpstreamHealth& h = *entry.health;
  return entry.rewrite_host == rewrite_host && h.config() == config &&
         std::equal(h.nodes().begin(), h.nodes().end(), nodes.begin(), nodes.end());
}

void HealthRegistry::begin_build() {
  std::lock_guard lock(mutex_);
  for (auto& [key, entry] : live_) {
    entry.used_in_build = false;
  }
}

std::shared_ptr<UpstreamHealth> HealthRegistry::get_or_create(
    std::string_view key, std::shared_ptr<const HealthConfig> config,
    std::span<const HealthNode> nodes, std::string_view rewrite_host) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<UpstreamHealth> previous;
  if (auto it = live_.find(key); it != live_.end()) {
    if (same_inputs(it->second, *config, nodes, rewrite_host)) {
      it->second.used_in_build = true;
      return it->second.health;
    }
    previous = it->second.health;
  } else if (auto rit = retired_.find(key); rit != retired_.end()) {
    if (same_inputs(rit->second.entry, *config, nodes, rewrite_host)) {
      Entry entry = std::move(rit->second.entry);
      retired_.erase(rit);
      entry.used_in_build = true;
      auto health = entry.health;
      live_.emplace(std::string(key), std::move(entry));
      return health;
    }
    previous = rit->second.entry.health;
    retired_.erase(rit);
  }
  auto health = std::make_shared<UpstreamHealth>(std::string(key), config, nodes, rewrite_host);
  if (previous != nullptr) {
    // Nodes changed under the same checks: keep the state of the targets that remain
    // (core.md §7.7). Changed checks: the checker is rebuilt, state reset, but the resource
    // has been in use, so the new one is probed at once.
    if (previous->config() == *config) {
      health->adopt_state_from(*previous);
    } else if (previous->is_used()) {
      health->touch();
    }
  }
  live_.insert_or_assign(std::string(key), Entry{health, std::string(rewrite_host), true});
  return health;
}

size_t HealthRegistry::end_build() {
  std::lock_guard lock(mutex_);
  auto now = clock_();
  size_t retired = 0;
  for (auto it = live_.begin(); it != live_.end();) {
    if (!it->second.used_in_build) {
      retired_.insert_or_assign(it->first, Retired{std::move(it->second), now});
      it = live_.erase(it);
      ++retired;
    } else {
      ++it;
    }
  }
  for (auto it = retired_.begin(); it != retired_.end();) {
    if (now - it->second.since >= grace_) {
      it = retired_.erase(it);
    } else {
      ++it;
    }
  }
  return retired;
}

void HealthRegistry::release(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto now = clock_();
  if (auto it = live_.find(key); it != live_.end()) {
    retired_.insert_or_assign(it->first, Retired{std::move(it->second), now});
    live_.erase(it);
  }
  std::erase_if(retired_, [&](const auto& kv) { return now - kv.second.since >= grace_; });
}

std::shared_ptr<UpstreamHealth> HealthRegistry::find(std::string_view key) const {
  std::lock_guard lock(mutex_);
  auto it = live_.find(key);
  return it == live_.end() ? nullptr : it->second.health;
}

std::vector<std::shared_ptr<UpstreamHealth>> HealthRegistry::list() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<UpstreamHealth>> out;
  out.reserve(live_.size());
  for (const auto& [key, entry] : live_) {
    out.push_back(entry.health);
  }
  return out;
}

size_t HealthRegistry::size() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

}  // namespace apisix::upstream
