// One client connection: read and check each request head, match a route, proxy the request
// to a node of its upstream with retries, and relay the response, streaming bodies both ways
// through fixed-size buffers (so memory stays flat whatever the body size).
// See docs/request-lifecycle.md for the phases and the retry loop.

#include <algorithm>
#include <cstring>
#include <string>

#include <sys/uio.h>

#include "core/buffer.h"
#include "core/log.h"
#include "gateway/access_log.h"
#include "gateway/worker.h"
#include "http/chunked.h"
#include "http/error_page.h"
#include "http/parser.h"
#include "http/uri.h"
#include "plugins/request.h"
#include "plugins/request_vars.h"
#include "plugins/runner.h"

namespace apisix::gateway {
namespace {

using namespace std::string_view_literals;

using core::IoError;
using core::IoResult;
using core::Task;
using http::BodyKind;
using http::error_response;
using http::route_not_found_response;

// Request bodies up to this size are read before the first try, so a retry can resend them.
constexpr size_t kReplayBodyBytes = 64 * 1024;
// Room for body data after a maximal head in each connection buffer.
constexpr size_t kBodyRoomBytes = 64 * 1024;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Field names that describe one hop, not the message (RFC 9110 §7.6.1), plus the ones the
// gateway writes itself when forwarding a request (core.md §7.8).
bool skip_request_field(std::string_view name) {
  using http::iequals;
  switch (name.size()) {
    case 2:
      return iequals(name, "te");
    case 4:
      return iequals(name, "host");
    case 6:
      return iequals(name, "expect");
    case 7:
      return iequals(name, "upgrade");
    case 9:
      return iequals(name, "forwarded") || iequals(name, "x-real-ip");
    case 10:
      return iequals(name, "connection") || iequals(name, "keep-alive");
    case 14:
      return iequals(name, "content-length");
    case 15:
      return iequals(name, "x-forwarded-for");
    case 16:
      return iequals(name, "proxy-connection") || iequals(name, "x-forwarded-host") ||
             iequals(name, "x-forwarded-port");
    case 17:
      return iequals(name, "transfer-encoding") || iequals(name, "x-forwarded-proto");
    default:
      return false;
  }
}

bool skip_response_field(std::string_view name) {
  using http::iequals;
  switch (name.size()) {
    case 2:
      return iequals(name, "te");
    case 6:
      return iequals(name, "server");
    case 7:
      return iequals(name, "upgrade");
    case 10:
      return iequals(name, "connection") || iequals(name, "keep-alive");
    case 14:
      return iequals(name, "content-length");
    case 16:
      return iequals(name, "proxy-connection");
    case 17:
      return iequals(name, "transfer-encoding");
    default:
      return false;
  }
}

// Whether `name` is listed in the Connection field (and so is hop-by-hop too).
bool named_in_connection(std::string_view connection, std::string_view name) {
  return !connection.empty() && http::connection_has_token(connection, name);
}

bool is_idempotent(http::Method m) {
  return m != http::Method::Post && m != http::Method::Patch && m != http::Method::Connect &&
         m != http::Method::Other;
}

// The node the current try holds in its upstream's balancer: least_conn counts it as in
// flight until it is released, which happens before the next try and on every way out of the
// request, co_return included (core.md §7.5). Lives in the request's coroutine frame.
class HeldNode {
 public:
  HeldNode() = default;
  HeldNode(const HeldNode&) = delete;
  HeldNode& operator=(const HeldNode&) = delete;
  ~HeldNode() { release(); }

  void hold(const upstream::Balancer& balancer, uint32_t node) {
    release();
    balancer_ = &balancer;
    node_ = node;
  }
  void release() {
    if (balancer_ != nullptr && !std::exchange(balancer_, nullptr)->release(node_)) {
      core::log_error("balancer: node ", node_, " released without a pick");
    }
  }

 private:
  const upstream::Balancer* balancer_ = nullptr;
  uint32_t node_ = 0;
};

void append_number(std::string& out, uint64_t n) {
  char digits[24];
  int len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  while (len > 0) {
    out += digits[--len];
  }
}

// "host[:port]" -> lower-cased host without port, written into `scratch` when it must change.
std::string_view host_for_matching(std::string_view host, std::string& scratch) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    host = host.substr(0, close == std::string_view::npos ? host.size() : close + 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  bool has_upper =
      std::any_of(host.begin(), host.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  if (!has_upper) {
    return host;
  }
  scratch.assign(host);
  for (char& c : scratch) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return scratch;
}

// "host[:port]" or "[v6][:port]" -> the host part, brackets kept.
std::string_view host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

std::string_view port_of_host(std::string_view host) {
  size_t start = 0;
  if (!host.empty() && host.front() == '[') {
    start = host.find(']');
    if (start == std::string_view::npos) {
      return {};
    }
  }
  size_t colon = host.find(':', start);
  return colon == std::string_view::npos ? std::string_view{} : host.substr(colon + 1);
}

// chash: the key hash of a request, from its variables (read while the head is valid).
uint32_t chash_of(const CompiledRoute& route, const router::VarSource& vars) {
  if (route.upstream == nullptr ||
      route.upstream->balancer.type() != upstream::BalancerType::Chash) {
    return 0;
  }
  return route.upstream->balancer.chash_key().hash(
      [&vars](std::string_view name) -> std::optional<std::string_view> {
        router::VarValue value = vars.get(router::parse_var_ref(name));
        switch (value.kind) {
          case router::VarValue::Kind::String:
            return value.str;
          case router::VarValue::Kind::Bool:  // `?a` without `=`: $arg_a is ""
            return value.boolean ? std::optional<std::string_view>(""sv) : std::nullopt;
          default:
            return std::nullopt;
        }
      });
}

class Session {
 public:
  Session(Worker& worker, core::Socket& client, const core::Endpoint& peer, uint16_t local_port,
          SessionLink& link)
      : worker_(worker),
        loop_(worker.loop()),
        client_(client),
        link_(link),
        local_port_(local_port),
        remote_ip_(peer.ip()),
        remote_port_(peer.port()) {}

  Task<void> run();

 private:
  // Result of proxying one request: keep the client connection open or close it.
  enum class After { KeepAlive, Close };

  Task<bool> read_client(core::TimePoint deadline);
  Task<bool> write_client(std::string_view data);
  Task<After> respond_error(int status, bool close);
  Task<After> handle(const Snapshot& snap, const http::RequestHead& head);
  Task<After> proxy(const Snapshot& snap, const CompiledRoute& route, const http::RequestHead& head,
                    uint32_t key_hash);
  Task<bool> send_continue_once();

  // ---- plugins (plugins.md §1.2) ----
  // The request with a plugin chain (global rules or the route's): the phases around proxy().
  Task<After> handle_plugins(const Snapshot& snap, const CompiledRoute* route,
                             const http::RequestHead& head, plugins::RequestVars& vars);
  // Consumes the request (head and, when it is all here, its body) before a response that
  // does not proxy; true when the connection can stay open afterwards.
  bool drop_request(const http::RequestHead& head);
  // A response the gateway makes (an exit, an error page) through the header and body filters.
  Task<After> send_generated(int status, std::optional<std::string> body,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             bool close);
  void run_header_filters(plugins::Response& response);
  void run_body_filters(std::string& chunk, bool last);
  // Relays a response body through the body filters, re-framed as chunks (HTTP/1.1) or until
  // close (HTTP/1.0). Returns {client_ok, upstream_done}.
  Task<std::pair<bool, bool>> relay_filtered(UpstreamStream& stream, core::Buffer& uin,
                                             BodyKind kind, uint64_t length, Millis read_timeout,
                                             const UpstreamNode& node);

  plugins::Request* preq_ = nullptr;  // the current request's plugin context, or null
  plugins::ChainView global_view_;
  plugins::ChainView chain_view_;
  const plugins::CompiledChain* route_chain_ = nullptr;  // for prefer_route global instances
  std::vector<const plugins::Instance*> merged_;         // route chain + consumer chain

  Worker& worker_;
  core::Loop& loop_;
  core::Socket& client_;
  SessionLink& link_;
  uint16_t local_port_;
  std::string remote_ip_;
  uint16_t remote_port_ = 0;
  router::UriParams params_;  // captures of the matched route; values point into the path
  const RuntimeSettings* settings_ = nullptr;
  bool continue_pending_ = false;
  bool http10_ = false;

  core::Buffer in_{http::ParseLimits{}.max_head_bytes + kBodyRoomBytes};
  std::unique_ptr<core::Buffer> upstream_in_;
  std::string scratch_path_;
  std::string scratch_host_;
  std::string client_host_;   // the request's Host, kept past the head's buffer
  std::string line_;          // upstream request line
  std::string host_line_;     // "Host: ...\r\n", per try
  std::string tls_pool_key_;  // pool key of an https try (node key, SNI, client cert)
  std::string rest_;          // the other request fields and the blank line
  std::string body_;          // a replayable request body
  std::string response_head_;
  std::string statuses_;  // $upstream_status, e.g. "502, 200"
  http::RequestHead head_;
  http::ResponseHead response_;

  // Access log record of the current request (only filled when the log is on).
  bool logging_ = false;
  uint64_t client_bytes_ = 0;  // bytes written to the client on this connection
  AccessRecord record_;
  core::TimePoint request_start_;

  void begin_record(const http::RequestHead& head);
  void end_record();
  void note_response(int status, std::string_view response) {
    record_.status = status;
    size_t end_of_head = response.find("\r\n\r\n");
    record_.body_bytes_sent =
        end_of_head == std::string_view::npos ? 0 : response.size() - end_of_head - 4;
  }
};

void Session::begin_record(const http::RequestHead& head) {
  request_start_ = loop_.now();
  record_.remote_addr = remote_ip_;
  record_.http_host.assign(head.host);
  record_.request.assign(head.method_text);
  record_.request += ' ';
  record_.request += head.target;
  record_.request += head.version_minor == 0 ? " HTTP/1.0" : " HTTP/1.1";
  const http::Header* referer = http::find_header(head.headers, head.header_count, "referer");
  record_.referer.assign(referer != nullptr ? referer->value : std::string_view{});
  const http::Header* agent = http::find_header(head.headers, head.header_count, "user-agent");
  record_.user_agent.assign(agent != nullptr ? agent->value : std::string_view{});
  record_.upstream_addr.clear();
  record_.upstream_status.clear();
  record_.upstream_scheme_host_uri.clear();
  record_.status = 0;
  record_.body_bytes_sent = 0;
  record_.upstream_response_time = -1;
}

void Session::end_record() {
  record_.request_time = std::chrono::duration<double>(loop_.now() - request_start_).count();
  worker_.access_log().write(record_);
}

Task<bool> Session::read_client(core::TimePoint deadline) {
  if (in_.writable() == 0) {
    in_.compact();
    if (in_.writable() == 0) {
      co_return false;
    }
  }
  IoResult r = co_await client_.read_some(in_.write_ptr(), in_.writable(), deadline);
  if (!r.ok()) {
    co_return false;
  }
  in_.commit(r.bytes);
  co_return true;
}

Task<bool> Session::write_client(std::string_view data) {
  IoResult r = co_await client_.write_all(data, loop_.now() + settings_->send_timeout);
  client_bytes_ += r.bytes;
  co_return r.ok();
}

Task<Session::After> Session::respond_error(int status, bool close) {
  close = close || !head_.keep_alive || worker_.draining();
  std::string response = error_response(status, settings_->server_header, close, !close && http10_);
  note_response(status, response);
  bool ok = co_await write_client(response);
  co_return (ok && !close) ? After::KeepAlive : After::Close;
}

Task<bool> Session::send_continue_once() {
  if (!continue_pending_) {
    co_return true;
  }
  continue_pending_ = false;
  co_return co_await write_client(kContinue);
}

Task<void> Session::run() {
  bool first = true;
  for (;;) {
    // The snapshot current now gives the timeouts for reading this request's head.
    SnapshotPin* pin = worker_.pin();
    settings_ = pin->snapshot->settings.get();
    if (in_.empty()) {
      if (worker_.draining()) {
        worker_.unpin(pin);
        break;
      }
      link_.idle = true;
      worker_.counters().idle.fetch_add(1, std::memory_order_relaxed);
      core::TimePoint wait_until =
          loop_.now() + (first ? settings_->client_header_timeout : settings_->keepalive_timeout);
      worker_.unpin(pin);  // an idle connection must not hold an old snapshot
      bool got = co_await read_client(wait_until);
      link_.idle = false;
      worker_.counters().idle.fetch_sub(1, std::memory_order_relaxed);
      if (!got) {
        break;
      }
      pin = worker_.pin();
      settings_ = pin->snapshot->settings.get();
    }
    core::TimePoint head_deadline = loop_.now() + settings_->client_header_timeout;
    After after = After::Close;
    for (;;) {
      http::ParseResult pr = http::parse_request_head(in_.readable(), head_, settings_->limits);
      if (pr.status == http::ParseStatus::Complete) {
        worker_.counters().requests.fetch_add(1, std::memory_order_relaxed);
        http10_ = head_.version_minor == 0;
        logging_ = worker_.access_log().enabled();
        if (logging_) {
          begin_record(head_);
        }
        after = co_await handle(*pin->snapshot, head_);
        if (logging_) {
          end_record();
        }
        break;
      }
      if (pr.status == http::ParseStatus::Error) {
        core::log(core::LogLevel::Info, "client ", remote_ip_,
                  " sent an invalid request: ", pr.error_reason);
        head_.keep_alive = false;
        logging_ = worker_.access_log().enabled();
        if (logging_) {
          request_start_ = loop_.now();
          record_ = AccessRecord{};
          record_.remote_addr = remote_ip_;
        }
        after = co_await respond_error(pr.error_status, true);
        if (logging_) {
          end_record();
        }
        break;
      }
      // The parser is stateless, so parse again only once a new line has arrived: a client
      // trickling bytes one at a time costs one parse per line, not one per byte.
      bool line_arrived = false;
      while (!line_arrived) {
        if (in_.writable() == 0) {
          in_.compact();
        }
        size_t before = in_.size();
        if (in_.writable() == 0 || !co_await read_client(head_deadline)) {
          // A head that never completes within client_header_timeout: close quietly, as nginx.
          after = After::Close;
          break;
        }
        std::string_view fresh = in_.readable().substr(before);
        line_arrived = fresh.find('\n') != std::string_view::npos || in_.writable() == 0;
      }
      if (!line_arrived) {
        break;
      }
    }
    worker_.unpin(pin);
    if (after == After::Close) {
      break;
    }
    first = false;
  }
}

// A body whose post_arg_* variables can be read: application/x-www-form-urlencoded.
bool is_form_body(const http::RequestHead& head) {
  const http::Header* type = http::find_header(head.headers, head.header_count, "content-type");
  constexpr std::string_view kForm = "application/x-www-form-urlencoded";
  return type != nullptr && type->value.size() >= kForm.size() &&
         http::iequals(type->value.substr(0, kForm.size()), kForm);
}

Task<Session::After> Session::handle(const Snapshot& snap, const http::RequestHead& head) {
  BodyKind body_kind = http::request_body_kind(head);
  continue_pending_ = head.expect_continue && body_kind != BodyKind::None;
  if (settings_->client_max_body_size != 0 && body_kind == BodyKind::ContentLength &&
      head.content_length > settings_->client_max_body_size) {
    co_return co_await respond_error(413, true);  // before 100 Continue: never read the body
  }

  // core.md §6.9: route `vars` may read post_arg_* from a form body. When some route does,
  // a small form body is read whole before matching; it stays in in_ for the proxy to send.
  // Reading may compact in_, which moves the head's bytes, so the head is parsed again.
  std::string_view form_body;
  if (snap.match_reads_form_body && body_kind == BodyKind::ContentLength &&
      head.content_length <= kReplayBodyBytes && is_form_body(head)) {
    const size_t head_bytes = head.head_bytes;
    const size_t length = head.content_length;
    core::TimePoint deadline = loop_.now() + settings_->client_body_timeout;
    while (in_.size() < head_bytes + length) {
      if (!co_await send_continue_once() || !co_await read_client(deadline)) {
        co_return After::Close;  // client went away or was too slow (client_body_timeout)
      }
      deadline = loop_.now() + settings_->client_body_timeout;
    }
    if (http::parse_request_head(in_.readable(), head_, settings_->limits).status !=
        http::ParseStatus::Complete) {
      co_return After::Close;  // the same bytes parsed before: cannot happen
    }
    form_body = in_.readable().substr(head_bytes, length);
  }

  std::string_view path = head.path;
  if (http::path_needs_normalizing(path)) {
    if (!http::normalize_path(path, scratch_path_)) {
      co_return co_await respond_error(400, true);
    }
    path = scratch_path_;
  }
  std::string_view host = host_for_matching(head.host, scratch_host_);
  plugins::RequestFacts facts{path, host, remote_ip_, remote_port_, local_port_};
  plugins::RequestVars vars(head, facts);
  vars.set_body(form_body);
  router::MatchRequest match{path, host, head.method_text, &vars, remote_ip_, head.host, &params_};
  int64_t payload = snap.router->match(match);
  vars.set_params(&params_);  // uri_param_* of the matched route, for plugins

  const CompiledRoute* matched =
      payload == router::RouteTable::kNoMatch ? nullptr : &snap.routes[payload];
  if (snap.global_plugins != nullptr || (matched != nullptr && matched->plugins != nullptr)) {
    co_return co_await handle_plugins(snap, matched, head, vars);
  }

  if (payload == router::RouteTable::kNoMatch || snap.routes[payload].error_status != 0) {
    // The body is not wanted: keep the connection only if it is already fully here.
    bool body_here =
        body_kind == BodyKind::None || (body_kind == BodyKind::ContentLength &&
                                        in_.size() - head.head_bytes >= head.content_length);
    bool close = !body_here || !head.keep_alive || worker_.draining();
    in_.consume(head.head_bytes +
                (body_kind == BodyKind::ContentLength && body_here ? head.content_length : 0));
    std::string response;
    if (payload == router::RouteTable::kNoMatch) {
      response = route_not_found_response(settings_->server_header, close, !close && http10_);
    } else {
      const CompiledRoute& route = snap.routes[payload];
      core::log_error("route ", route.id, ": ", route.error_log);
      response =
          error_response(route.error_status, settings_->server_header, close, !close && http10_);
    }
    note_response(payload == router::RouteTable::kNoMatch ? 404 : snap.routes[payload].error_status,
                  response);
    bool ok = co_await write_client(response);
    co_return (ok && !close) ? After::KeepAlive : After::Close;
  }
  // chash: the key hash comes from the request's variables, read while the head is valid.
  const CompiledRoute& route = snap.routes[payload];
  co_return co_await proxy(snap, route, head, chash_of(route, vars));
}

bool Session::drop_request(const http::RequestHead& head) {
  BodyKind body_kind = http::request_body_kind(head);
  // The body is not wanted: keep the connection only if it is already fully here.
  bool body_here =
      body_kind == BodyKind::None ||
      (body_kind == BodyKind::ContentLength && in_.size() - head.head_bytes >= head.content_length);
  in_.consume(head.head_bytes +
              (body_kind == BodyKind::ContentLength && body_here ? head.content_length : 0));
  return body_here && head.keep_alive && !worker_.draining();
}

void Session::run_header_filters(plugins::Response& response) {
  plugins::run_header_filter(global_view_, *preq_, response, route_chain_);
  plugins::run_header_filter(chain_view_, *preq_, response);
}

void Session::run_body_filters(std::string& chunk, bool last) {
  plugins::run_body_filter(global_view_, *preq_, chunk, last, route_chain_);
  plugins::run_body_filter(chain_view_, *preq_, chunk, last);
}

// Header fields a plugin may not set on a response: the gateway writes the framing itself.
bool framing_field(std::string_view name) {
  return http::iequals(name, "content-length") || http::iequals(name, "transfer-encoding") ||
         http::iequals(name, "connection") || http::iequals(name, "server");
}

void append_edited_fields(std::string& out, const plugins::HeaderEdits& edits) {
  for (const auto& [name, value] : edits.added()) {
    if (framing_field(name)) {
      continue;
    }
    out += name;
    out += ": "sv;
    out += value;
    out += "\r\n"sv;
  }
}

Task<Session::After> Session::send_generated(
    int status, std::optional<std::string> body,
    const std::vector<std::pair<std::string, std::string>>& headers, bool close) {
  close = close || worker_.draining();
  plugins::Response& resp = preq_->response();
  resp.status = status;
  std::string page;
  std::string_view content_type = "text/plain; charset=utf-8"sv;  // nginx's default_type
  if (body) {
    page = std::move(*body);
  } else if (status >= 300) {
    page = http::error_page_body(status, settings_->server_header);
    content_type = "text/html; charset=utf-8"sv;
  }
  for (const auto& [name, value] : headers) {
    resp.set_header(name, value);
  }
  http::Header original{"Content-Type"sv, content_type};
  resp.set_original(&original, 1);
  run_header_filters(resp);
  if (resp.body_modified()) {
    run_body_filters(page, true);
  }
  resp.set_original(nullptr, 0);
  std::string out;
  out.reserve(256 + page.size());
  out += "HTTP/1.1 "sv;
  append_number(out, static_cast<uint64_t>(resp.status));
  out += ' ';
  out += http::reason_phrase(resp.status);
  out += "\r\n"sv;
  if (!resp.edits().drops("content-type")) {
    out += "Content-Type: "sv;
    out += content_type;
    out += "\r\n"sv;
  }
  append_edited_fields(out, resp.edits());
  out += "Content-Length: "sv;
  append_number(out, page.size());
  out += "\r\nServer: "sv;
  out += settings_->server_header;
  out += "\r\n"sv;
  if (close) {
    out += "Connection: close\r\n"sv;
  } else if (http10_) {
    out += "Connection: keep-alive\r\n"sv;
  }
  out += "\r\n"sv;
  out += page;
  note_response(resp.status, out);
  const uint64_t before = client_bytes_;
  bool ok = co_await write_client(out);
  preq_->outcome.bytes_sent = client_bytes_ - before;
  co_return (ok && !close) ? After::KeepAlive : After::Close;
}

Task<Session::After> Session::handle_plugins(const Snapshot& snap, const CompiledRoute* route,
                                             const http::RequestHead& head,
                                             plugins::RequestVars& vars) {
  using plugins::Phase;
  plugins::Request req(&head, &vars);
  req.consumers = snap.consumers.get();
  req.loop = &loop_;
  req.worker_id = worker_.id();
  req.redis = &worker_.redis();
  req.outcome.request_length =
      head.head_bytes + (head.has_content_length ? head.content_length : 0);
  if (route != nullptr) {
    req.route = plugins::RouteFacts{route->id,           route->name,        route->service_id,
                                    route->service_name, route->matched_uri, route->matched_host};
  }
  const plugins::CompiledChain* global = snap.global_plugins.get();
  const plugins::CompiledChain* chain = route != nullptr ? route->plugins.get() : nullptr;
  static const plugins::CompiledChain kNoChain;
  preq_ = &req;
  route_chain_ = chain;
  global_view_ = plugins::ChainView{global != nullptr ? &global->items : nullptr, nullptr};
  chain_view_ = plugins::ChainView{chain != nullptr ? &chain->items : nullptr, nullptr};

  // rewrite: global rules, the route's chain, then the consumer's plugins (§1.2 steps 1-4).
  plugins::PhaseResult exit;
  if (global != nullptr && global->has(Phase::Rewrite)) {
    exit = co_await plugins::run_request_phase(Phase::Rewrite, global_view_, req, false, chain);
  }
  if (!exit && route != nullptr && chain != nullptr && chain->has(Phase::Rewrite)) {
    exit = co_await plugins::run_request_phase(Phase::Rewrite, chain_view_, req);
  }
  if (!exit && route != nullptr && req.consumer() != nullptr && req.consumer()->chain != nullptr) {
    plugins::merge_consumer(chain != nullptr ? *chain : kNoChain, *req.consumer()->chain, merged_);
    chain_view_ = plugins::ChainView{nullptr, &merged_};
    exit = co_await plugins::run_request_phase(Phase::Rewrite, chain_view_, req, true);
  }
  // access (steps 5-6)
  const bool merged = chain_view_.merged != nullptr;
  if (!exit && global != nullptr && global->has(Phase::Access)) {
    exit = co_await plugins::run_request_phase(Phase::Access, global_view_, req, false, chain);
  }
  if (!exit && route != nullptr && (merged || (chain != nullptr && chain->has(Phase::Access)))) {
    exit = co_await plugins::run_request_phase(Phase::Access, chain_view_, req);
  }
  After after = After::Close;
  if (exit) {
    bool keep = drop_request(head);
    after = co_await send_generated(exit->status, std::move(exit->body), exit->headers, !keep);
  } else if (route == nullptr) {
    bool keep = drop_request(head);
    std::string response =
        route_not_found_response(settings_->server_header, !keep, keep && http10_);
    note_response(404, response);
    req.response().status = 404;
    bool ok = co_await write_client(response);
    after = (ok && keep) ? After::KeepAlive : After::Close;
  } else if (route->error_status != 0) {
    core::log_error("route ", route->id, ": ", route->error_log);
    bool keep = drop_request(head);
    std::vector<std::pair<std::string, std::string>> no_fields;
    after = co_await send_generated(route->error_status, std::nullopt, no_fields, !keep);
  } else {
    // before_proxy (step 7): once, before the first try.
    if (global != nullptr && global->has(Phase::BeforeProxy)) {
      exit =
          co_await plugins::run_request_phase(Phase::BeforeProxy, global_view_, req, false, chain);
    }
    if (!exit && (merged || (chain != nullptr && chain->has(Phase::BeforeProxy)))) {
      exit = co_await plugins::run_request_phase(Phase::BeforeProxy, chain_view_, req);
    }
    if (exit) {
      bool keep = drop_request(head);
      after = co_await send_generated(exit->status, std::move(exit->body), exit->headers, !keep);
    } else {
      after = co_await proxy(snap, *route, head, chash_of(*route, req));
    }
  }
  // log (step 8), on every way out.
  req.drop_head();
  plugins::run_log(global_view_, req, route_chain_);
  plugins::run_log(chain_view_, req);
  preq_ = nullptr;
  route_chain_ = nullptr;
  global_view_ = {};
  chain_view_ = {};
  co_return after;
}

Task<Session::After> Session::proxy(const Snapshot& snap, const CompiledRoute& route,
                                    const http::RequestHead& head, uint32_t key_hash) {
  const CompiledUpstream& up = *route.upstream;
  const Timeouts& timeouts = route.timeout ? *route.timeout : up.timeout;
  const http::Method method = head.method;
  const BodyKind body_kind = http::request_body_kind(head);
  const uint64_t content_length = head.content_length;
  bool client_keep = head.keep_alive && !worker_.draining();

  // ---- the upstream request head, built once; only the Host line varies per try ----
  std::string_view connection_field;
  if (const http::Header* h = http::find_header(head.headers, head.header_count, "connection")) {
    connection_field = h->value;
  }
  line_.clear();
  if (preq_ != nullptr && preq_->method_override()) {
    line_ += *preq_->method_override();
  } else {
    line_ += head.method_text;
  }
  line_ += ' ';
  if (preq_ != nullptr && preq_->upstream_uri()) {
    line_ += *preq_->upstream_uri();
  } else {
    line_ += head.target;
  }
  line_ += " HTTP/1.1\r\n"sv;
  const plugins::HeaderEdits* header_edits =
      preq_ != nullptr && !preq_->upstream_headers().empty() ? &preq_->upstream_headers() : nullptr;
  rest_.clear();
  std::string_view forwarded_for;
  for (size_t i = 0; i < head.header_count; ++i) {
    const http::Header& h = head.headers[i];
    if (skip_request_field(h.name)) {
      if (http::iequals(h.name, "x-forwarded-for")) {
        forwarded_for = h.value;  // the last one wins; clients rarely send several
      }
      continue;
    }
    if (named_in_connection(connection_field, h.name)) {
      continue;
    }
    if (header_edits != nullptr && header_edits->drops(h.name)) {
      continue;  // replaced or removed by a plugin
    }
    rest_ += h.name;
    rest_ += ": "sv;
    rest_ += h.value;
    rest_ += "\r\n"sv;
  }
  if (header_edits != nullptr) {
    for (const auto& [name, value] : header_edits->added()) {
      if (skip_request_field(name)) {
        continue;  // framing and forwarding fields stay the gateway's
      }
      rest_ += name;
      rest_ += ": "sv;
      rest_ += value;
      rest_ += "\r\n"sv;
    }
  }
  // core.md §7.8: the gateway's own forwarding fields.
  rest_ += "X-Real-IP: "sv;
  rest_ += remote_ip_;
  rest_ += "\r\nX-Forwarded-For: "sv;
  if (!forwarded_for.empty()) {
    rest_ += forwarded_for;
    rest_ += ", "sv;
  }
  rest_ += remote_ip_;
  rest_ += "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: "sv;
  rest_ += head.host;
  rest_ += "\r\nX-Forwarded-Port: "sv;
  std::string_view host_port = port_of_host(head.host);
  if (!host_port.empty()) {
    rest_ += host_port;
  } else {
    append_number(rest_, local_port_);
  }
  rest_ += "\r\n"sv;
  if (body_kind == BodyKind::ContentLength) {
    rest_ += "Content-Length: "sv;
    append_number(rest_, content_length);
    rest_ += "\r\n"sv;
  } else if (body_kind == BodyKind::Chunked) {
    rest_ += "Transfer-Encoding: chunked\r\n"sv;
  }
  rest_ += "\r\n"sv;
  client_host_.assign(head.host);
  const std::string& client_host = client_host_;
  in_.consume(head.head_bytes);  // `head` is not valid past this point

  // ---- small bodies are read first so that a retry can send them again ----
  body_.clear();
  bool replayable = body_kind == BodyKind::None;
  if (body_kind == BodyKind::ContentLength && content_length <= kReplayBodyBytes) {
    core::TimePoint deadline = loop_.now() + settings_->client_body_timeout;
    while (in_.size() < content_length) {
      if (!co_await send_continue_once()) {
        co_return After::Close;
      }
      in_.compact();
      if (!co_await read_client(deadline)) {
        co_return After::Close;  // client went away or was too slow (client_body_timeout)
      }
      deadline = loop_.now() + settings_->client_body_timeout;
    }
    body_.assign(in_.readable().substr(0, content_length));
    in_.consume(content_length);
    replayable = true;
  }
  bool body_pending = !replayable;  // a streamed body still to be read from the client
  bool body_complete = replayable;  // the whole request body was read from the client

  // ---- tries ----
  statuses_.clear();
  upstream::TriedSet tried;
  HeldNode held;
  int64_t picked = -1;          // the node of the current try
  core::TimePoint try_start{};  // when the current try began (ewma's response time)
  upstream::UpstreamHealth* health = up.health.get();
  if (health != nullptr) {
    health->touch();
  }
  const bool single_node = up.nodes.size() == 1;
  int tries_left = up.retries + 1;
  core::TimePoint first_pick = loop_.now();
  int last_failure = 502;
  PooledConnection conn;
  const UpstreamNode* node = nullptr;
  if (!upstream_in_) {
    upstream_in_ =
        std::make_unique<core::Buffer>(settings_->limits.max_head_bytes + kBodyRoomBytes);
  }
  core::Buffer& uin = *upstream_in_;
  bool got_head = false;
  bool stale_retry_used = false;

  const UpstreamNode* retry_fresh = nullptr;  // retry this node on a new connection
  while (!got_head) {
    bool fresh_only = false;
    if (retry_fresh != nullptr) {
      node = std::exchange(retry_fresh, nullptr);
      fresh_only = true;
    } else {
      if (tries_left <= 0) {
        break;
      }
      if (!statuses_.empty() && up.retry_timeout.count() > 0 &&
          loop_.now() > first_pick + up.retry_timeout) {
        last_failure = 502;
        break;
      }
      if (picked >= 0) {
        // The previous try failed and is retried: tell its checker, as APISIX's balancer does
        // before a retry (core.md §7.6), and give its least_conn slot back.
        if (health != nullptr) {
          if (last_failure == 504) {
            health->report_timeout(static_cast<size_t>(picked));
          } else {
            health->report_tcp_failure(static_cast<size_t>(picked));
          }
        }
        held.release();
      }
      int64_t index = up.pick(worker_.id(), tried, key_hash, loop_.now());
      if (index < 0) {
        break;
      }
      picked = index;
      held.hold(up.balancer, static_cast<uint32_t>(index));
      try_start = loop_.now();
      --tries_left;
      node = &up.nodes[index];
      if (preq_ != nullptr) {
        preq_->outcome.upstream_addr = node->address;  // $balancer_ip/_port
      }
      if (logging_) {
        if (!record_.upstream_addr.empty()) {
          record_.upstream_addr += ", "sv;
        }
        record_.upstream_addr += node->address;
      }
      if (!single_node) {
        tried.add(static_cast<uint32_t>(index));
      }
    }

    // Host line for this try (core.md §7.8); for https it also names the SNI and the pool.
    host_line_.assign("Host: ");
    if (preq_ != nullptr && preq_->upstream_host()) {
      host_line_ += *preq_->upstream_host();  // proxy-rewrite `host`
    } else
      switch (up.pass_host) {
        case PassHost::Pass:
          host_line_ += client_host.empty() ? node->host_header : client_host;
          break;
        case PassHost::Node:
          host_line_ += node->host_header;
          break;
        case PassHost::Rewrite:
          host_line_ += up.upstream_host;
          break;
      }
    host_line_ += "\r\n"sv;
    const std::string* pool_key = &node->pool_key;
    if (up.is_https) {
      // core.md §7.9: an https connection belongs to its SNI (APISIX appends $upstream_host,
      // the Host sent) and client certificate as well as to the node.
      tls_pool_key_.assign(node->pool_key);
      tls_pool_key_ += '#';
      tls_pool_key_ += std::string_view(host_line_).substr(6, host_line_.size() - 8);
      tls_pool_key_ += up.tls_pool_suffix;
      pool_key = &tls_pool_key_;
    }

    bool reused = false;
    if (!fresh_only) {
      conn = worker_.pool().take(*pool_key, loop_.now(), up.pool);
    }
    if (conn.stream.is_open()) {
      reused = true;
    } else {
      core::TimePoint connect_deadline = loop_.now() + timeouts.connect;
      core::ConnectResult c = co_await core::connect_tcp(loop_, node->endpoint, connect_deadline);
      const char* step = "connect";
      std::string tls_reason;  // OpenSSL's reason when a handshake failed
      if (c.error == IoError::None && !up.is_https) {
        conn = PooledConnection{UpstreamStream(std::move(c.socket)), 0};
      } else if (c.error == IoError::None) {
        // nginx bounds the handshake by proxy_connect_timeout too, and a failed handshake
        // moves on to the next node like a failed connect (proxy_next_upstream error).
        step = "TLS handshake";
        if (!up.tls) {
          core::log_error("upstream ", up.key, ": no TLS client context (see the error at load)");
          c.error = IoError::Other;
        } else {
          auto tls = std::make_unique<tls::TlsStream>(std::move(c.socket), up.tls);
          std::string_view host_value =
              std::string_view(host_line_).substr(6, host_line_.size() - 8);
          // SNI = the Host sent without its port, as nginx's proxy_ssl_name $upstream_host
          // (core.md §7.8); TlsStream leaves IP literals out.
          IoResult hs = co_await tls->handshake(host_without_port(host_value), connect_deadline);
          if (hs.ok()) {
            conn = PooledConnection{UpstreamStream(std::move(tls)), 0};
          } else {
            tls_reason = tls->error_message();
            c.error = hs.error == IoError::None ? IoError::Other : hs.error;
          }
        }
      }
      if (c.error != IoError::None) {
        last_failure = c.error == IoError::Timeout ? 504 : 502;
        core::log_error("upstream ", node->endpoint.to_string(), " ", step,
                        " failed: ", core::to_string(c.error), tls_reason.empty() ? "" : " (",
                        tls_reason, tls_reason.empty() ? "" : ")");
        if (!statuses_.empty()) {
          statuses_ += ", "sv;
        }
        append_number(statuses_, static_cast<uint64_t>(last_failure));
        continue;
      }
    }

    iovec iov[4] = {{line_.data(), line_.size()},
                    {host_line_.data(), host_line_.size()},
                    {rest_.data(), rest_.size()},
                    {body_.data(), body_.size()}};
    core::TimePoint send_deadline = loop_.now() + timeouts.send;
    IoResult sent = co_await conn.stream.write_all(std::span<iovec>(iov, 4), send_deadline);
    IoError failure = sent.error;

    // A streamed body follows the head; once any of it is sent, no retry is possible.
    if (failure == IoError::None && body_pending) {
      body_pending = false;
      replayable = false;
      tries_left = 0;
      if (!co_await send_continue_once()) {
        co_return After::Close;
      }
      core::TimePoint client_deadline = loop_.now() + settings_->client_body_timeout;
      if (body_kind == BodyKind::ContentLength) {
        uint64_t remaining = content_length;
        while (remaining > 0 && failure == IoError::None) {
          if (in_.empty()) {
            if (!co_await read_client(client_deadline)) {
              co_return After::Close;
            }
            client_deadline = loop_.now() + settings_->client_body_timeout;
          }
          size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, in_.size()));
          IoResult w = co_await conn.stream.write_all(in_.readable().substr(0, take),
                                                      loop_.now() + timeouts.send);
          failure = w.error;
          in_.consume(take);
          remaining -= take;
        }
        body_complete = remaining == 0;
      } else {
        http::ChunkedDecoder decoder;
        bool done = false;
        while (!done && failure == IoError::None) {
          size_t ready = 0;
          bool need_more = false;
          while (!done && !need_more) {
            http::ChunkedDecoder::Step step = decoder.next(in_.readable().substr(ready));
            ready += step.consumed;
            switch (step.kind) {
              case http::ChunkedDecoder::Step::Data:
                if (settings_->client_max_body_size != 0 &&
                    decoder.body_bytes() > settings_->client_max_body_size) {
                  // The node got a truncated request; dropping its connection tells it so.
                  conn.stream.close();
                  co_return co_await respond_error(413, true);
                }
                break;
              case http::ChunkedDecoder::Step::NeedMore:
                need_more = true;
                break;
              case http::ChunkedDecoder::Step::Done:
                done = true;
                break;
              case http::ChunkedDecoder::Step::Error:
                // Malformed chunked body: nothing after the valid part is forwarded.
                core::log(core::LogLevel::Info, "client ", remote_ip_,
                          " sent an invalid chunked body");
                co_return co_await respond_error(400, true);
            }
          }
          if (ready > 0) {
            IoResult w = co_await conn.stream.write_all(in_.readable().substr(0, ready),
                                                        loop_.now() + timeouts.send);
            failure = w.error;
            in_.consume(ready);
          }
          if (done) {
            body_complete = true;
          }
          if (!done && failure == IoError::None) {
            in_.compact();
            if (!co_await read_client(client_deadline)) {
              co_return After::Close;
            }
            client_deadline = loop_.now() + settings_->client_body_timeout;
          }
        }
      }
    }

    // Response head; interim 1xx responses are relayed to HTTP/1.1 clients.
    uin.clear();
    if (failure == IoError::None) {
      core::TimePoint read_deadline = loop_.now() + timeouts.read;
      for (;;) {
        http::ParseResult pr =
            http::parse_response_head(uin.readable(), response_, settings_->limits);
        if (pr.status == http::ParseStatus::Complete) {
          if (response_.status >= 100 && response_.status < 200) {
            if (response_.status == 101) {
              failure = IoError::Other;  // upgrades are not enabled on this route
              break;
            }
            if (!http10_ && !co_await write_client(uin.readable().substr(0, pr.consumed))) {
              co_return After::Close;
            }
            uin.consume(pr.consumed);
            continue;
          }
          got_head = true;
          break;
        }
        if (pr.status == http::ParseStatus::Error) {
          core::log_error("upstream ", node->endpoint.to_string(),
                          " sent an invalid response head: ", pr.error_reason);
          failure = IoError::Other;
          tries_left = 0;  // a malformed response is not retried (core.md §7.6)
          break;
        }
        if (uin.writable() == 0) {
          uin.compact();
          if (uin.writable() == 0) {
            failure = IoError::Other;
            tries_left = 0;
            break;
          }
        }
        IoResult r = co_await conn.stream.read_some(uin.write_ptr(), uin.writable(), read_deadline);
        if (!r.ok()) {
          failure = r.error;
          break;
        }
        uin.commit(r.bytes);
      }
    }
    if (got_head) {
      break;
    }
    // This try failed before any of the response reached the client.
    conn.stream.close();
    bool nothing_received = uin.empty();
    if (reused && nothing_received && !stale_retry_used && replayable &&
        (failure == IoError::Eof || failure == IoError::Reset)) {
      // The node closed an idle pooled connection just as we used it: send the request
      // again on a fresh connection to the same node; this does not count as a try.
      stale_retry_used = true;
      retry_fresh = node;
      continue;
    }
    last_failure = failure == IoError::Timeout ? 504 : 502;
    core::log_error("upstream ", node->endpoint.to_string(), " failed: ", core::to_string(failure));
    if (!statuses_.empty()) {
      statuses_ += ", "sv;
    }
    append_number(statuses_, static_cast<uint64_t>(last_failure));
    if (!replayable || !is_idempotent(method)) {
      break;  // the request (or part of it) reached the node: not safe to send again
    }
  }

  if (!got_head) {
    // core.md §7.7: with `checks.passive`, the final status is classified, even our own.
    if (health != nullptr && picked >= 0 && health->config().passive_configured) {
      health->report_http_status(static_cast<size_t>(picked), last_failure);
    }
    if (statuses_.empty()) {
      append_number(statuses_, static_cast<uint64_t>(last_failure));
    }
    bool close = !body_complete || !client_keep;
    if (preq_ != nullptr) {
      if (logging_) {
        record_.upstream_status = statuses_;
      }
      std::vector<std::pair<std::string, std::string>> extra_fields;
      extra_fields.emplace_back("X-APISIX-Upstream-Status", statuses_);
      co_return co_await send_generated(last_failure, std::nullopt, extra_fields, close);
    }
    std::string extra = "X-APISIX-Upstream-Status: " + statuses_ + "\r\n";
    std::string response =
        error_response(last_failure, settings_->server_header, close, !close && http10_, extra);
    note_response(last_failure, response);
    if (logging_) {
      record_.upstream_status = statuses_;
    }
    bool ok = co_await write_client(response);
    co_return (ok && !close) ? After::KeepAlive : After::Close;
  }

  // ---- relay the response ----
  const http::ResponseHead& resp = response_;
  if (health != nullptr && health->config().passive_configured) {
    health->report_http_status(static_cast<size_t>(picked), resp.status);
  }
  if (!statuses_.empty()) {
    statuses_ += ", "sv;
  }
  append_number(statuses_, static_cast<uint64_t>(resp.status));
  BodyKind resp_kind = http::response_body_kind(resp, method);
  client_keep = client_keep && !worker_.draining();  // a quit may have begun meanwhile
  bool encode_chunks = resp_kind == BodyKind::UntilClose && !http10_;
  if ((resp_kind == BodyKind::UntilClose || resp_kind == BodyKind::Chunked) && http10_) {
    client_keep = false;  // an HTTP/1.0 client learns the end of the body from the close
  }
  std::string_view resp_connection;
  if (const http::Header* h = http::find_header(resp.headers, resp.header_count, "connection")) {
    resp_connection = h->value;
  }

  // header_filter (plugins.md §1.2 step 8) edits the head before it is written.
  plugins::Response* filtered = nullptr;
  bool body_filters = false;
  if (preq_ != nullptr) {
    filtered = &preq_->response();
    filtered->status = resp.status;
    filtered->set_original(resp.headers, resp.header_count);
    run_header_filters(*filtered);
    filtered->set_original(nullptr, 0);
    if (filtered->body_modified() && resp_kind != BodyKind::None) {
      body_filters = true;
      if (http10_) {
        client_keep = false;  // the end of a re-framed body is the close
      }
    }
  }
  const int sent_status = filtered != nullptr ? filtered->status : resp.status;

  response_head_.clear();
  response_head_ += "HTTP/1.1 "sv;
  append_number(response_head_, static_cast<uint64_t>(sent_status));
  response_head_ += ' ';
  response_head_ += sent_status == resp.status ? resp.reason : http::reason_phrase(sent_status);
  response_head_ += "\r\n"sv;
  for (size_t i = 0; i < resp.header_count; ++i) {
    const http::Header& h = resp.headers[i];
    if (filtered != nullptr && filtered->edits().drops(h.name)) {
      continue;
    }
    if (skip_response_field(h.name)) {
      // A bodiless response (HEAD, 204, 304) keeps its framing fields as they were.
      bool framing = http::iequals(h.name, "content-length") ||
                     (http::iequals(h.name, "transfer-encoding") && !http10_);
      if (!(resp_kind == BodyKind::None && framing)) {
        continue;
      }
    } else if (named_in_connection(resp_connection, h.name)) {
      continue;
    }
    response_head_ += h.name;
    response_head_ += ": "sv;
    response_head_ += h.value;
    response_head_ += "\r\n"sv;
  }
  if (filtered != nullptr) {
    append_edited_fields(response_head_, filtered->edits());
  }
  response_head_ += "Server: "sv;
  response_head_ += settings_->server_header;
  response_head_ += "\r\n"sv;
  if (body_filters) {
    if (!http10_) {
      response_head_ += "Transfer-Encoding: chunked\r\n"sv;
    }
  } else if (resp_kind == BodyKind::ContentLength) {
    response_head_ += "Content-Length: "sv;
    append_number(response_head_, resp.content_length);
    response_head_ += "\r\n"sv;
  } else if ((resp_kind == BodyKind::Chunked || encode_chunks) && !http10_) {
    response_head_ += "Transfer-Encoding: chunked\r\n"sv;
  }
  if (resp.status >= 500 || settings_->show_upstream_status) {
    response_head_ += "X-APISIX-Upstream-Status: "sv;
    response_head_ += statuses_;
    response_head_ += "\r\n"sv;
  }
  if (!client_keep) {
    response_head_ += "Connection: close\r\n"sv;
  } else if (http10_) {
    response_head_ += "Connection: keep-alive\r\n"sv;
  }
  response_head_ += "\r\n"sv;
  bool upstream_reusable = resp.keep_alive && resp_kind != BodyKind::UntilClose;
  uin.consume(resp.head_bytes);  // `resp` field views are not used past this point

  core::TimePoint read_deadline = loop_.now() + timeouts.read;
  bool client_ok = true;
  bool upstream_done = false;
  const int status = sent_status;
  const uint64_t bytes_before_head = client_bytes_;
  if (body_filters) {
    const uint64_t length = resp.content_length;
    client_ok = co_await write_client(response_head_);
    if (client_ok) {
      auto [ok, done] =
          co_await relay_filtered(conn.stream, uin, resp_kind, length, timeouts.read, *node);
      client_ok = ok;
      upstream_done = done;
    }
    upstream_reusable = upstream_reusable && upstream_done;
  } else
    switch (resp_kind) {
      case BodyKind::None: {
        client_ok = co_await write_client(response_head_);
        upstream_done = true;
        break;
      }
      case BodyKind::ContentLength: {
        uint64_t remaining = resp.content_length;
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, uin.size()));
        iovec iov[2] = {{response_head_.data(), response_head_.size()},
                        {const_cast<char*>(uin.readable().data()), take}};
        IoResult w = co_await client_.write_all(std::span<iovec>(iov, 2),
                                                loop_.now() + settings_->send_timeout);
        client_bytes_ += w.bytes;
        client_ok = w.ok();
        upstream_reusable = upstream_reusable && uin.size() == take;  // nothing after the body
        uin.consume(take);
        remaining -= take;
        while (client_ok && remaining > 0) {
          uin.clear();
          size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, uin.writable()));
          IoResult r = co_await conn.stream.read_some(uin.write_ptr(), want, read_deadline);
          if (!r.ok()) {
            core::log_error("upstream ", node->endpoint.to_string(),
                            " failed mid-body: ", core::to_string(r.error));
            break;
          }
          read_deadline = loop_.now() + timeouts.read;
          uin.commit(r.bytes);
          remaining -= r.bytes;
          client_ok = co_await write_client(uin.readable());
          uin.clear();
        }
        upstream_done = remaining == 0;
        break;
      }
      case BodyKind::Chunked: {
        client_ok = co_await write_client(response_head_);
        http::ChunkedDecoder decoder;
        while (client_ok && !upstream_done) {
          size_t ready = 0;
          bool need_more = false;
          bool bad = false;
          // For HTTP/1.1 clients the validated chunked bytes pass through as they are; an
          // HTTP/1.0 client gets the payload only.
          std::string plain;
          while (!upstream_done && !need_more && !bad) {
            http::ChunkedDecoder::Step step = decoder.next(uin.readable().substr(ready));
            ready += step.consumed;
            if (step.kind == http::ChunkedDecoder::Step::Data && http10_) {
              plain.append(step.data);
            } else if (step.kind == http::ChunkedDecoder::Step::NeedMore) {
              need_more = true;
            } else if (step.kind == http::ChunkedDecoder::Step::Done) {
              upstream_done = true;
            } else if (step.kind == http::ChunkedDecoder::Step::Error) {
              bad = true;
            }
          }
          if (ready > 0) {
            client_ok = co_await write_client(http10_ ? std::string_view(plain)
                                                      : uin.readable().substr(0, ready));
            uin.consume(ready);
          }
          if (bad) {
            core::log_error("upstream ", node->endpoint.to_string(), " sent a bad chunked body");
            break;
          }
          if (!upstream_done && client_ok) {
            uin.compact();
            if (uin.writable() == 0) {
              break;
            }
            IoResult r =
                co_await conn.stream.read_some(uin.write_ptr(), uin.writable(), read_deadline);
            if (!r.ok()) {
              break;
            }
            read_deadline = loop_.now() + timeouts.read;
            uin.commit(r.bytes);
          }
        }
        break;
      }
      case BodyKind::UntilClose: {
        client_ok = co_await write_client(response_head_);
        char size_line[24];
        while (client_ok) {
          if (!uin.empty()) {
            if (encode_chunks) {
              size_t n = http::write_chunk_size_line(size_line, uin.size());
              iovec iov[3] = {{size_line, n},
                              {const_cast<char*>(uin.readable().data()), uin.size()},
                              {const_cast<char*>("\r\n"), 2}};
              IoResult w = co_await client_.write_all(std::span<iovec>(iov, 3),
                                                      loop_.now() + settings_->send_timeout);
              client_bytes_ += w.bytes;
              client_ok = w.ok();
            } else {
              client_ok = co_await write_client(uin.readable());
            }
            uin.clear();
          }
          if (!client_ok) {
            break;
          }
          IoResult r =
              co_await conn.stream.read_some(uin.write_ptr(), uin.writable(), read_deadline);
          if (r.error == IoError::Eof) {
            upstream_done = true;
            if (encode_chunks) {
              client_ok = co_await write_client("0\r\n\r\n");
            }
            break;
          }
          if (!r.ok()) {
            break;
          }
          read_deadline = loop_.now() + timeouts.read;
          uin.commit(r.bytes);
        }
        break;
      }
    }

  if (logging_) {
    record_.status = status;
    uint64_t written = client_bytes_ - bytes_before_head;
    record_.body_bytes_sent = written > response_head_.size() ? written - response_head_.size() : 0;
    record_.upstream_status = statuses_;
    record_.upstream_response_time =
        std::chrono::duration<double>(loop_.now() - first_pick).count();
    record_.upstream_scheme_host_uri =
        (up.is_https ? "https://" : "http://") + host_line_.substr(6, host_line_.size() - 8);
    record_.upstream_scheme_host_uri +=
        line_.substr(line_.find(' ') + 1, line_.rfind(' ') - line_.find(' ') - 1);
  }
  if (preq_ != nullptr) {
    preq_->outcome.proxied = true;
    preq_->outcome.bytes_sent = client_bytes_ - bytes_before_head;
    preq_->outcome.upstream_latency =
        std::chrono::duration_cast<std::chrono::milliseconds>(loop_.now() - try_start);
  }
  // ewma: this try's connect + response time (core.md §7.5); a no-op for other types.
  up.balancer.report(static_cast<uint32_t>(picked), loop_.now() - try_start, loop_.now());
  held.release();
  if (upstream_done && upstream_reusable && uin.empty() && conn.stream.is_open()) {
    ++conn.requests;
    worker_.pool().put(up.is_https ? tls_pool_key_ : node->pool_key, std::move(conn), loop_.now(),
                       up.pool);
  } else {
    conn.stream.close();
  }
  if (!upstream_done) {
    co_return After::Close;  // the client saw a truncated body; closing tells it so
  }
  co_return (client_ok && client_keep) ? After::KeepAlive : After::Close;
}

Task<std::pair<bool, bool>> Session::relay_filtered(UpstreamStream& stream, core::Buffer& uin,
                                                    BodyKind kind, uint64_t length,
                                                    Millis read_timeout, const UpstreamNode& node) {
  std::string piece;
  std::string framed;
  bool client_ok = true;
  bool done = false;
  core::TimePoint read_deadline = loop_.now() + read_timeout;
  uint64_t remaining = length;
  http::ChunkedDecoder decoder;
  // Sends one filtered piece: a chunk for HTTP/1.1 (empty pieces are not sent: an empty
  // chunk would end the body), the bytes for HTTP/1.0.
  auto emit = [&](std::string& data) -> std::string_view {
    framed.clear();
    if (data.empty()) {
      return {};
    }
    if (http10_) {
      framed = std::move(data);
    } else {
      char size_line[24];
      size_t n = http::write_chunk_size_line(size_line, data.size());
      framed.append(size_line, n);
      framed += data;
      framed += "\r\n"sv;
    }
    return framed;
  };
  bool bad = false;
  while (client_ok && !done && !bad) {
    // Take what is buffered.
    piece.clear();
    size_t used = 0;
    if (kind == BodyKind::ContentLength) {
      used = static_cast<size_t>(std::min<uint64_t>(remaining, uin.size()));
      piece.assign(uin.readable().substr(0, used));
      remaining -= used;
      done = remaining == 0;
    } else if (kind == BodyKind::Chunked) {
      bool need_more = false;
      while (!done && !need_more && !bad) {
        http::ChunkedDecoder::Step step = decoder.next(uin.readable().substr(used));
        used += step.consumed;
        switch (step.kind) {
          case http::ChunkedDecoder::Step::Data:
            piece.append(step.data);
            break;
          case http::ChunkedDecoder::Step::NeedMore:
            need_more = true;
            break;
          case http::ChunkedDecoder::Step::Done:
            done = true;
            break;
          case http::ChunkedDecoder::Step::Error:
            bad = true;
            break;
        }
      }
    } else {
      used = uin.size();
      piece.assign(uin.readable());
    }
    uin.consume(used);
    if (!piece.empty() || done) {
      run_body_filters(piece, done);
      std::string_view out = emit(piece);
      if (!out.empty()) {
        client_ok = co_await write_client(out);
      }
    }
    if (done || bad || !client_ok) {
      break;
    }
    uin.compact();
    if (uin.writable() == 0) {
      bad = true;
      break;
    }
    IoResult r = co_await stream.read_some(uin.write_ptr(), uin.writable(), read_deadline);
    if (r.error == IoError::Eof && kind == BodyKind::UntilClose) {
      done = true;
      piece.clear();
      run_body_filters(piece, true);
      std::string_view out = emit(piece);
      if (!out.empty()) {
        client_ok = co_await write_client(out);
      }
      break;
    }
    if (!r.ok()) {
      core::log_error("upstream ", node.endpoint.to_string(),
                      " failed mid-body: ", core::to_string(r.error));
      break;
    }
    read_deadline = loop_.now() + read_timeout;
    uin.commit(r.bytes);
  }
  if (bad) {
    core::log_error("upstream ", node.endpoint.to_string(), " sent a bad body");
  }
  if (done && client_ok && !http10_) {
    client_ok = co_await write_client("0\r\n\r\n");
  }
  co_return std::pair<bool, bool>{client_ok, done};
}

}  // namespace

core::Task<void> serve_client(Worker& worker, core::Socket client, core::Endpoint peer,
                              uint16_t local_port) {
  SessionLink link;
  link.io = client.io();
  worker.link(&link);
  {
    Session session(worker, client, peer, local_port, link);
    co_await session.run();
  }
  client.close();
  worker.unlink(&link);
}

}  // namespace apisix::gateway
