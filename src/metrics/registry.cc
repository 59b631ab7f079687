#include "metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

namespace apisix::metrics {
namespace {

constexpr double kDefaultLatencyBuckets[] = {1,   2,    5,    10,   20,    50,    100,  200,
                                             500, 1000, 2000, 5000, 10000, 30000, 60000};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "apisix metrics: %s\n", message.c_str());
  std::abort();
}

uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

uint64_t hash_values(std::span<const std::string_view> values) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ values.size();
  for (std::string_view v : values) {
    h = mix(h ^ std::hash<std::string_view>{}(v)) + 0x9e3779b97f4a7c15ULL;
  }
  return h;
}

bool same_values(const std::vector<std::string>& held, std::span<const std::string_view> values) {
  if (held.size() != values.size()) {
    return false;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (held[i] != values[i]) {
      return false;
    }
  }
  return true;
}

double load_double(const std::atomic<uint64_t>& cell) {
  uint64_t bits = cell.load(std::memory_order_relaxed);
  double value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Length of the longest prefix of `s` that is valid UTF-8 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
size_t valid_utf8_prefix(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + n >= s.size()) {
      return i;
    }
    for (size_t k = 1; k <= n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
        return i;
      }
    }
    i += n + 1;
  }
  return i;
}

void append_label_value(std::string& out, std::string_view value) {
  value = value.substr(0, valid_utf8_prefix(value));
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_help(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

const char* type_name(detail::Kind kind) {
  switch (kind) {
    case detail::Kind::Counter:
      return "counter";
    case detail::Kind::Gauge:
      return "gauge";
    case detail::Kind::Histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::span<const double> default_latency_buckets() { return kDefaultLatencyBuckets; }

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  std::to_chars_result r;
  if (value == std::trunc(value) && std::fabs(value) <= 9007199254740992.0) {
    r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(value));
  } else {
    r = std::to_chars(buf, buf + sizeof(buf), value);
  }
  out.append(buf, r.ptr);
}

namespace detail {

// What the families share: the options, the removal generation, and each shard's
// acknowledged generation (written only by that shard's thread, read by the scraper).
class RegistryState {
 public:
  struct alignas(64) Seen {
    std::atomic<uint64_t> generation{0};
  };

  explicit RegistryState(RegistryOptions opts)
      : options(std::move(opts)), seen(new Seen[std::max<uint32_t>(options.shard_count, 1)]) {
    if (options.shard_count == 0) {
      options.shard_count = 1;
    }
  }

  // The newest generation every shard has caught up with.
  uint64_t safe_generation() const {
    uint64_t safe = UINT64_MAX;
    for (uint32_t i = 0; i < options.shard_count; ++i) {
      safe = std::min(safe, seen[i].generation.load(std::memory_order_acquire));
    }
    return safe;
  }

  RegistryOptions options;
  std::atomic<uint64_t> generation{0};  // bumped by each removal (control thread)
  std::unique_ptr<Seen[]> seen;

  mutable std::mutex mu;  // guards families
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families;
};

Series::Series(const Family& owner, std::vector<std::string> values, uint64_t h)
    : family(owner),
      label_values(std::move(values)),
      hash(h),
      lines_per_shard((owner.cells_per_series() + 7) / 8) {}

Family::Family(RegistryState& registry, Kind kind, std::string name, std::string help,
               std::vector<std::string> label_names, std::vector<double> bounds)
    : registry_(registry),
      kind_(kind),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)),
      // histogram: one count per bound, the +Inf count, the sum
      cells_per_series_(kind == Kind::Histogram ? static_cast<uint32_t>(bounds_.size()) + 2 : 1),
      caches_(new ShardCache[registry.options.shard_count]) {}

Family::~Family() = default;

Series* Family::find_locked(std::span<const std::string_view> values, uint64_t hash) const {
  auto [begin, end] = series_.equal_range(hash);
  for (auto it = begin; it != end; ++it) {
    if (same_values(it->second->label_values, values)) {
      return it->second.get();
    }
  }
  return nullptr;
}

Series* Family::find_or_create(std::span<const std::string_view> values) {
  if (values.size() != label_names_.size()) {
    fail(name_ + ": expected " + std::to_string(label_names_.size()) + " label values, got " +
         std::to_string(values.size()));
  }
  uint64_t hash = hash_values(values);
  std::lock_guard lock(mu_);
  if (Series* found = find_locked(values, hash)) {
    return found;
  }
  auto series =
      std::make_unique<Series>(*this, std::vector<std::string>(values.begin(), values.end()), hash);
  series->lines = std::unique_ptr<CellLine[]>(
      new CellLine[registry_.options.shard_count * series->lines_per_shard]());
  Series* raw = series.get();
  series_.emplace(hash, std::move(series));
  return raw;
}

Series* Family::lookup(ShardId shard, std::span<const std::string_view> values) {
  ShardCache& cache = caches_[shard];
  uint64_t generation = registry_.generation.load(std::memory_order_acquire);
  if (generation != cache.generation) {
    // Some series were removed: forget every cached pointer before touching any of them.
    std::fill(cache.slots.begin(), cache.slots.end(), CacheEntry{});
    cache.used = 0;
    cache.generation = generation;
    registry_.seen[shard].generation.store(generation, std::memory_order_release);
  }
  uint64_t hash = hash_values(values);
  size_t mask = cache.slots.size() - 1;
  if (!cache.slots.empty()) {
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const CacheEntry& entry = cache.slots[i];
      if (entry.series == nullptr) {
        break;
      }
      if (entry.hash == hash && same_values(entry.series->label_values, values)) {
        return entry.series;
      }
    }
  }
  Series* series = find_or_create(values);
  // Insert, keeping the table at most half full.
  if ((cache.used + 1) * 2 > cache.slots.size()) {
    std::vector<CacheEntry> old = std::move(cache.slots);
    cache.slots.assign(std::max<size_t>(16, old.size() * 2), CacheEntry{});
    mask = cache.slots.size() - 1;
    for (const CacheEntry& entry : old) {
      if (entry.series != nullptr) {
        size_t i = entry.hash & mask;
        while (cache.slots[i].series != nullptr) i = (i + 1) & mask;
        cache.slots[i] = entry;
      }
    }
  }
  size_t i = hash & mask;
  while (cache.slots[i].series != nullptr) i = (i + 1) & mask;
  cache.slots[i] = CacheEntry{hash, series};
  ++cache.used;
  return series;
}

size_t Family::remove_if(const std::function<bool(std::span<const std::string>)>& match) {
  std::lock_guard lock(mu_);
  std::vector<std::unique_ptr<Series>> removed;
  for (auto it = series_.begin(); it != series_.end();) {
    if (match(it->second->label_values)) {
      removed.push_back(std::move(it->second));
      it = series_.erase(it);
    } else {
      ++it;
    }
  }
  if (removed.empty()) {
    return 0;
  }
  // Erased first, then the new generation: a shard that sees it cannot find these again.
  uint64_t generation = registry_.generation.fetch_add(1, std::memory_order_acq_rel) + 1;
  for (auto& series : removed) {
    series->retired_at = generation;
    retired_.push_back(std::move(series));
  }
  return removed.size();
}

void Family::reclaim(uint64_t safe_generation) {
  std::lock_guard lock(mu_);
  std::erase_if(retired_, [&](const std::unique_ptr<Series>& series) {
    return series->retired_at <= safe_generation;
  });
}

size_t Family::series_count() const {
  std::lock_guard lock(mu_);
  return series_.size();
}

size_t Family::retired_count() const {
  std::lock_guard lock(mu_);
  return retired_.size();
}

void Family::render(std::string& out, std::string_view prefix) const {
  std::lock_guard lock(mu_);
  if (series_.empty()) {
    return;
  }
  std::vector<const Series*> sorted;
  sorted.reserve(series_.size());
  for (const auto& [hash, series] : series_) {
    sorted.push_back(series.get());
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const Series* a, const Series* b) { return a->label_values < b->label_values; });

  std::string full_name = std::string(prefix) + name_;
  out += "# HELP ";
  out += full_name;
  out += ' ';
  append_help(out, help_);
  out += "\n# TYPE ";
  out += full_name;
  out += ' ';
  out += type_name(kind_);
  out += '\n';

  const uint32_t shards = registry_.options.shard_count;
  std::string labels;  // `a="x",b="y"` without braces
  for (const Series* series : sorted) {
    labels.clear();
    for (size_t i = 0; i < label_names_.size(); ++i) {
      if (i > 0) labels += ',';
      labels += label_names_[i];
      labels += "=\"";
      append_label_value(labels, series->label_values[i]);
      labels += '"';
    }
    if (kind_ != Kind::Histogram) {
      double total = 0;
      for (uint32_t s = 0; s < shards; ++s) {
        total += load_double(series->cell(s, 0));
      }
      out += full_name;
      if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
      }
      out += ' ';
      append_value(out, total);
      out += '\n';
      continue;
    }
    const size_t n = bounds_.size();
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= n; ++b) {
      for (uint32_t s = 0; s < shards; ++s) {
        cumulative += series->cell(s, static_cast<uint32_t>(b)).load(std::memory_order_relaxed);
      }
      out += full_name;
      out += "_bucket{";
      if (!labels.empty()) {
        out += labels;
        out += ',';
      }
      out += "le=\"";
      append_value(out, b < n ? bounds_[b] : HUGE_VAL);
      out += "\"} ";
      append_value(out, static_cast<double>(cumulative));
      out += '\n';
    }
    double sum = 0;
    for (uint32_t s = 0; s < shards; ++s) {
      sum += load_double(series->cell(s, static_cast<uint32_t>(n + 1)));
    }
    std::string braces = labels.empty() ? std::string() : "{" + labels + "}";
    out += full_name + "_sum" + braces + ' ';
    append_value(out, sum);
    out += '\n';
    // The count is the +Inf bucket: both come from the same reads, so they always agree.
    out += full_name + "_count" + braces + ' ';
    append_value(out, static_cast<double>(cumulative));
    out += '\n';
  }
}

}  // namespace detail

void GaugeSeries::set(ShardId shard, double value) const {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  series_->cell(shard, 0).store(bits, std::memory_order_relaxed);
}

void HistogramSeries::observe(ShardId shard, double value) const {
  const std::vector<double>& bounds = series_->family.bounds();
  size_t bucket = std::isnan(value)
                      ? bounds.size()
                      : static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) -
                                            bounds.begin());
  std::atomic<uint64_t>& count = series_->cell(shard, static_cast<uint32_t>(bucket));
  count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  detail::add_double(series_->cell(shard, static_cast<uint32_t>(bounds.size() + 1)), value);
}

template <typename SeriesT>
bool Metric<SeriesT>::remove(std::span<const std::string_view> values) const {
  return family_.remove_if([&](std::span<const std::string> held) {
    if (held.size() != values.size()) return false;
    for (size_t i = 0; i < held.size(); ++i) {
      if (held[i] != values[i]) return false;
    }
    return true;
  }) > 0;
}

template <typename SeriesT>
size_t Metric<SeriesT>::remove_where(std::string_view label, std::string_view value) const {
  const auto& names = family_.label_names();
  auto it = std::find(names.begin(), names.end(), label);
  if (it == names.end()) {
    return 0;
  }
  size_t index = static_cast<size_t>(it - names.begin());
  return family_.remove_if([&](std::span<const std::string> held) { return held[index] == value; });
}

template class Metric<CounterSeries>;
template class Metric<GaugeSeries>;
template class Metric<HistogramSeries>;

Registry::Registry(RegistryOptions options)
    : state_(std::make_unique<detail::RegistryState>(std::move(options))) {}

Registry::~Registry() = default;

uint32_t Registry::shard_count() const { return state_->options.shard_count; }

const std::string& Registry::prefix() const { return state_->options.prefix; }

namespace {

detail::Family& register_family(detail::RegistryState& state, detail::Kind kind,
                                std::string_view name, std::string_view help,
                                std::vector<std::string> label_names, std::vector<double> bounds) {
  if (kind == detail::Kind::Histogram) {
    if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
      fail(std::string(name) + ": a histogram cannot have a label named le");
    }
    if (!std::is_sorted(bounds.begin(), bounds.end()) ||
        std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
      fail(std::string(name) + ": bucket bounds must be strictly increasing");
    }
  }
  std::lock_guard lock(state.mu);
  auto it = state.families.find(name);
  if (it != state.families.end()) {
    detail::Family& family = *it->second;
    if (family.kind() != kind || family.label_names() != label_names || family.bounds() != bounds) {
      fail(std::string(name) + ": registered again with a different definition");
    }
    return family;
  }
  bool has_labels = !label_names.empty();
  auto family = std::make_unique<detail::Family>(state, kind, std::string(name), std::string(help),
                                                 std::move(label_names), std::move(bounds));
  detail::Family& ref = *family;
  state.families.emplace(std::string(name), std::move(family));
  if (!has_labels) {
    ref.find_or_create({});  // a metric without labels is always shown, from 0
  }
  return ref;
}

}  // namespace

Counter Registry::counter(std::string_view name, std::string_view help,
                          std::vector<std::string> label_names) {
  return Counter(
      register_family(*state_, detail::Kind::Counter, name, help, std::move(label_names), {}));
}

Gauge Registry::gauge(std::string_view name, std::string_view help,
                      std::vector<std::string> label_names) {
  return Gauge(
      register_family(*state_, detail::Kind::Gauge, name, help, std::move(label_names), {}));
}

Histogram Registry::histogram(std::string_view name, std::string_view help,
                              std::vector<std::string> label_names,
                              std::span<const double> bounds) {
  return Histogram(register_family(*state_, detail::Kind::Histogram, name, help,
                                   std::move(label_names),
                                   std::vector<double>(bounds.begin(), bounds.end())));
}

std::string Registry::render() const {
  std::string out;
  render(out);
  return out;
}

void Registry::render(std::string& out) const {
  // Read the shards' progress before rendering: anything retired up to then is unreachable.
  uint64_t safe = state_->safe_generation();
  std::lock_guard lock(state_->mu);
  for (const auto& [name, family] : state_->families) {
    family->render(out, state_->options.prefix);
    family->reclaim(safe);
  }
}

void Registry::quiesce(ShardId shard) {
  state_->seen[shard].generation.store(state_->generation.load(std::memory_order_acquire),
                                       std::memory_order_release);
}

size_t Registry::retired_count_for_test() const {
  std::lock_guard lock(state_->mu);
  size_t total = 0;
  for (const auto& [name, family] : state_->families) {
    total += family->retired_count();
  }
  return total;
}

}  // namespace apisix::metrics
