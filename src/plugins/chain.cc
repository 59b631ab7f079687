#include "plugins/chain.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace apisix::plugins {
namespace json = boost::json;

namespace {

const json::object* meta_of(const json::value& conf) {
  const json::object* o = conf.if_object();
  const json::value* meta = o != nullptr ? o->if_contains("_meta") : nullptr;
  return meta != nullptr ? meta->if_object() : nullptr;
}

// Higher precedence wins: consumer > consumer group > route > plugin config > service.
int rank(Origin origin) {
  switch (origin) {
    case Origin::Service:
      return 0;
    case Origin::PluginConfig:
      return 1;
    case Origin::Route:
      return 2;
    case Origin::ConsumerGroup:
      return 3;
    case Origin::Consumer:
      return 4;
    case Origin::GlobalRule:
      return 5;  // never merged with the others
  }
  return 0;
}

}  // namespace

int effective_priority(const json::value& conf, int fallback) {
  const json::object* meta = meta_of(conf);
  const json::value* p = meta != nullptr ? meta->if_contains("priority") : nullptr;
  if (p == nullptr) {
    return fallback;
  }
  // The schema accepts any integer; beyond int they all sort as the extreme.
  double v = p->is_int64()    ? static_cast<double>(p->get_int64())
             : p->is_uint64() ? static_cast<double>(p->get_uint64())
             : p->is_double() ? p->get_double()
                              : static_cast<double>(fallback);
  if (std::isnan(v)) {
    return fallback;
  }
  v = std::clamp(v, static_cast<double>(std::numeric_limits<int>::min()),
                 static_cast<double>(std::numeric_limits<int>::max()));
  return static_cast<int>(v);
}

bool is_disabled(const json::value& conf) {
  const json::object* meta = meta_of(conf);
  const json::value* d = meta != nullptr ? meta->if_contains("disable") : nullptr;
  return d != nullptr && d->is_bool() && d->get_bool();
}

void sort_chain(std::vector<ChainEntry>& chain) {
  std::stable_sort(chain.begin(), chain.end(), [](const ChainEntry& a, const ChainEntry& b) {
    if (a.priority != b.priority) {
      return a.priority > b.priority;
    }
    return a.name < b.name;
  });
}

void PluginSet::put(ChainEntry entry) {
  for (ChainEntry& existing : entries_) {
    if (existing.name == entry.name) {
      if (rank(entry.origin) >= rank(existing.origin)) {
        existing = std::move(entry);
      }
      return;
    }
  }
  entries_.push_back(std::move(entry));
}

std::vector<ChainEntry> PluginSet::finish() const {
  std::vector<ChainEntry> out;
  out.reserve(entries_.size());
  for (const ChainEntry& e : entries_) {
    if (!e.disabled) {
      out.push_back(e);
    }
  }
  sort_chain(out);
  return out;
}

}  // namespace apisix::plugins
