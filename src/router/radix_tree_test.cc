#include "router/radix_tree.h"

#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::router {
namespace {

template <typename Tree>
void put(Tree& tree, std::string_view key, int value, uint64_t edit = new_edit_id()) {
  tree.modify(key, edit, [&](int& v, bool& present) {
    v = value;
    present = true;
  });
}

template <typename Tree>
void erase(Tree& tree, std::string_view key, uint64_t edit = new_edit_id()) {
  tree.modify(key, edit, [](int&, bool& present) { present = false; });
}

template <typename Tree>
std::map<std::string, int> contents(const Tree& tree) {
  std::map<std::string, int> out;
  tree.for_each([&](const std::string& key, int value) { out[key] = value; });
  return out;
}

std::vector<std::pair<size_t, int>> prefixes(const RadixTree<int>& tree, std::string_view key) {
  std::vector<std::pair<size_t, int>> out;
  tree.walk_prefixes(ForwardKey{key}, [&](int value, size_t length) {
    out.emplace_back(length, value);
    return false;
  });
  return out;
}

TEST(RadixTree, FindsExactKeysAfterSplitsAndMerges) {
  RadixTree<int> t;
  EXPECT_TRUE(t.empty());
  put(t, "/api/users", 1);
  put(t, "/api/user", 2);  // ends inside a label: split
  put(t, "/api/orders", 3);
  put(t, "", 4);  // the empty key, above everything
  put(t, "/b", 5);
  EXPECT_EQ(t.size(), 5u);
  EXPECT_EQ(*t.find("/api/users"), 1);
  EXPECT_EQ(*t.find("/api/user"), 2);
  EXPECT_EQ(*t.find("/api/orders"), 3);
  EXPECT_EQ(*t.find(""), 4);
  EXPECT_EQ(*t.find("/b"), 5);
  EXPECT_EQ(t.find("/api/"), nullptr);
  EXPECT_EQ(t.find("/api/usersx"), nullptr);
  EXPECT_EQ(t.find("/c"), nullptr);

  erase(t, "/api/user");
  erase(t, "");
  erase(t, "/nothing");
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(contents(t),
            (std::map<std::string, int>{{"/api/orders", 3}, {"/api/users", 1}, {"/b", 5}}));
  // "/" -> {"api/" -> {"orders", "users"}, "b"}: value-less nodes with one child were merged.
  EXPECT_EQ(t.node_count_for_test(), 5u);
  erase(t, "/api/orders");
  erase(t, "/b");
  EXPECT_EQ(t.node_count_for_test(), 1u);
  erase(t, "/api/users");
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.node_count_for_test(), 0u);
}

TEST(RadixTree, WalksStoredPrefixesLongestFirst) {
  RadixTree<int> t;
  for (const char* key : {"", "/", "/a", "/a/", "/a/b/c", "/ab", "/x"}) {
    put(t, key, static_cast<int>(std::string_view(key).size()));
  }
  EXPECT_EQ(prefixes(t, "/a/b/c/d"),
            (std::vector<std::pair<size_t, int>>{{6, 6}, {3, 3}, {2, 2}, {1, 1}, {0, 0}}));
  EXPECT_EQ(prefixes(t, "/a/b"),
            (std::vector<std::pair<size_t, int>>{{3, 3}, {2, 2}, {1, 1}, {0, 0}}));
  EXPECT_EQ(prefixes(t, "/ab"),
            (std::vector<std::pair<size_t, int>>{{3, 3}, {2, 2}, {1, 1}, {0, 0}}));
  EXPECT_EQ(prefixes(t, "q"), (std::vector<std::pair<size_t, int>>{{0, 0}}));
  // Stops at the first visit that returns true.
  int visits = 0;
  EXPECT_TRUE(t.walk_prefixes(ForwardKey{"/a/b/c"}, [&](int value, size_t) {
    ++visits;
    return value == 2;
  }));
  EXPECT_EQ(visits, 3);
}

TEST(RadixTree, WalksMoreNestedPrefixesThanItRemembersAtOnce) {
  RadixTree<int> t;
  std::string key;
  for (int i = 0; i < 50; ++i) {
    key += static_cast<char>('a' + i % 26);
    put(t, key, i);
  }
  std::vector<int> seen;
  t.walk_prefixes(ForwardKey{key + "zzz"}, [&](int value, size_t length) {
    EXPECT_EQ(length, static_cast<size_t>(value + 1));
    seen.push_back(value);
    return false;
  });
  ASSERT_EQ(seen.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(seen[i], 49 - i);
  }
}

TEST(RadixTree, ReversedKeysFindSuffixes) {
  RadixTree<int> t;
  // Host suffixes, stored reversed: ".a.com", "a.com", "" (a bare "*").
  put(t, "moc.a.", 1);
  put(t, "moc.a", 2);
  put(t, "", 3);
  std::vector<int> seen;
  t.walk_prefixes(ReversedKey{"x.a.com"}, [&](int value, size_t) {
    seen.push_back(value);
    return false;
  });
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  seen.clear();
  t.walk_prefixes(ReversedKey{"ba.com"}, [&](int value, size_t) {
    seen.push_back(value);
    return false;
  });
  EXPECT_EQ(seen, (std::vector<int>{2, 3}));
}

TEST(RadixTree, CopiesAreIndependentVersions) {
  RadixTree<int> v1;
  const uint64_t build = new_edit_id();
  for (int i = 0; i < 100; ++i) {
    put(v1, "/k" + std::to_string(i), i, build);
  }
  RadixTree<int> v2 = v1;
  const uint64_t edit = new_edit_id();
  put(v2, "/k5", 500, edit);
  put(v2, "/k50", 5000, edit);  // twice under one edit: the second changes the copy in place
  put(v2, "/k50", 5001, edit);
  erase(v2, "/k7", edit);
  put(v2, "/new", 1, edit);
  EXPECT_EQ(*v1.find("/k5"), 5);
  EXPECT_EQ(*v1.find("/k50"), 50);
  EXPECT_EQ(*v1.find("/k7"), 7);
  EXPECT_EQ(v1.find("/new"), nullptr);
  EXPECT_EQ(v1.size(), 100u);
  EXPECT_EQ(*v2.find("/k5"), 500);
  EXPECT_EQ(*v2.find("/k50"), 5001);
  EXPECT_EQ(v2.find("/k7"), nullptr);
  EXPECT_EQ(*v2.find("/new"), 1);
  EXPECT_EQ(v2.size(), 100u);
}

// Random operations against std::map, keeping every version and checking them all at the end.
TEST(RadixTree, RandomOperationsMatchAMapInEveryVersion) {
  std::mt19937 rng(7);
  auto random_key = [&] {
    constexpr std::string_view kAlphabet = "/ab";
    std::string key;
    const int length = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int i = 0; i < length; ++i) {
      key += kAlphabet[std::uniform_int_distribution<int>(0, 2)(rng)];
    }
    return key;
  };
  RadixTree<int> tree;
  std::map<std::string, int> model;
  std::vector<std::pair<RadixTree<int>, std::map<std::string, int>>> versions;
  for (int batch = 0; batch < 200; ++batch) {
    const uint64_t edit = new_edit_id();
    for (int op = 0; op < 10; ++op) {
      const std::string key = random_key();
      if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
        erase(tree, key, edit);
        model.erase(key);
      } else {
        const int value = std::uniform_int_distribution<int>(0, 1000)(rng);
        put(tree, key, value, edit);
        model[key] = value;
      }
    }
    versions.emplace_back(tree, model);
  }
  for (const auto& [t, m] : versions) {
    ASSERT_EQ(contents(t), m);
    ASSERT_EQ(t.size(), m.size());
    for (int i = 0; i < 20; ++i) {
      const std::string key = random_key();
      std::vector<std::pair<size_t, int>> want;
      for (size_t length = key.size() + 1; length-- > 0;) {
        auto it = m.find(key.substr(0, length));
        if (it != m.end()) {
          want.emplace_back(length, it->second);
        }
      }
      ASSERT_EQ(prefixes(t, key), want) << key;
    }
  }
}

// A hash that collides a lot: only the low 3 bits of the length and first byte survive, and
// for some keys all 64 bits agree, so leaves share chains.
struct PoorHash {
  size_t operator()(std::string_view key) const {
    const size_t first = key.empty() ? 0 : static_cast<unsigned char>(key.front());
    return ((key.size() & 7) << 61) | (first & 7);
  }
};

TEST(HashTrie, FindsModifiesAndRemoves) {
  HashTrie<int> t;
  EXPECT_TRUE(t.empty());
  for (int i = 0; i < 1000; ++i) {
    put(t, "/path/" + std::to_string(i), i);
  }
  EXPECT_EQ(t.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_NE(t.find("/path/" + std::to_string(i)), nullptr);
    EXPECT_EQ(*t.find("/path/" + std::to_string(i)), i);
  }
  EXPECT_EQ(t.find("/path/1000"), nullptr);
  EXPECT_LE(t.depth_for_test(), 5u);  // 32-way branches: ~log32(1000) + 1
  for (int i = 0; i < 1000; i += 2) {
    erase(t, "/path/" + std::to_string(i));
  }
  EXPECT_EQ(t.size(), 500u);
  EXPECT_EQ(t.find("/path/0"), nullptr);
  EXPECT_EQ(*t.find("/path/1"), 1);
  for (int i = 1; i < 1000; i += 2) {
    erase(t, "/path/" + std::to_string(i));
  }
  EXPECT_TRUE(t.empty());
}

template <typename Hash>
void random_hash_trie_operations(uint32_t seed) {
  std::mt19937 rng(seed);
  auto random_key = [&] {
    std::string key;
    const int length = std::uniform_int_distribution<int>(0, 4)(rng);
    for (int i = 0; i < length; ++i) {
      key += static_cast<char>('a' + std::uniform_int_distribution<int>(0, 3)(rng));
    }
    return key;
  };
  HashTrie<int, Hash> trie;
  std::map<std::string, int> model;
  std::vector<std::pair<HashTrie<int, Hash>, std::map<std::string, int>>> versions;
  for (int batch = 0; batch < 200; ++batch) {
    const uint64_t edit = new_edit_id();
    for (int op = 0; op < 10; ++op) {
      const std::string key = random_key();
      if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
        erase(trie, key, edit);
        model.erase(key);
      } else {
        const int value = std::uniform_int_distribution<int>(0, 1000)(rng);
        put(trie, key, value, edit);
        model[key] = value;
      }
    }
    versions.emplace_back(trie, model);
  }
  for (const auto& [t, m] : versions) {
    ASSERT_EQ(contents(t), m);
    ASSERT_EQ(t.size(), m.size());
    for (int i = 0; i < 20; ++i) {
      const std::string key = random_key();
      auto it = m.find(key);
      const int* found = t.find(key);
      ASSERT_EQ(found != nullptr, it != m.end()) << key;
      if (found != nullptr) {
        ASSERT_EQ(*found, it->second);
      }
    }
  }
}

TEST(HashTrie, RandomOperationsMatchAMapInEveryVersion) {
  random_hash_trie_operations<std::hash<std::string_view>>(1);
}

TEST(HashTrie, CollidingHashesShareChainsAndDeepBranches) {
  random_hash_trie_operations<PoorHash>(2);
  random_hash_trie_operations<PoorHash>(3);
}

}  // namespace
}  // namespace apisix::router
