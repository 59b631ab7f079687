// The embedded store's durability (core.md §2; DESIGN.md "embedded: durable local store"):
// acknowledged writes survive kill -9, a torn tail is cut off, damaged acknowledged data is
// refused, and the snapshot rewrite round-trips.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <signal.h>

#include "tests/harness/process.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/wait.h"
#include "tests/store/store_fixture.h"

namespace apisix::test {
namespace {

using store::EmbeddedOptions;

std::set<int> acked_keys(const std::filesystem::path& out) {
  std::set<int> acked;
  std::istringstream in(read_file(out));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("ack ", 0) == 0 && in.good()) {  // only whole lines (ending in \n)
      acked.insert(std::stoi(line.substr(4)));
    }
  }
  return acked;
}

size_t line_count(const std::filesystem::path& path) {
  std::string text = read_file(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(EmbeddedDurability, KillNineNeverLosesAnAcknowledgedWrite) {
  TempDir dir("apisix-store-kill-");
  auto data = dir.path() / "data";
  std::mt19937 rng(std::random_device{}());
  std::set<int> all_acked;
  for (int round = 0; round < 4; ++round) {
    auto out = dir.path() / ("out" + std::to_string(round));
    auto err = dir.path() / ("err" + std::to_string(round));
    std::string error;
    pid_t pid = spawn_process({STORE_WRITER, data.string(), "1000000", "16"}, out, err, error);
    ASSERT_GT(pid, 0) << error;
    size_t kill_after = std::uniform_int_distribution<size_t>(20, 3000)(rng);
    bool reached = wait_until([&] { return line_count(out) >= kill_after; },
                              std::chrono::seconds(60), std::chrono::milliseconds(1));
    ::kill(pid, SIGKILL);
    auto code = wait_for_exit(pid, deadline_in(std::chrono::seconds(10)));
    ASSERT_TRUE(reached) << "writer stalled: " << read_file(err);
    ASSERT_EQ(code, 128 + SIGKILL) << read_file(err);

    std::set<int> acked = acked_keys(out);
    all_acked.insert(acked.begin(), acked.end());
    StoreFixture fx("embedded", EmbeddedOptions{data});
    ASSERT_TRUE(fx.ok()) << "round " << round << ": " << fx.error();
    auto listed = fx.list("/w/");
    ASSERT_TRUE(listed);
    std::set<int> present;
    for (const auto& kv : listed->items) {
      int i = std::stoi(kv.key.substr(3));
      present.insert(i);
      ASSERT_EQ(kv.value, test_value(i)) << kv.key;
    }
    for (int i : all_acked) {
      ASSERT_TRUE(present.count(i))
          << "acknowledged key /w/" << i << " lost in round " << round << " (killed after "
          << acked.size() << " acks; " << fx.embedded()->recovery_note() << ")";
    }
    // The store goes on from where it was: new writes get new revisions.
    auto put = fx.put("/after/" + std::to_string(round), "{}");
    ASSERT_TRUE(put) << put.error().context;
    EXPECT_GT(put->revision, listed->revision);
    std::printf("round %d: killed after %zu acks, %zu keys present; %s\n", round, acked.size(),
                present.size(), fx.embedded()->recovery_note().c_str());
  }
}

TEST(EmbeddedDurability, TornTailIsCutOffAndTheStoreGoesOn) {
  TempDir dir("apisix-store-torn-");
  EmbeddedOptions options{dir.path()};
  {
    StoreFixture fx("embedded", options);
    ASSERT_TRUE(fx.ok()) << fx.error();
    ASSERT_EQ(fx.put_all("/k/", 10, 1), 0);
  }
  // Half a record at the end, as a crash in the middle of an append leaves it.
  std::string log = read_file(dir.path() / "log");
  {
    std::ofstream f(dir.path() / "log", std::ios::app | std::ios::binary);
    f << std::string("\x40\x00\x00\x00\x12\x34\x56\x78\x01partial", 16);
  }
  {
    StoreFixture fx("embedded", options);
    ASSERT_TRUE(fx.ok()) << fx.error();
    EXPECT_NE(fx.embedded()->recovery_note(), "");
    EXPECT_EQ(read_file(dir.path() / "log"), log) << "the log is cut back to its valid part";
    auto listed = fx.list("/k/");
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->items.size(), 10u);
    ASSERT_TRUE(fx.put("/k/new", "{}"));
  }
  StoreFixture fx("embedded", options);
  ASSERT_TRUE(fx.ok()) << fx.error();
  EXPECT_EQ(fx.embedded()->recovery_note(), "");
  EXPECT_EQ(fx.list("/k/")->items.size(), 11u);
}

TEST(EmbeddedDurability, DamageInsideAcknowledgedDataRefusesToOpen) {
  TempDir dir("apisix-store-damage-");
  EmbeddedOptions options{dir.path()};
  {
    StoreFixture fx("embedded", options);
    ASSERT_TRUE(fx.ok()) << fx.error();
    ASSERT_EQ(fx.put_all("/k/", 20, 1), 0);
  }
  std::string log = read_file(dir.path() / "log");
  log[log.size() / 2] ^= 0x20;
  write_file(dir.path() / "log", log);
  StoreFixture fx("embedded", options);
  EXPECT_FALSE(fx.ok());
  EXPECT_NE(fx.error().find("damaged"), std::string::npos) << fx.error();
}

TEST(EmbeddedDurability, CompactionRoundTrip) {
  TempDir dir("apisix-store-compact-");
  EmbeddedOptions options{dir.path()};
  int64_t revision = 0;
  {
    StoreFixture fx("embedded", options);
    ASSERT_TRUE(fx.ok()) << fx.error();
    ASSERT_EQ(fx.put_all("/k/", 200, 8), 0);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(fx.remove(test_key("/k/", i)));
    }
    store::PutOptions ttl;
    ttl.ttl = std::chrono::seconds(3600);
    ASSERT_TRUE(fx.put("/ttl", "{}", ttl));
    auto head = fx.get("/k/100");
    ASSERT_TRUE(head && head->kv);
    revision = head->revision;
    ASSERT_TRUE(fx.compact(revision));
    EXPECT_EQ(fx.embedded()->stats().log_rewrites, 1u);
    EXPECT_EQ(fx.embedded()->stats().log_bytes, store::kLogMagic.size());
    ASSERT_TRUE(fx.put("/after", R"({"a":1})"));
  }
  StoreFixture fx("embedded", options);
  ASSERT_TRUE(fx.ok()) << fx.error();
  auto listed = fx.list("/k/");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->items.size(), 150u);
  auto k = fx.get("/k/100");
  ASSERT_TRUE(k && k->kv);
  EXPECT_EQ(k->kv->value, test_value(100));
  EXPECT_EQ(k->revision, revision + 1);
  EXPECT_TRUE(fx.get("/ttl")->kv.has_value());
  auto after = fx.get("/after");
  ASSERT_TRUE(after && after->kv);
  EXPECT_EQ(after->kv->mod_revision, revision + 1);
  auto next = fx.put("/next", "{}");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->revision, revision + 2);
  // History from before the snapshot is gone; the writes after it replay from the log.
  auto old = fx.watch("", 2);
  ASSERT_TRUE(old);
  EXPECT_TRUE(fx.collect(**old, 1, std::chrono::seconds(5)).compacted);
  auto recent = fx.watch("", revision + 1);
  ASSERT_TRUE(recent);
  auto got = fx.collect(**recent, 2, std::chrono::seconds(5));
  ASSERT_EQ(got.events.size(), 2u) << got.error;
  EXPECT_EQ(got.events[0].kv.key, "/after");
  EXPECT_EQ(got.events[1].kv.key, "/next");
}

TEST(EmbeddedDurability, LogIsRewrittenWhenItOutgrowsTheThreshold) {
  TempDir dir("apisix-store-grow-");
  EmbeddedOptions options{dir.path()};
  options.compact_log_bytes = 32 * 1024;
  {
    StoreFixture fx("embedded", options);
    ASSERT_TRUE(fx.ok()) << fx.error();
    ASSERT_EQ(fx.put_all("/k/", 1500, 4), 0);
    auto stats = fx.embedded()->stats();
    EXPECT_GE(stats.log_rewrites, 3u);
    EXPECT_LT(stats.log_bytes, 64u * 1024);
  }
  StoreFixture fx("embedded", options);
  ASSERT_TRUE(fx.ok()) << fx.error();
  auto listed = fx.list("/k/");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->items.size(), 1500u);
}

TEST(EmbeddedDurability, ConcurrentWritesShareSyncs) {
  TempDir dir("apisix-store-group-");
  StoreFixture fx("embedded", EmbeddedOptions{dir.path()});
  ASSERT_TRUE(fx.ok()) << fx.error();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(fx.put_all("/seq/", 200, 1), 0);
  auto t1 = std::chrono::steady_clock::now();
  auto before = fx.embedded()->stats();
  ASSERT_EQ(fx.put_all("/par/", 2000, 64), 0);
  auto t2 = std::chrono::steady_clock::now();
  auto after = fx.embedded()->stats();
  uint64_t writes = after.writes - before.writes;
  uint64_t syncs = after.syncs - before.syncs;
  EXPECT_EQ(writes, 2000u);
  EXPECT_LT(syncs, writes / 4) << "group commit: one fdatasync covers many writes";
  using us = std::chrono::microseconds;
  std::printf(
      "sequential put: %.0f us each; 64 concurrent writers: %.0f puts/s, %.1f writes/sync\n",
      std::chrono::duration_cast<us>(t1 - t0).count() / 200.0,
      2000.0 * 1e6 / std::chrono::duration_cast<us>(t2 - t1).count(),
      static_cast<double>(writes) / static_cast<double>(std::max<uint64_t>(syncs, 1)));
}

TEST(EmbeddedDurability, ASecondOpenOfTheSameDirectoryIsRefused) {
  TempDir dir("apisix-store-lock-");
  StoreFixture first("embedded", EmbeddedOptions{dir.path()});
  ASSERT_TRUE(first.ok()) << first.error();
  StoreFixture second("embedded", EmbeddedOptions{dir.path()});
  EXPECT_FALSE(second.ok());
  EXPECT_NE(second.error().find("in use"), std::string::npos) << second.error();
}

}  // namespace
}  // namespace apisix::test
