#pragma once
// Request and Response: what a plugin phase sees of the request it runs for (STYLE.md §2).
// One Request per client request, owned by the session on its worker thread; nothing here is
// shared between threads. Plugins read the request through variables and headers, change
// what goes to the upstream (headers, URI, method, Host) and to the client (response
// headers), attach a consumer, and keep typed per-request state.
//
// The request head (and so every variable read from it) is available in rewrite, access and
// before_proxy. In header_filter, body_filter and log it is gone (the connection buffer moves
// on); there plugins read what the gateway recorded (status, sizes, latency, upstream address)
// and what they kept in their state.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/parser.h"
#include "router/vars.h"

namespace apisix::core {
class Loop;
}
namespace apisix::redis {
class RedisClients;
}

namespace apisix::plugins {

class Plugin;
struct Consumer;
class ConsumerIndex;

// Header changes over a list of original fields: names replaced or removed (the original
// fields of those names are dropped) and fields added after the originals.
class HeaderEdits {
 public:
  // Replaces every field called `name` (case-insensitive) with one field.
  void set(std::string_view name, std::string_view value);
  // Adds a field, keeping the others of that name.
  void add(std::string_view name, std::string_view value);
  // Removes every field called `name`.
  void remove(std::string_view name);

  struct Field {
    std::string name;
    std::string value;
  };

  bool empty() const { return removed_.empty() && added_.empty(); }
  // Whether original fields called `name` are dropped.
  bool drops(std::string_view name) const;
  // Fields to send after the (not dropped) originals, in order.
  const std::vector<Field>& added() const { return added_; }
  // The value `name` has after the edits, given the original fields; nullopt: none.
  std::optional<std::string_view> get(std::string_view name, const http::Header* original,
                                      size_t count) const;

 private:
  // A set() is one added field that also replaces the originals (replaces_[i]), so the name
  // is stored once; remove() keeps the name in removed_.
  bool erase_added(std::string_view name);
  std::vector<Field> added_;
  std::vector<bool> replaces_;
  std::vector<std::string> removed_;
};

// The response on its way to the client: its status and its header fields as edits over the
// original ones (the node's, or an exit's).
class Response {
 public:
  int status = 0;

  std::optional<std::string_view> header(std::string_view name) const {
    return edits_.get(name, original_, original_count_);
  }
  void set_header(std::string_view name, std::string_view value) { edits_.set(name, value); }
  void add_header(std::string_view name, std::string_view value) { edits_.add(name, value); }
  void remove_header(std::string_view name) { edits_.remove(name); }
  const HeaderEdits& edits() const { return edits_; }

  // A header_filter announces that body_filter will change the body: the original length is
  // dropped and the body goes out chunked (HTTP/1.1) or until close (HTTP/1.0).
  void modify_body() { body_modified_ = true; }
  bool body_modified() const { return body_modified_; }

  // The session: the original fields (views valid during header_filter only).
  void set_original(const http::Header* headers, size_t count) {
    original_ = headers;
    original_count_ = count;
  }

 private:
  HeaderEdits edits_;
  const http::Header* original_ = nullptr;
  size_t original_count_ = 0;
  bool body_modified_ = false;
};

// The matched route and what it came with, for variables and metrics.
struct RouteFacts {
  std::string_view route_id;
  std::string_view route_name;
  std::string_view service_id;
  std::string_view service_name;
  std::string_view matched_uri;   // the route's `uri` pattern that matched (first one)
  std::string_view matched_host;  // the route's first `hosts` entry, or ""
};

// What the gateway records about the request for header_filter, body_filter and log.
struct Outcome {
  uint64_t request_length = 0;                     // head + body bytes read from the client
  uint64_t bytes_sent = 0;                         // bytes written to the client, head included
  std::string upstream_addr;                       // "ip:port" of the last node tried, or ""
  std::chrono::milliseconds upstream_latency{-1};  // -1: no upstream answered
  bool proxied = false;                            // the response came from a node
};

class Request final : public router::VarSource {
 public:
  using Clock = std::chrono::steady_clock;

  // `head`: the parsed request (null in tests of filter phases); `base`: variables of the
  // request as received (may be null: then only the variables of this class are known).
  Request(const http::RequestHead* head, const router::VarSource* base)
      : head_(head), base_(base), start_(Clock::now()) {}
  ~Request() override;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  // ---- reading the request (rewrite, access, before_proxy) ----
  // Variables (core.md §6.9) with this request's changes and additions: `consumer_name`,
  // `consumer_group_id`, `route_id`, `route_name`, `service_id`, `service_name`,
  // `http_*` after header changes.
  router::VarValue get(const router::VarRef& ref) const override;
  // A variable by name when it has a string value (parses the name each call; templates
  // parse theirs once and call get()).
  std::optional<std::string_view> var(std::string_view name) const;
  // A request header after this request's changes.
  std::optional<std::string_view> header(std::string_view name) const;
  const http::RequestHead* head() const { return head_; }
  // The method as it goes upstream ("GET").
  std::string_view method() const;
  // $uri (normalised path) and $args of the request as received.
  std::string_view uri() const;
  std::string_view query() const { return head_ != nullptr ? head_->query : std::string_view{}; }
  std::string_view remote_addr() const;

  // ---- changing what goes upstream ----
  HeaderEdits& upstream_headers() { return upstream_headers_; }
  const HeaderEdits& upstream_headers() const { return upstream_headers_; }
  void set_header(std::string_view name, std::string_view value) {
    upstream_headers_.set(name, value);
  }
  void remove_header(std::string_view name) { upstream_headers_.remove(name); }
  // The path and query sent upstream ($upstream_uri), replacing the request target.
  void set_upstream_uri(std::string target) { upstream_uri_ = std::move(target); }
  const std::optional<std::string>& upstream_uri() const { return upstream_uri_; }
  void set_method(std::string method) { method_ = std::move(method); }
  const std::optional<std::string>& method_override() const { return method_; }
  // The Host header sent upstream, replacing pass_host's choice.
  void set_upstream_host(std::string host) { upstream_host_ = std::move(host); }
  const std::optional<std::string>& upstream_host() const { return upstream_host_; }

  // ---- the response (headers set here go out with whatever response is sent) ----
  Response& response() { return response_; }
  const Response& response() const { return response_; }

  // ---- consumer (plugins.md §3.1) ----
  // An auth plugin identified `consumer` (through credential `credential_id`, "" when the
  // consumer's own plugins): sets X-Consumer-Username, X-Credential-Identifier and
  // X-Consumer-Custom-ID upstream (removing the ones without a value).
  void attach_consumer(const Consumer& consumer, std::string_view credential_id);
  const Consumer* consumer() const { return consumer_; }

  // ---- facts ----
  RouteFacts route;
  Outcome outcome;
  Clock::time_point start() const { return start_; }

  // ---- the worker this request runs on, and the snapshot's consumers ----
  const ConsumerIndex* consumers = nullptr;
  core::Loop* loop = nullptr;
  uint32_t worker_id = 0;
  redis::RedisClients* redis = nullptr;

  // ---- per-request state of a plugin instance, made on first use ----
  template <typename T>
  T& state(const Plugin& owner) {
    for (Slot& s : slots_) {
      if (s.owner == &owner) {
        return *static_cast<T*>(s.ptr);
      }
    }
    T* made = new T();
    slots_.push_back(Slot{&owner, made, [](void* p) { delete static_cast<T*>(p); }});
    return *made;
  }
  template <typename T>
  T* find_state(const Plugin& owner) {
    for (Slot& s : slots_) {
      if (s.owner == &owner) {
        return static_cast<T*>(s.ptr);
      }
    }
    return nullptr;
  }

  // The session: the head is gone (filter and log phases).
  void drop_head() { head_ = nullptr; }
  // Cached `_meta.filter` results (runner.h), by instance.
  std::optional<bool> cached_filter(const void* instance) const;
  void cache_filter(const void* instance, bool pass);

 private:
  struct Slot {
    const void* owner;
    void* ptr;
    void (*destroy)(void*);
  };

  const http::RequestHead* head_;
  const router::VarSource* base_;
  Clock::time_point start_;
  HeaderEdits upstream_headers_;
  std::optional<std::string> upstream_uri_;
  std::optional<std::string> method_;
  std::optional<std::string> upstream_host_;
  Response response_;
  const Consumer* consumer_ = nullptr;
  std::vector<Slot> slots_;
  std::vector<std::pair<const void*, bool>> filters_;
  mutable char status_text_[3] = {};
};

}  // namespace apisix::plugins
