#pragma once
// Persistent radix trees, the indexes behind RouteTable (core.md §5.6).
//
// RadixTree<V>: a compressed trie over the bytes of its keys. walk_prefixes() visits, in one
// pass down the tree, the values whose keys are prefixes of a given key, longest first.
// HashTrie<V>: a hash array mapped trie, i.e. a radix tree over the bits of each key's hash:
// a persistent hash map.
//
// Both are small values holding a shared_ptr to an immutable root. Copying one is O(1) and
// shares every node; modify() changes the copy only, by copying the nodes on the path to
// the changed key (copy-on-write), so older versions stay valid and unchanged for readers
// on other threads. Lookups never allocate. A tree is changed by one thread at a time;
// published versions are read by any number of threads.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apisix::router {

// Identifies one batch of edits. Nodes created in a batch carry its id, and later edits of
// the same batch change them in place instead of copying them again (so building a table
// from scratch costs no more than with mutable trees). Ids are never reused, so a node that
// a published version can reach is never written again.
inline uint64_t new_edit_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// How walk_prefixes() reads a request key: forwards (paths) or from the end (host names,
// whose wildcard suffixes are stored reversed). Label bytes are compared as stored.
struct ForwardKey {
  std::string_view text;
  size_t size() const { return text.size(); }
  char at(size_t i) const { return text[i]; }
  bool equal(size_t pos, std::string_view label) const {
    return std::memcmp(text.data() + pos, label.data(), label.size()) == 0;
  }
};

struct ReversedKey {
  std::string_view text;
  size_t size() const { return text.size(); }
  char at(size_t i) const { return text[text.size() - 1 - i]; }
  bool equal(size_t pos, std::string_view label) const {
    const char* end = text.data() + text.size() - pos;  // one past the byte at `pos`
    for (char c : label) {
      if (*--end != c) {
        return false;
      }
    }
    return true;
  }
};

template <typename V>
class RadixTree {
 public:
  bool empty() const { return root_ == nullptr; }
  size_t size() const { return size_; }

  // The value stored under exactly `key`, or null.
  const V* find(std::string_view key) const {
    const Node* node = root_.get();
    size_t pos = 0;
    while (node != nullptr) {
      const std::string& label = node->label;
      if (label.size() > key.size() - pos ||
          std::memcmp(key.data() + pos, label.data(), label.size()) != 0) {
        return nullptr;
      }
      pos += label.size();
      if (pos == key.size()) {
        return node->has_value ? &node->value : nullptr;
      }
      node = child(*node, key[pos]);
    }
    return nullptr;
  }

  // Calls visit(const V& value, size_t key_length) for each stored key that is a prefix of
  // `key` (`key` itself included), longest first, until a call returns true; returns whether
  // one did. Does not allocate: the deepest kDeepest matches of one descent are remembered,
  // and only a path with more stored prefixes than that is walked again for the rest.
  template <typename Key, typename Visit>
  bool walk_prefixes(const Key& key, Visit&& visit) const {
    constexpr size_t kDeepest = 16;
    const Node* found[kDeepest];  // slots [0, min(count, kDeepest)) are set before use
    size_t found_length[kDeepest];
    size_t limit = key.size() + 1;  // only keys shorter than this are still to be visited
    for (;;) {
      size_t count = 0;
      const Node* node = root_.get();
      size_t pos = 0;
      while (node != nullptr) {
        const std::string& label = node->label;
        if (label.size() > key.size() - pos || !key.equal(pos, label)) {
          break;
        }
        pos += label.size();
        if (pos >= limit) {
          break;
        }
        if (node->has_value) {
          found[count % kDeepest] = node;
          found_length[count % kDeepest] = pos;
          ++count;
        }
        if (pos == key.size()) {
          break;
        }
        node = child(*node, key.at(pos));
      }
      const size_t kept = std::min(count, kDeepest);
      for (size_t k = 0; k < kept; ++k) {
        const size_t slot = (count - 1 - k) % kDeepest;
        // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): the slot was set above
        if (visit(found[slot]->value, found_length[slot])) {
          return true;
        }
      }
      if (count <= kDeepest) {
        return false;
      }
      limit = found_length[(count - kept) % kDeepest];
    }
  }

  // Changes what is stored under `key`: fn(V& value, bool& present) is called once, with
  // the stored value and present = true, or with V{} and present = false; it may change
  // both (present = false afterwards removes the key). `edit` is the batch (new_edit_id()).
  template <typename Fn>
  void modify(std::string_view key, uint64_t edit, Fn&& fn) {
    int delta = 0;
    root_ = modify_node(root_, key, edit, fn, delta);
    size_ = static_cast<size_t>(static_cast<ptrdiff_t>(size_) + delta);
  }

  // Calls f(const std::string& key, const V& value) for every key, in byte order.
  template <typename F>
  void for_each(F&& f) const {
    std::string key;
    if (root_ != nullptr) {
      for_each_node(*root_, key, f);
    }
  }

  // Number of nodes, for tests of the tree's shape.
  size_t node_count_for_test() const { return root_ == nullptr ? 0 : count_nodes(*root_); }

 private:
  struct Node;
  using NodePtr = std::shared_ptr<const Node>;
  struct Node {
    uint64_t edit = 0;
    std::string label;        // key bytes from the parent to here; may be empty only at the root
    std::string first_bytes;  // first label byte of each child, ascending
    std::vector<NodePtr> children;
    bool has_value = false;
    V value{};
  };

  static const Node* child(const Node& node, char byte) {
    const std::string& bytes = node.first_bytes;
    if (bytes.size() <= 16) {
      // Most nodes have a few children: a plain loop beats a call to memchr.
      for (size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[i] == byte) {
          return node.children[i].get();
        }
      }
      return nullptr;
    }
    const void* hit = std::memchr(bytes.data(), byte, bytes.size());
    if (hit == nullptr) {
      return nullptr;
    }
    return node.children[static_cast<const char*>(hit) - bytes.data()].get();
  }

  static size_t child_index(const Node& node, char byte) {
    const size_t i = node.first_bytes.find(byte);
    return i;
  }

  // The node to write: `node` itself if this batch created it, else a copy put in its place.
  static Node* writable(NodePtr& node, uint64_t edit) {
    if (node->edit != edit) {
      auto copy = std::make_shared<Node>(*node);
      copy->edit = edit;
      node = std::move(copy);
    }
    return const_cast<Node*>(node.get());
  }

  static std::shared_ptr<Node> make_node(std::string_view label, uint64_t edit) {
    auto node = std::make_shared<Node>();
    node->edit = edit;
    node->label = std::string(label);
    return node;
  }

  static void add_child(Node& parent, NodePtr child) {
    const char byte = child->label.front();
    const size_t at = static_cast<size_t>(
        std::lower_bound(parent.first_bytes.begin(), parent.first_bytes.end(), byte) -
        parent.first_bytes.begin());
    parent.first_bytes.insert(at, 1, byte);
    parent.children.insert(parent.children.begin() + static_cast<ptrdiff_t>(at), std::move(child));
  }

  // After a change below `node` (already writable): drops a node that holds nothing and
  // merges a value-less node into its only child, so the tree stays compressed.
  static NodePtr normalize(NodePtr node, uint64_t edit) {
    const Node& n = *node;
    if (n.has_value) {
      return node;
    }
    if (n.children.empty()) {
      return nullptr;
    }
    if (n.children.size() == 1) {
      auto merged = std::make_shared<Node>(*n.children.front());
      merged->edit = edit;
      merged->label.insert(0, n.label);
      return merged;
    }
    return node;
  }

  template <typename Fn>
  static NodePtr modify_node(NodePtr node, std::string_view key, uint64_t edit, Fn& fn,
                             int& delta) {
    if (node == nullptr) {
      V value{};
      bool present = false;
      fn(value, present);
      if (!present) {
        return nullptr;
      }
      delta = 1;
      auto leaf = make_node(key, edit);
      leaf->has_value = true;
      leaf->value = std::move(value);
      return leaf;
    }
    const std::string& label = node->label;
    const size_t common = static_cast<size_t>(
        std::mismatch(label.begin(), label.end(), key.begin(), key.end()).first - label.begin());
    if (common < label.size()) {
      // `key` ends or diverges inside this node's label: split the label there.
      V value{};
      bool present = false;
      fn(value, present);
      if (!present) {
        return node;
      }
      delta = 1;
      auto parent = make_node(key.substr(0, common), edit);
      auto tail = std::make_shared<Node>(*node);
      tail->edit = edit;
      tail->label.erase(0, common);
      add_child(*parent, std::move(tail));
      if (common == key.size()) {
        parent->has_value = true;
        parent->value = std::move(value);
      } else {
        auto leaf = make_node(key.substr(common), edit);
        leaf->has_value = true;
        leaf->value = std::move(value);
        add_child(*parent, std::move(leaf));
      }
      return parent;
    }
    const std::string_view rest = key.substr(common);
    if (rest.empty()) {
      if (!node->has_value) {
        V value{};
        bool present = false;
        fn(value, present);
        if (!present) {
          return node;
        }
        delta = 1;
        Node* w = writable(node, edit);
        w->has_value = true;
        w->value = std::move(value);
        return node;
      }
      Node* w = writable(node, edit);
      bool present = true;
      fn(w->value, present);
      if (!present) {
        delta = -1;
        w->has_value = false;
        w->value = V{};
        return normalize(node, edit);
      }
      return node;
    }
    const size_t i = child_index(*node, rest.front());
    const NodePtr old_child = i == std::string::npos ? nullptr : node->children[i];
    NodePtr new_child = modify_node(old_child, rest, edit, fn, delta);
    if (new_child == old_child) {
      return node;
    }
    Node* w = writable(node, edit);
    if (old_child == nullptr) {
      add_child(*w, std::move(new_child));
    } else if (new_child == nullptr) {
      w->first_bytes.erase(i, 1);
      w->children.erase(w->children.begin() + static_cast<ptrdiff_t>(i));
    } else {
      w->children[i] = std::move(new_child);
    }
    return normalize(node, edit);
  }

  template <typename F>
  static void for_each_node(const Node& node, std::string& key, F& f) {
    const size_t before = key.size();
    key += node.label;
    if (node.has_value) {
      f(std::as_const(key), node.value);
    }
    for (const NodePtr& c : node.children) {
      for_each_node(*c, key, f);
    }
    key.resize(before);
  }

  static size_t count_nodes(const Node& node) {
    size_t n = 1;
    for (const NodePtr& c : node.children) {
      n += count_nodes(*c);
    }
    return n;
  }

  NodePtr root_;
  size_t size_ = 0;
};

template <typename V, typename Hash = std::hash<std::string_view>>
class HashTrie {
 public:
  bool empty() const { return root_ == nullptr; }
  size_t size() const { return size_; }

  // The value stored under `key`, or null.
  const V* find(std::string_view key) const {
    const uint64_t hash = Hash{}(key);
    const Node* node = root_.get();
    unsigned shift = 0;
    while (node != nullptr) {
      if (node->is_leaf()) {
        for (; node != nullptr; node = node->next.get()) {
          if (node->hash == hash && node->key == key) {
            return &node->value;
          }
        }
        return nullptr;
      }
      const uint32_t bit = 1u << chunk(hash, shift);
      if ((node->bitmap & bit) == 0) {
        return nullptr;
      }
      node = node->children[popcount(node->bitmap & (bit - 1))].get();
      shift += kBits;
    }
    return nullptr;
  }

  // As RadixTree::modify.
  template <typename Fn>
  void modify(std::string_view key, uint64_t edit, Fn&& fn) {
    int delta = 0;
    root_ = modify_node(root_, Hash{}(key), key, 0, edit, fn, delta);
    size_ = static_cast<size_t>(static_cast<ptrdiff_t>(size_) + delta);
  }

  // Calls f(const std::string& key, const V& value) for every key, in no particular order.
  template <typename F>
  void for_each(F&& f) const {
    if (root_ != nullptr) {
      for_each_node(*root_, f);
    }
  }

  // Depth of the deepest leaf, for tests.
  size_t depth_for_test() const { return root_ == nullptr ? 0 : depth(*root_); }

 private:
  static constexpr unsigned kBits = 5;  // 32 children per branch

  struct Node;
  using NodePtr = std::shared_ptr<const Node>;
  // A branch (bitmap != 0: children for the set bits, in bit order) or a leaf (bitmap == 0:
  // one key, plus `next`, further leaves whose keys have the very same hash).
  struct Node {
    uint64_t edit = 0;
    uint32_t bitmap = 0;
    std::vector<NodePtr> children;
    uint64_t hash = 0;
    std::string key;
    V value{};
    NodePtr next;
    bool is_leaf() const { return bitmap == 0; }
  };

  // std::popcount becomes a library call on CPUs the build does not assume to have the
  // instruction; this is a handful of inline operations.
  static size_t popcount(uint32_t x) {
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0fu;
    return (x * 0x01010101u) >> 24;
  }

  static unsigned chunk(uint64_t hash, unsigned shift) {
    return static_cast<unsigned>(hash >> shift) & ((1u << kBits) - 1);
  }

  static Node* writable(NodePtr& node, uint64_t edit) {
    if (node->edit != edit) {
      auto copy = std::make_shared<Node>(*node);
      copy->edit = edit;
      node = std::move(copy);
    }
    return const_cast<Node*>(node.get());
  }

  static NodePtr make_leaf(uint64_t hash, std::string_view key, V value, uint64_t edit) {
    auto leaf = std::make_shared<Node>();
    leaf->edit = edit;
    leaf->hash = hash;
    leaf->key = std::string(key);
    leaf->value = std::move(value);
    return leaf;
  }

  // A branch at `shift` holding two leaves with different hashes (deeper branches while
  // their hashes agree; they differ somewhere, so this ends before the bits run out).
  static NodePtr make_pair(NodePtr a, NodePtr b, unsigned shift, uint64_t edit) {
    auto branch = std::make_shared<Node>();
    branch->edit = edit;
    const unsigned ia = chunk(a->hash, shift);
    const unsigned ib = chunk(b->hash, shift);
    if (ia == ib) {
      branch->bitmap = 1u << ia;
      branch->children.push_back(make_pair(std::move(a), std::move(b), shift + kBits, edit));
    } else {
      branch->bitmap = (1u << ia) | (1u << ib);
      if (ia > ib) {
        std::swap(a, b);
      }
      branch->children.push_back(std::move(a));
      branch->children.push_back(std::move(b));
    }
    return branch;
  }

  template <typename Fn>
  static NodePtr modify_node(NodePtr node, uint64_t hash, std::string_view key, unsigned shift,
                             uint64_t edit, Fn& fn, int& delta) {
    if (node == nullptr || (node->is_leaf() && node->hash != hash)) {
      V value{};
      bool present = false;
      fn(value, present);
      if (!present) {
        return node;
      }
      delta = 1;
      NodePtr leaf = make_leaf(hash, key, std::move(value), edit);
      return node == nullptr ? leaf : make_pair(std::move(node), std::move(leaf), shift, edit);
    }
    if (node->is_leaf()) {
      return modify_chain(std::move(node), hash, key, edit, fn, delta);
    }
    const uint32_t bit = 1u << chunk(hash, shift);
    const size_t at = popcount(node->bitmap & (bit - 1));
    const NodePtr old_child = (node->bitmap & bit) != 0 ? node->children[at] : nullptr;
    NodePtr new_child = modify_node(old_child, hash, key, shift + kBits, edit, fn, delta);
    if (new_child == old_child) {
      return node;
    }
    Node* w = writable(node, edit);
    if (old_child == nullptr) {
      w->bitmap |= bit;
      w->children.insert(w->children.begin() + static_cast<ptrdiff_t>(at), std::move(new_child));
    } else if (new_child == nullptr) {
      w->bitmap &= ~bit;
      w->children.erase(w->children.begin() + static_cast<ptrdiff_t>(at));
    } else {
      w->children[at] = std::move(new_child);
    }
    // A branch left with nothing disappears; one left with a single leaf is replaced by it
    // (a leaf holds its whole hash, so it may sit at any depth).
    if (w->children.empty()) {
      return nullptr;
    }
    if (w->children.size() == 1 && w->children.front()->is_leaf()) {
      return w->children.front();
    }
    return node;
  }

  // `node` is a leaf whose hash equals `hash`: the key is in its chain or joins it.
  template <typename Fn>
  static NodePtr modify_chain(NodePtr node, uint64_t hash, std::string_view key, uint64_t edit,
                              Fn& fn, int& delta) {
    if (node->key == key) {
      Node* w = writable(node, edit);
      bool present = true;
      fn(w->value, present);
      if (!present) {
        delta = -1;
        return w->next;
      }
      return node;
    }
    if (node->next == nullptr) {
      V value{};
      bool present = false;
      fn(value, present);
      if (!present) {
        return node;
      }
      delta = 1;
      NodePtr leaf = make_leaf(hash, key, std::move(value), edit);
      writable(node, edit)->next = std::move(leaf);
      return node;
    }
    NodePtr next = modify_chain(node->next, hash, key, edit, fn, delta);
    if (next == node->next) {
      return node;
    }
    writable(node, edit)->next = std::move(next);
    return node;
  }

  template <typename F>
  static void for_each_node(const Node& node, F& f) {
    if (node.is_leaf()) {
      for (const Node* leaf = &node; leaf != nullptr; leaf = leaf->next.get()) {
        f(leaf->key, leaf->value);
      }
      return;
    }
    for (const NodePtr& c : node.children) {
      for_each_node(*c, f);
    }
  }

  static size_t depth(const Node& node) {
    size_t d = 0;
    for (const NodePtr& c : node.children) {
      d = std::max(d, depth(*c));
    }
    return d + 1;
  }

  NodePtr root_;
  size_t size_ = 0;
};

}  // namespace apisix::router
