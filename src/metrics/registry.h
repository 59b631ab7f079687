#pragma once

// Counters, gauges and histograms with label sets, sharded per thread and summed when
// Prometheus scrapes (STYLE.md §3).
//
// Threads. A Registry has `shard_count` shards: one per worker plus, usually, one for the
// control thread. Each shard has exactly one writer thread at a time (its worker); nothing a
// writer touches on the hot path is written by another thread:
//   - series values: every series holds one cache-line-aligned block of cells per shard; the
//     shard's thread updates its block with relaxed atomic load + store (no read-modify-write,
//     so on x86 an increment is a plain load, add and store), and the scraping thread reads
//     every block with relaxed loads and sums them;
//   - series lookup: each family keeps one lookup cache per shard, touched only by that
//     shard's thread; a miss takes the family's mutex (once per new series and shard);
//   - removal: the control thread removes series under the family's mutex and bumps the
//     registry's generation; a shard's thread sees the new generation on its next lookup,
//     drops its cache and records that it has caught up; a removed series is freed once every
//     shard has caught up (or with the registry).
// Families are registered and scraped on the control thread; registration may happen while
// workers run (families are never removed, so references to them stay valid).
//
// Exposition: Prometheus text format 0.0.4, families sorted by name and series by label
// values, histogram buckets cumulative with `le` as the last label, label values escaped and
// cut at the first invalid UTF-8 byte as nginx-lua-prometheus does (apisix-compat
// plugins.md §6.1).

#include <atomic>
#include <bit>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace apisix::metrics {

// Index of the shard a thread writes: 0 .. Registry::shard_count() - 1.
using ShardId = uint32_t;

// APISIX's default latency buckets in milliseconds (plugins.md §6.1); +Inf is implicit.
std::span<const double> default_latency_buckets();

// Formats a sample value or bucket bound as Prometheus parses it: integral values up to 2^53
// as integers ("500"), others in the shortest round-trip form ("0.5", "1.5e+20"), and "+Inf",
// "-Inf", "NaN".
void append_value(std::string& out, double value);

namespace detail {

enum class Kind { Counter, Gauge, Histogram };

// One cache line of cells. A cell holds a double's bits (values, sums) or a count.
struct alignas(64) CellLine {
  std::atomic<uint64_t> cells[8];
};

class Family;

// One label set of a family: the label values and one block of cells per shard.
// Owned by its family; freed after removal once no shard can still use it.
struct Series {
  Series(const Family& family, std::vector<std::string> values, uint64_t hash);

  std::atomic<uint64_t>& cell(ShardId shard, uint32_t index) const {
    return lines[shard * lines_per_shard + index / 8].cells[index % 8];
  }

  const Family& family;
  std::vector<std::string> label_values;
  uint64_t hash;
  uint32_t lines_per_shard;
  std::unique_ptr<CellLine[]> lines;
  uint64_t retired_at = 0;  // registry generation at removal (0: live)
};

// Adds to a cell holding a double. Only the cell's shard thread calls it, so a relaxed load
// and store suffice (no read-modify-write); the scraper only loads.
inline void add_double(std::atomic<uint64_t>& cell, double delta) {
  double value = std::bit_cast<double>(cell.load(std::memory_order_relaxed)) + delta;
  cell.store(std::bit_cast<uint64_t>(value), std::memory_order_relaxed);
}

class RegistryState;

// What counters, gauges and histograms share: the name, labels, series and lookup caches.
class Family {
 public:
  Family(RegistryState& registry, Kind kind, std::string name, std::string help,
         std::vector<std::string> label_names, std::vector<double> bounds);
  ~Family();
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  Kind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }
  uint32_t cells_per_series() const { return cells_per_series_; }

  // Finds or creates the series (any thread; takes the mutex).
  Series* find_or_create(std::span<const std::string_view> values);
  // Through `shard`'s cache; only `shard`'s thread may call it.
  Series* lookup(ShardId shard, std::span<const std::string_view> values);
  // Removes matching series (control thread). Returns how many.
  size_t remove_if(const std::function<bool(std::span<const std::string>)>& match);

  // Appends this family's exposition text (scraping thread).
  void render(std::string& out, std::string_view prefix) const;
  // Frees retired series that no shard can still use.
  void reclaim(uint64_t safe_generation);
  size_t series_count() const;
  size_t retired_count() const;

 private:
  struct CacheEntry {
    uint64_t hash = 0;
    Series* series = nullptr;
  };
  // A shard's open-addressing cache of label hash -> series; only that shard's thread uses it.
  struct alignas(64) ShardCache {
    uint64_t generation = 0;
    size_t used = 0;
    std::vector<CacheEntry> slots;  // size is a power of two, or empty
  };

  Series* find_locked(std::span<const std::string_view> values, uint64_t hash) const;

  RegistryState& registry_;
  const Kind kind_;
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  const uint32_t cells_per_series_;

  mutable std::mutex mu_;  // guards series_ and retired_
  std::unordered_multimap<uint64_t, std::unique_ptr<Series>> series_;  // by label hash
  std::vector<std::unique_ptr<Series>> retired_;
  std::unique_ptr<ShardCache[]> caches_;
};

}  // namespace detail

// A counter series: add only non-negative amounts. Cheap to copy; valid while its series is
// not removed (from lookup(): also only until the shard's next lookup or quiesce()).
class CounterSeries {
 public:
  CounterSeries() = default;
  explicit CounterSeries(detail::Series* series) : series_(series) {}
  void inc(ShardId shard, double amount = 1) const {
    detail::add_double(series_->cell(shard, 0), amount);
  }
  explicit operator bool() const { return series_ != nullptr; }

 private:
  detail::Series* series_ = nullptr;
};

// A gauge series. Each shard holds its own part and the scrape shows their sum: inc/dec from
// any shard's thread add up; set() sets only the calling shard's part, so a gauge that is set
// should be written from one shard only (typically the control thread's).
class GaugeSeries {
 public:
  GaugeSeries() = default;
  explicit GaugeSeries(detail::Series* series) : series_(series) {}
  void inc(ShardId shard, double amount = 1) const {
    detail::add_double(series_->cell(shard, 0), amount);
  }
  void dec(ShardId shard, double amount = 1) const { inc(shard, -amount); }
  void set(ShardId shard, double value) const;
  explicit operator bool() const { return series_ != nullptr; }

 private:
  detail::Series* series_ = nullptr;
};

// A histogram series with its family's fixed bucket bounds.
class HistogramSeries {
 public:
  HistogramSeries() = default;
  explicit HistogramSeries(detail::Series* series) : series_(series) {}
  void observe(ShardId shard, double value) const;
  explicit operator bool() const { return series_ != nullptr; }

 private:
  detail::Series* series_ = nullptr;
};

// A metric family: a name, HELP text, label names and its series. Owned by the Registry.
// with() resolves label values once (any thread, locks); lookup() is the per-request path
// (the shard's own cache: a hash of the values and a comparison, no lock and no allocation
// once that shard has seen the series). Label values are given in label-name order.
template <typename SeriesT>
class Metric {
 public:
  explicit Metric(detail::Family& family) : family_(family) {}

  SeriesT with(std::span<const std::string_view> values) const {
    return SeriesT(family_.find_or_create(values));
  }
  SeriesT with(std::initializer_list<std::string_view> values) const {
    return with(std::span<const std::string_view>(values.begin(), values.size()));
  }
  SeriesT lookup(ShardId shard, std::span<const std::string_view> values) const {
    return SeriesT(family_.lookup(shard, values));
  }
  SeriesT lookup(ShardId shard, std::initializer_list<std::string_view> values) const {
    return lookup(shard, std::span<const std::string_view>(values.begin(), values.size()));
  }

  // Removes the series with exactly these values (control thread). True when it existed.
  bool remove(std::span<const std::string_view> values) const;
  bool remove(std::initializer_list<std::string_view> values) const {
    return remove(std::span<const std::string_view>(values.begin(), values.size()));
  }
  // Removes every series whose value of label `label` is `value` (e.g. a deleted route's).
  size_t remove_where(std::string_view label, std::string_view value) const;
  size_t remove_if(const std::function<bool(std::span<const std::string>)>& match) const {
    return family_.remove_if(match);
  }

  size_t series_count() const { return family_.series_count(); }
  const std::string& name() const { return family_.name(); }

 private:
  detail::Family& family_;
};

using Counter = Metric<CounterSeries>;
using Gauge = Metric<GaugeSeries>;
using Histogram = Metric<HistogramSeries>;

struct RegistryOptions {
  uint32_t shard_count = 1;
  // Prepended to every family name (plugin_attr.prometheus.metric_prefix).
  std::string prefix = "apisix_";
};

// All metric families of one process. Created by the control thread before the workers
// start, outlives them. See the top of this file for which thread touches what.
class Registry {
 public:
  explicit Registry(RegistryOptions options = {});
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  uint32_t shard_count() const;
  const std::string& prefix() const;

  // Registers a family (names without the prefix). Registering a name again returns the
  // existing family when kind, labels and bounds agree; otherwise it is a programming error
  // (aborts). Label names must not include "le" for histograms.
  Counter counter(std::string_view name, std::string_view help,
                  std::vector<std::string> label_names = {});
  Gauge gauge(std::string_view name, std::string_view help,
              std::vector<std::string> label_names = {});
  Histogram histogram(std::string_view name, std::string_view help,
                      std::vector<std::string> label_names = {},
                      std::span<const double> bounds = default_latency_buckets());

  // The whole exposition (Content-Type: text/plain; version=0.0.4). Any thread; normally
  // the control thread. Also frees removed series no shard can still use.
  std::string render() const;
  void render(std::string& out) const;

  // Tells the registry that `shard`'s thread holds no series handle from lookup() any more,
  // so removed series can be freed. Lookups do this implicitly; a worker that may go long
  // without lookups calls it now and then (e.g. once per loop iteration when idle).
  void quiesce(ShardId shard);

  // Removed series not yet freed (for tests).
  size_t retired_count_for_test() const;

 private:
  std::unique_ptr<detail::RegistryState> state_;
};

}  // namespace apisix::metrics
