// The ConfigStore contract (apisix-compat core.md §2): one suite, run against the embedded
// store and against a real etcd, so both providers behave the same for the Admin API and the
// control thread's load-and-watch loop.

#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tests/store/store_fixture.h"

namespace apisix::test {
namespace {

using store::EventType;
using store::PutOptions;

class ConfigStoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    fx_ = std::make_unique<StoreFixture>(GetParam());
    ASSERT_TRUE(fx_->ok()) << fx_->error();
  }
  void TearDown() override { fx_.reset(); }

  StoreFixture& fx() { return *fx_; }
  int64_t current_revision() {
    auto r = fx().get("/no/such/key");
    EXPECT_TRUE(r) << r.error().context;
    return r ? r->revision : 0;
  }

  std::unique_ptr<StoreFixture> fx_;
};

TEST_P(ConfigStoreContract, PutThenGetReturnsTheValueAndItsRevisions) {
  auto put = fx().put("/apisix/routes/1", R"({"uri":"/hello"})");
  ASSERT_TRUE(put) << put.error().context;
  EXPECT_FALSE(put->conflict());
  EXPECT_FALSE(put->prev.has_value());
  EXPECT_GT(put->revision, 1);

  auto got = fx().get("/apisix/routes/1");
  ASSERT_TRUE(got) << got.error().context;
  ASSERT_TRUE(got->kv.has_value());
  EXPECT_EQ(got->kv->key, "/apisix/routes/1");
  EXPECT_EQ(got->kv->value, R"({"uri":"/hello"})");
  EXPECT_EQ(got->kv->create_revision, put->revision);
  EXPECT_EQ(got->kv->mod_revision, put->revision);
  EXPECT_EQ(got->kv->version, 1);
  EXPECT_EQ(got->revision, put->revision);
}

TEST_P(ConfigStoreContract, ReplacingKeepsCreateRevisionAndReturnsThePreviousValue) {
  auto first = fx().put("/apisix/services/s", R"({"v":1})");
  ASSERT_TRUE(first);
  auto second = fx().put("/apisix/services/s", R"({"v":2})");
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->prev.has_value());
  EXPECT_EQ(second->prev->value, R"({"v":1})");
  EXPECT_EQ(second->prev->mod_revision, first->revision);
  auto got = fx().get("/apisix/services/s");
  ASSERT_TRUE(got && got->kv);
  EXPECT_EQ(got->kv->value, R"({"v":2})");
  EXPECT_EQ(got->kv->create_revision, first->revision);
  EXPECT_EQ(got->kv->mod_revision, second->revision);
  EXPECT_EQ(got->kv->version, 2);
}

TEST_P(ConfigStoreContract, MissingKeyReadsAsAbsent) {
  auto got = fx().get("/apisix/routes/missing");
  ASSERT_TRUE(got) << got.error().context;
  EXPECT_FALSE(got->kv.has_value());
  EXPECT_GE(got->revision, 1);
}

TEST_P(ConfigStoreContract, EveryWriteAdvancesTheRevisionByOne) {
  int64_t start = current_revision();
  int64_t last = start;
  for (int i = 0; i < 5; ++i) {
    auto put = fx().put("/k/" + std::to_string(i % 2), "{}");
    ASSERT_TRUE(put);
    EXPECT_EQ(put->revision, last + 1);
    last = put->revision;
  }
  auto del = fx().remove("/k/0");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->revision, last + 1);
  EXPECT_EQ(current_revision(), last + 1);
}

TEST_P(ConfigStoreContract, DeleteRemovesTheKeyAndReturnsItsLastValue) {
  ASSERT_TRUE(fx().put("/apisix/upstreams/u", R"({"nodes":{}})"));
  auto del = fx().remove("/apisix/upstreams/u");
  ASSERT_TRUE(del) << del.error().context;
  EXPECT_FALSE(del->conflict());
  ASSERT_TRUE(del->prev.has_value());
  EXPECT_EQ(del->prev->value, R"({"nodes":{}})");
  auto got = fx().get("/apisix/upstreams/u");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->kv.has_value());
}

TEST_P(ConfigStoreContract, DeletingAMissingKeyChangesNothing) {
  ASSERT_TRUE(fx().put("/a", "{}"));
  int64_t before = current_revision();
  auto del = fx().remove("/b");
  ASSERT_TRUE(del);
  EXPECT_FALSE(del->conflict());
  EXPECT_FALSE(del->prev.has_value());
  EXPECT_EQ(current_revision(), before);
}

TEST_P(ConfigStoreContract, ListReturnsOnlyThePrefixSortedWithTheStoreRevision) {
  ASSERT_TRUE(fx().put("/apisix/routes/2", R"({"r":2})"));
  ASSERT_TRUE(fx().put("/apisix/routes/1", R"({"r":1})"));
  ASSERT_TRUE(fx().put("/apisix/routes1", R"({"sibling":true})"));
  ASSERT_TRUE(fx().put("/apisix/routesx/1", "{}"));
  ASSERT_TRUE(fx().put("/apisix/services/1", "{}"));
  auto last = fx().put("/apisix/routes/10", R"({"r":10})");
  ASSERT_TRUE(last);

  auto listed = fx().list("/apisix/routes/");
  ASSERT_TRUE(listed) << listed.error().context;
  ASSERT_EQ(listed->items.size(), 3u);
  EXPECT_EQ(listed->items[0].key, "/apisix/routes/1");
  EXPECT_EQ(listed->items[1].key, "/apisix/routes/10");
  EXPECT_EQ(listed->items[2].key, "/apisix/routes/2");
  EXPECT_EQ(listed->items[2].value, R"({"r":2})");
  EXPECT_EQ(listed->revision, last->revision);
  for (const auto& kv : listed->items) {
    EXPECT_GT(kv.mod_revision, 0);
    EXPECT_EQ(kv.create_revision, kv.mod_revision);
  }
  auto all = fx().list("");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->items.size(), 6u);
}

TEST_P(ConfigStoreContract, ExpectedRevisionMismatchIsAConflictAndWritesNothing) {
  auto put = fx().put("/apisix/routes/1", R"({"v":1})");
  ASSERT_TRUE(put);
  PutOptions stale;
  stale.expected_mod_revision = put->revision - 1;
  auto conflict = fx().put("/apisix/routes/1", R"({"v":2})", stale);
  ASSERT_TRUE(conflict) << conflict.error().context;
  EXPECT_TRUE(conflict->conflict());
  ASSERT_TRUE(conflict->prev.has_value());
  EXPECT_EQ(conflict->prev->value, R"({"v":1})");
  EXPECT_EQ(conflict->prev->mod_revision, put->revision);
  EXPECT_EQ(current_revision(), put->revision);

  PutOptions fresh;
  fresh.expected_mod_revision = put->revision;
  auto ok = fx().put("/apisix/routes/1", R"({"v":3})", fresh);
  ASSERT_TRUE(ok);
  EXPECT_FALSE(ok->conflict());
  EXPECT_EQ(ok->revision, put->revision + 1);
  // The same expectation is now stale.
  auto again = fx().put("/apisix/routes/1", R"({"v":4})", fresh);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->conflict());
}

TEST_P(ConfigStoreContract, ExpectedRevisionZeroCreatesOnlyWhenAbsent) {
  PutOptions create_only;
  create_only.expected_mod_revision = 0;
  auto created = fx().put("/apisix/consumers/jack", R"({"username":"jack"})", create_only);
  ASSERT_TRUE(created);
  EXPECT_FALSE(created->conflict());
  auto second = fx().put("/apisix/consumers/jack", R"({"username":"other"})", create_only);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->conflict());
  ASSERT_TRUE(second->prev.has_value());
  EXPECT_EQ(second->prev->value, R"({"username":"jack"})");
}

TEST_P(ConfigStoreContract, DeleteWithExpectedRevision) {
  auto put = fx().put("/apisix/ssls/1", "{}");
  ASSERT_TRUE(put);
  auto stale = fx().remove("/apisix/ssls/1", put->revision + 100);
  ASSERT_TRUE(stale);
  EXPECT_TRUE(stale->conflict());
  EXPECT_TRUE(fx().get("/apisix/ssls/1")->kv.has_value());
  auto ok = fx().remove("/apisix/ssls/1", put->revision);
  ASSERT_TRUE(ok);
  EXPECT_FALSE(ok->conflict());
  EXPECT_FALSE(fx().get("/apisix/ssls/1")->kv.has_value());
  // Absent key: only the "must be absent" expectation (0) matches.
  auto absent = fx().remove("/apisix/ssls/1", 5);
  ASSERT_TRUE(absent);
  EXPECT_TRUE(absent->conflict());
  EXPECT_FALSE(absent->prev.has_value());
}

TEST_P(ConfigStoreContract, WatchDeliversEveryChangeInOrder) {
  auto listed = fx().list("/apisix/");
  ASSERT_TRUE(listed);
  auto w = fx().watch("/apisix/", listed->revision + 1);
  ASSERT_TRUE(w) << w.error().context;

  std::vector<std::pair<EventType, std::string>> expected;
  std::set<std::string> present;
  for (int i = 0; i < 40; ++i) {
    std::string key = "/apisix/routes/" + std::to_string(i % 7);
    if (i % 5 == 4) {
      ASSERT_TRUE(fx().remove(key));
      if (present.erase(key) > 0) {  // deleting an absent key writes nothing, sends nothing
        expected.emplace_back(EventType::Delete, key);
      }
    } else {
      ASSERT_TRUE(fx().put(key, "{\"n\":" + std::to_string(i) + "}"));
      present.insert(key);
      expected.emplace_back(EventType::Put, key);
    }
  }
  auto got = fx().collect(**w, expected.size(), std::chrono::seconds(10));
  ASSERT_EQ(got.error, "");
  ASSERT_EQ(got.events.size(), expected.size());
  int64_t last = listed->revision;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(got.events[i].type, expected[i].first) << i;
    EXPECT_EQ(got.events[i].kv.key, expected[i].second) << i;
    EXPECT_EQ(got.events[i].kv.mod_revision, last + 1) << "no revision skipped or repeated";
    last = got.events[i].kv.mod_revision;
  }
}

TEST_P(ConfigStoreContract, WatchFromAPastRevisionReplaysHistory) {
  auto first = fx().put("/apisix/routes/a", R"({"v":1})");
  ASSERT_TRUE(first);
  ASSERT_TRUE(fx().put("/apisix/routes/a", R"({"v":2})"));
  ASSERT_TRUE(fx().remove("/apisix/routes/a"));
  auto w = fx().watch("/apisix/routes/", first->revision);
  ASSERT_TRUE(w) << w.error().context;
  auto got = fx().collect(**w, 3, std::chrono::seconds(10));
  ASSERT_EQ(got.events.size(), 3u) << got.error;
  EXPECT_EQ(got.events[0].kv.value, R"({"v":1})");
  EXPECT_EQ(got.events[0].kv.mod_revision, first->revision);
  EXPECT_EQ(got.events[1].kv.value, R"({"v":2})");
  EXPECT_EQ(got.events[1].kv.version, 2);
  EXPECT_EQ(got.events[2].type, EventType::Delete);
  EXPECT_EQ(got.events[2].kv.key, "/apisix/routes/a");
}

TEST_P(ConfigStoreContract, WatchSeesOnlyItsPrefixAndNothingBeforeItsStart) {
  ASSERT_TRUE(fx().put("/apisix/routes/old", "{}"));
  auto w = fx().watch("/apisix/routes/", 0);  // from the next write on
  ASSERT_TRUE(w) << w.error().context;
  ASSERT_TRUE(fx().put("/apisix/services/1", "{}"));
  ASSERT_TRUE(fx().put("/apisix/routes1", "{}"));
  ASSERT_TRUE(fx().put("/apisix/routes/new", "{}"));
  auto got = fx().collect(**w, 1, std::chrono::seconds(10));
  ASSERT_EQ(got.events.size(), 1u) << got.error;
  EXPECT_EQ(got.events[0].kv.key, "/apisix/routes/new");
  // Nothing else is pending.
  auto more = fx().next(**w, std::chrono::milliseconds(300));
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error().kind, ErrorKind::Timeout);
}

TEST_P(ConfigStoreContract, WatchTimeoutLeavesTheStreamUsable) {
  auto w = fx().watch("/apisix/", 0);
  ASSERT_TRUE(w);
  auto idle = fx().next(**w, std::chrono::milliseconds(200));
  ASSERT_FALSE(idle);
  EXPECT_EQ(idle.error().kind, ErrorKind::Timeout);
  EXPECT_TRUE(idle.error().retryable);
  ASSERT_TRUE(fx().put("/apisix/routes/1", "{}"));
  auto got = fx().collect(**w, 1, std::chrono::seconds(10));
  ASSERT_EQ(got.events.size(), 1u) << got.error;
}

TEST_P(ConfigStoreContract, WatchFromACompactedRevisionSignalsCompacted) {
  auto first = fx().put("/apisix/routes/1", R"({"v":1})");
  ASSERT_TRUE(first);
  ASSERT_TRUE(fx().put("/apisix/routes/1", R"({"v":2})"));
  auto third = fx().put("/apisix/routes/1", R"({"v":3})");
  ASSERT_TRUE(third);
  auto compacted = fx().compact(third->revision);
  ASSERT_TRUE(compacted) << compacted.error().context;

  auto w = fx().watch("/apisix/", first->revision);
  ASSERT_TRUE(w) << w.error().context;
  auto got = fx().collect(**w, 1, std::chrono::seconds(10));
  EXPECT_TRUE(got.compacted) << got.error;
  EXPECT_TRUE(got.events.empty());
  EXPECT_EQ(got.compact_revision, third->revision);

  // The documented recovery: list again, watch from the list's revision + 1.
  auto listed = fx().list("/apisix/");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].value, R"({"v":3})");
  auto again = fx().watch("/apisix/", listed->revision + 1);
  ASSERT_TRUE(again);
  ASSERT_TRUE(fx().put("/apisix/routes/2", "{}"));
  auto next = fx().collect(**again, 1, std::chrono::seconds(10));
  ASSERT_EQ(next.events.size(), 1u) << next.error;
  EXPECT_FALSE(next.compacted);

  // Watching from the compaction revision itself still works.
  auto at = fx().watch("/apisix/", third->revision);
  ASSERT_TRUE(at);
  auto from_compaction = fx().collect(**at, 1, std::chrono::seconds(10));
  EXPECT_FALSE(from_compaction.compacted);
  ASSERT_GE(from_compaction.events.size(), 1u) << from_compaction.error;
  EXPECT_EQ(from_compaction.events[0].kv.mod_revision, third->revision);
}

TEST_P(ConfigStoreContract, TtlKeyExpiresAsAnOrdinaryDelete) {
  auto w = fx().watch("/apisix/routes/", 0);
  ASSERT_TRUE(w);
  PutOptions ttl;
  ttl.ttl = std::chrono::seconds(1);
  auto put = fx().put("/apisix/routes/temp", "{}", ttl);
  ASSERT_TRUE(put) << put.error().context;
  ASSERT_TRUE(fx().get("/apisix/routes/temp")->kv.has_value());
  // etcd rounds small TTLs up to its minimum lease (about 2 s) and checks every 500 ms.
  auto got = fx().collect(**w, 2, std::chrono::seconds(15));
  ASSERT_EQ(got.events.size(), 2u) << got.error;
  EXPECT_EQ(got.events[0].type, EventType::Put);
  EXPECT_EQ(got.events[1].type, EventType::Delete);
  EXPECT_EQ(got.events[1].kv.key, "/apisix/routes/temp");
  EXPECT_FALSE(fx().get("/apisix/routes/temp")->kv.has_value());
}

TEST_P(ConfigStoreContract, PutWithoutTtlCancelsAnEarlierExpiry) {
  PutOptions ttl;
  ttl.ttl = std::chrono::seconds(1);
  ASSERT_TRUE(fx().put("/apisix/routes/kept", R"({"v":1})", ttl));
  ASSERT_TRUE(fx().put("/apisix/routes/kept", R"({"v":2})"));
  // A sentinel written later with the same TTL: once it is gone, "kept" would be gone too.
  auto w = fx().watch("/apisix/routes/sentinel", 0);
  ASSERT_TRUE(w);
  ASSERT_TRUE(fx().put("/apisix/routes/sentinel", "{}", ttl));
  auto got = fx().collect(**w, 2, std::chrono::seconds(15));
  ASSERT_EQ(got.events.size(), 2u) << got.error;
  EXPECT_EQ(got.events[1].type, EventType::Delete);
  auto kept = fx().get("/apisix/routes/kept");
  ASSERT_TRUE(kept && kept->kv);
  EXPECT_EQ(kept->kv->value, R"({"v":2})");
}

TEST_P(ConfigStoreContract, LargeValuesRoundTrip) {
  std::string big = "{\"data\":\"";
  for (int i = 0; big.size() < (1u << 20) - 100; ++i) {
    big += static_cast<char>('a' + i % 26);
  }
  big += "\",\"utf8\":\"\xe4\xb8\xad\xe6\x96\x87\"}";
  auto w = fx().watch("/apisix/", 0);
  ASSERT_TRUE(w);
  auto put = fx().put("/apisix/plugin_metadata/big", big);
  ASSERT_TRUE(put) << put.error().context;
  auto got = fx().get("/apisix/plugin_metadata/big");
  ASSERT_TRUE(got && got->kv);
  EXPECT_EQ(got->kv->value.size(), big.size());
  EXPECT_TRUE(got->kv->value == big);
  auto events = fx().collect(**w, 1, std::chrono::seconds(10));
  ASSERT_EQ(events.events.size(), 1u) << events.error;
  EXPECT_TRUE(events.events[0].kv.value == big);
}

TEST_P(ConfigStoreContract, ManyKeysWrittenConcurrentlyAreAllListed) {
  constexpr int kKeys = 2500;
  auto w = fx().watch("/apisix/routes/", 0);
  ASSERT_TRUE(w);
  ASSERT_EQ(fx().put_all("/apisix/routes/", kKeys, 32), 0);
  auto listed = fx().list("/apisix/routes/");
  ASSERT_TRUE(listed) << listed.error().context;
  ASSERT_EQ(listed->items.size(), static_cast<size_t>(kKeys));
  std::vector<int64_t> revisions;
  for (const auto& kv : listed->items) {
    int i = std::stoi(kv.key.substr(std::string("/apisix/routes/").size()));
    EXPECT_EQ(kv.value, test_value(i));
    revisions.push_back(kv.mod_revision);
  }
  std::sort(revisions.begin(), revisions.end());
  EXPECT_EQ(std::adjacent_find(revisions.begin(), revisions.end()), revisions.end())
      << "each write has its own revision";
  EXPECT_EQ(listed->revision, revisions.back());
  auto events = fx().collect(**w, kKeys, std::chrono::seconds(30));
  ASSERT_EQ(events.events.size(), static_cast<size_t>(kKeys)) << events.error;
  for (size_t i = 1; i < events.events.size(); ++i) {
    ASSERT_EQ(events.events[i].kv.mod_revision, events.events[i - 1].kv.mod_revision + 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, ConfigStoreContract, ::testing::Values("embedded", "etcd"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace apisix::test
