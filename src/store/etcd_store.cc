#include "store/etcd_store.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

#include "store/etcd_codec.h"

namespace apisix::store {
namespace {

// gRPC status codes etcd puts in error bodies.
constexpr int kGrpcInvalidArgument = 3;
constexpr int kGrpcDeadlineExceeded = 4;
constexpr int kGrpcOutOfRange = 11;
constexpr int kGrpcUnavailable = 14;
constexpr int kGrpcUnauthenticated = 16;

Error etcd_error(int http_status, const std::string& body) {
  auto parsed = etcd::parse_error(body);
  std::string message = parsed ? parsed->message : body.substr(0, 200);
  int code = parsed ? parsed->code : 0;
  ErrorKind kind = ErrorKind::Io;
  bool retryable = false;
  if (code == kGrpcInvalidArgument || code == kGrpcOutOfRange) {
    kind = ErrorKind::Invalid;
  } else if (code == kGrpcDeadlineExceeded) {
    kind = ErrorKind::Timeout;
    retryable = true;
  } else if (code == kGrpcUnavailable || http_status >= 500) {
    retryable = true;
  }
  return Error{kind, ErrorSource::Upstream, retryable,
               "etcd: " + message + " (HTTP " + std::to_string(http_status) + ", code " +
                   std::to_string(code) + ")"};
}

bool is_auth_failure(int http_status, const std::string& body) {
  auto parsed = etcd::parse_error(body);
  if (!parsed) {
    return http_status == 401;
  }
  return parsed->code == kGrpcUnauthenticated ||
         parsed->message.find("invalid auth token") != std::string::npos;
}

// A Watch over one /v3/watch stream. Owns its connection; closing it ends the watch on the
// server side too.
class EtcdWatch final : public Watch {
 public:
  explicit EtcdWatch(std::unique_ptr<HttpConnection> conn) : conn_(std::move(conn)) {}

  core::Task<Result<WatchBatch>> next(core::TimePoint deadline) override {
    for (;;) {
      if (!ready_.empty()) {
        WatchBatch batch = std::move(ready_.front());
        ready_.pop_front();
        co_return batch;
      }
      if (end_) {
        co_return *end_;
      }
      if (auto read = co_await read_message(deadline); !read) {
        co_return read.error();
      }
    }
  }

  // Reads until etcd confirms the watch (events that arrive with it stay queued).
  core::Task<Result<void>> wait_created(core::TimePoint deadline) {
    while (!created_ && ready_.empty() && !end_) {
      if (auto read = co_await read_message(deadline); !read) {
        co_return read.error();
      }
    }
    co_return Result<void>();
  }

 private:
  // Handles one complete message from the stream, reading more when none is buffered.
  core::Task<Result<void>> read_message(core::TimePoint deadline) {
    for (;;) {
      size_t nl = pending_.find('\n', scanned_);
      if (nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        scanned_ = 0;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
          line.pop_back();
        }
        if (line.empty()) {
          continue;
        }
        handle(line);
        co_return Result<void>();
      }
      scanned_ = pending_.size();
      auto more = co_await conn_->read_body(pending_, deadline);
      if (!more) {
        if (more.error().kind != ErrorKind::Timeout) {
          end_ = more.error();
        }
        co_return more.error();
      }
      if (!*more && pending_.find('\n', scanned_) == std::string::npos) {
        end_ = Error{ErrorKind::Refused, ErrorSource::Upstream, true, "etcd ended the watch"};
        co_return *end_;
      }
    }
  }

  void handle(const std::string& line) {
    auto msg = etcd::parse_watch_message(line);
    if (!msg) {
      end_ = msg.error();
      return;
    }
    if (msg->created) {
      created_ = true;
    }
    if (!msg->events.empty()) {
      WatchBatch batch;
      batch.revision = msg->revision;
      batch.events = std::move(msg->events);
      ready_.push_back(std::move(batch));
    }
    if (msg->canceled) {
      if (msg->compact_revision > 0) {
        WatchBatch batch;
        batch.compacted = true;
        batch.compact_revision = msg->compact_revision;
        batch.revision = msg->revision;
        ready_.push_back(std::move(batch));
        end_ = Error{ErrorKind::Invalid, ErrorSource::Upstream, false,
                     "watch ended after the compacted signal"};
      } else {
        end_ = Error{ErrorKind::Io, ErrorSource::Upstream, true,
                     "etcd cancelled the watch: " + msg->cancel_reason};
      }
    }
  }

  std::unique_ptr<HttpConnection> conn_;
  std::string pending_;
  size_t scanned_ = 0;  // bytes of pending_ known to hold no newline
  std::deque<WatchBatch> ready_;
  std::optional<Error> end_;
  bool created_ = false;
};

// The whole of a small file (a PEM certificate or key), or an error naming `field`.
Result<std::string> read_pem_file(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error::config(field + ": cannot open '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The client TLS context for https endpoints, from deployment.etcd.tls and the trusted CAs.
Result<std::shared_ptr<const tls::TlsContext>> make_tls_context(const EtcdOptions& options) {
  tls::ClientTlsOptions tls;
  tls.verify = options.tls_verify;
  tls.trusted_certificate = options.ca_file;
  tls.client_cert_field = "deployment.etcd.tls.cert";
  tls.client_key_field = "deployment.etcd.tls.key";
  if (options.cert_file.empty() != options.key_file.empty()) {
    return Error::config(options.cert_file.empty()
                             ? "deployment.etcd.tls.key requires deployment.etcd.tls.cert"
                             : "deployment.etcd.tls.cert requires deployment.etcd.tls.key");
  }
  if (!options.cert_file.empty()) {
    auto cert = read_pem_file(options.cert_file, tls.client_cert_field);
    if (!cert) {
      return cert.error();
    }
    auto key = read_pem_file(options.key_file, tls.client_key_field);
    if (!key) {
      return key.error();
    }
    tls.client_cert_pem = std::move(*cert);
    tls.client_key_pem = std::move(*key);
  }
  return tls::TlsContext::create_client(tls);
}

WriteResult done_result(const etcd::WriteReply& reply) {
  WriteResult result;
  result.revision = reply.revision;
  result.prev = reply.prev;
  return result;
}

}  // namespace

Result<std::unique_ptr<EtcdStore>> EtcdStore::create(core::Loop& loop, EtcdOptions options) {
  if (options.hosts.empty()) {
    return Error::config("etcd.host: at least one endpoint is required");
  }
  std::vector<HttpUrl> urls;
  bool any_tls = false;
  for (const auto& host : options.hosts) {
    auto url = parse_http_url(host);
    if (!url) {
      return Error::config("etcd.host: " + url.error().context);
    }
    any_tls = any_tls || url->tls;
    urls.push_back(std::move(*url));
  }
  std::shared_ptr<const tls::TlsContext> context;
  if (any_tls) {
    auto made = make_tls_context(options);
    if (!made) {
      return made.error();
    }
    context = std::move(made.value());
  }
  return std::unique_ptr<EtcdStore>(
      new EtcdStore(loop, std::move(options), std::move(urls), std::move(context)));
}

std::string EtcdStore::current_endpoint() const {
  const HttpUrl& url = urls_[preferred_];
  return (url.tls ? "https://" : "http://") + url.authority;
}

core::TimePoint EtcdStore::deadline() const { return core::Clock::now() + options_.timeout; }

HttpRequest EtcdStore::make_request(std::string target, std::string body) const {
  HttpRequest request;
  request.method = "POST";
  request.target = std::move(target);
  request.body = std::move(body);
  request.headers.emplace_back("Content-Type", "application/json");
  if (!token_.empty()) {
    request.headers.emplace_back("Authorization", token_);
  }
  return request;
}

core::Task<Result<std::unique_ptr<HttpConnection>>> EtcdStore::connect_any(
    core::TimePoint deadline) {
  std::string failures;
  bool retryable = false;  // some endpoint may answer later (not: all refused our TLS)
  for (size_t i = 0; i < urls_.size(); ++i) {
    size_t index = (preferred_ + i) % urls_.size();
    const HttpUrl& url = urls_[index];
    auto endpoint = resolve_endpoint(url.host, url.port);
    if (!endpoint) {
      failures += "; " + endpoint.error().context;
      retryable = true;
      continue;
    }
    core::TimePoint attempt = std::min(deadline, core::Clock::now() + options_.connect_timeout);
    std::optional<HttpTls> tls;
    if (url.tls) {
      tls = HttpTls{tls_, options_.sni.empty() ? url.host : options_.sni};
    }
    auto conn =
        co_await HttpConnection::connect(loop_, *endpoint, url.authority, attempt, std::move(tls));
    if (conn) {
      preferred_ = index;
      co_return std::move(conn.value());
    }
    failures += "; " + url.authority + ": " + conn.error().context;
    retryable = retryable || conn.error().retryable;
    if (core::Clock::now() >= deadline) {
      break;
    }
  }
  co_return Error{ErrorKind::Refused, ErrorSource::Upstream, retryable,
                  "no etcd endpoint reachable" + failures};
}

core::Task<Result<void>> EtcdStore::authenticate(core::TimePoint deadline) {
  auto conn = co_await connect_any(deadline);
  if (!conn) {
    co_return conn.error();
  }
  HttpRequest request;
  request.target = "/v3/auth/authenticate";
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = etcd::authenticate_request(options_.user, options_.password);
  auto response = co_await (*conn)->exchange(std::move(request), deadline, 1 << 20);
  if (!response) {
    co_return response.error();
  }
  if (response->status != 200) {
    co_return etcd_error(response->status, response->body);
  }
  auto token = etcd::parse_authenticate_reply(response->body);
  if (!token) {
    co_return token.error();
  }
  token_ = std::move(*token);
  co_return Result<void>();
}

core::Task<Result<std::string>> EtcdStore::call(std::string target, std::string body) {
  core::TimePoint until = deadline();
  bool reauthenticated = false;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (!options_.user.empty() && token_.empty()) {
      if (auto auth = co_await authenticate(until); !auth) {
        co_return auth.error();
      }
    }
    std::unique_ptr<HttpConnection> conn;
    bool reused = false;
    while (!idle_.empty() && !conn) {
      conn = std::move(idle_.back());
      idle_.pop_back();
      if (!conn->is_reusable()) {
        conn.reset();
      }
      reused = conn != nullptr;
    }
    if (!conn) {
      auto fresh = co_await connect_any(until);
      if (!fresh) {
        co_return fresh.error();
      }
      conn = std::move(fresh.value());
    }
    auto response =
        co_await conn->exchange(make_request(target, body), until, options_.max_response_bytes);
    if (!response) {
      if (reused && conn->nothing_received() && response.error().kind != ErrorKind::Timeout) {
        continue;  // the server closed the idle connection meanwhile: try a fresh one
      }
      co_return response.error();
    }
    if (conn->is_reusable() && idle_.size() < options_.max_idle_connections) {
      idle_.push_back(std::move(conn));
    }
    if (response->status == 200) {
      co_return std::move(response->body);
    }
    if (!options_.user.empty() && !reauthenticated &&
        is_auth_failure(response->status, response->body)) {
      reauthenticated = true;
      token_.clear();
      continue;
    }
    co_return etcd_error(response->status, response->body);
  }
  co_return Error{ErrorKind::Io, ErrorSource::Upstream, true, "etcd: too many retries"};
}

core::Task<Result<GetResult>> EtcdStore::get(std::string key) {
  auto body = co_await call("/v3/kv/range", etcd::range_request(key, "", 0, 0));
  if (!body) {
    co_return body.error();
  }
  auto reply = etcd::parse_range_reply(*body);
  if (!reply) {
    co_return reply.error();
  }
  GetResult result;
  result.revision = reply->revision;
  if (!reply->kvs.empty()) {
    result.kv = std::move(reply->kvs.front());
  }
  co_return result;
}

core::Task<Result<ListResult>> EtcdStore::list(std::string prefix) {
  std::string end = etcd::prefix_range_end(prefix);
  std::string from = prefix.empty() ? std::string(1, '\0') : prefix;
  ListResult result;
  // Every page reads at the first page's revision, so the pages form one consistent view.
  for (;;) {
    auto body = co_await call(
        "/v3/kv/range", etcd::range_request(from, end, options_.list_page_size, result.revision));
    if (!body) {
      co_return body.error();
    }
    auto reply = etcd::parse_range_reply(*body);
    if (!reply) {
      co_return reply.error();
    }
    if (result.revision == 0) {
      result.revision = reply->revision;
    }
    for (auto& kv : reply->kvs) {
      result.items.push_back(std::move(kv));
    }
    if (!reply->more || reply->kvs.empty()) {
      co_return result;
    }
    from = result.items.back().key + std::string(1, '\0');
  }
}

core::Task<Result<int64_t>> EtcdStore::grant_lease(std::chrono::seconds ttl) {
  auto body = co_await call("/v3/lease/grant", etcd::lease_grant_request(ttl.count()));
  if (!body) {
    co_return body.error();
  }
  co_return etcd::parse_lease_grant_reply(*body);
}

core::Task<Result<WriteResult>> EtcdStore::put(std::string key, std::string value,
                                               PutOptions options) {
  if (key.empty()) {
    co_return store_error(ErrorKind::Invalid, "empty key");
  }
  int64_t lease = 0;
  if (options.ttl.count() > 0) {
    auto granted = co_await grant_lease(options.ttl);
    if (!granted) {
      co_return granted.error();
    }
    lease = *granted;
  }
  if (!options.expected_mod_revision) {
    auto body = co_await call("/v3/kv/put", etcd::put_request(key, value, lease));
    if (!body) {
      co_return body.error();
    }
    auto reply = etcd::parse_put_reply(*body);
    if (!reply) {
      co_return reply.error();
    }
    co_return done_result(*reply);
  }
  auto body =
      co_await call("/v3/kv/txn", etcd::compare_txn_request(key, *options.expected_mod_revision,
                                                            std::string_view(value), lease));
  if (!body) {
    co_return body.error();
  }
  auto reply = etcd::parse_txn_reply(*body);
  if (!reply) {
    co_return reply.error();
  }
  if (reply->succeeded) {
    co_return done_result(*reply);
  }
  WriteResult result;
  result.status = WriteStatus::Conflict;
  result.revision = reply->revision;
  result.prev = std::move(reply->current);
  co_return result;
}

core::Task<Result<WriteResult>> EtcdStore::remove(std::string key,
                                                  std::optional<int64_t> expected_mod_revision) {
  if (key.empty()) {
    co_return store_error(ErrorKind::Invalid, "empty key");
  }
  if (!expected_mod_revision) {
    auto body = co_await call("/v3/kv/deleterange", etcd::delete_request(key));
    if (!body) {
      co_return body.error();
    }
    auto reply = etcd::parse_delete_reply(*body);
    if (!reply) {
      co_return reply.error();
    }
    co_return done_result(*reply);
  }
  auto body = co_await call(
      "/v3/kv/txn", etcd::compare_txn_request(key, *expected_mod_revision, std::nullopt, 0));
  if (!body) {
    co_return body.error();
  }
  auto reply = etcd::parse_txn_reply(*body);
  if (!reply) {
    co_return reply.error();
  }
  if (reply->succeeded) {
    co_return done_result(*reply);
  }
  WriteResult result;
  result.status = WriteStatus::Conflict;
  result.revision = reply->revision;
  result.prev = std::move(reply->current);
  co_return result;
}

core::Task<Result<std::unique_ptr<Watch>>> EtcdStore::watch(std::string prefix,
                                                            int64_t from_revision) {
  core::TimePoint until = deadline();
  std::string key = prefix.empty() ? std::string(1, '\0') : prefix;
  std::string end = etcd::prefix_range_end(prefix);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!options_.user.empty() && token_.empty()) {
      if (auto auth = co_await authenticate(until); !auth) {
        co_return auth.error();
      }
    }
    auto conn = co_await connect_any(until);
    if (!conn) {
      co_return conn.error();
    }
    auto head = co_await (*conn)->start(
        make_request("/v3/watch", etcd::watch_create_request(key, end, from_revision)), until);
    if (!head) {
      co_return head.error();
    }
    if (head->status != 200) {
      std::string body;
      while (true) {
        auto more = co_await (*conn)->read_body(body, until);
        if (!more || !*more || body.size() > (1 << 20)) {
          break;
        }
      }
      if (!options_.user.empty() && attempt == 0 && is_auth_failure(head->status, body)) {
        token_.clear();
        continue;
      }
      co_return etcd_error(head->status, body);
    }
    auto watch = std::make_unique<EtcdWatch>(std::move(conn.value()));
    if (auto created = co_await watch->wait_created(until); !created) {
      co_return created.error();
    }
    co_return std::unique_ptr<Watch>(std::move(watch));
  }
  co_return Error{ErrorKind::Io, ErrorSource::Upstream, false, "etcd: watch not authorised"};
}

core::Task<Result<void>> EtcdStore::compact(int64_t revision) {
  auto body = co_await call("/v3/kv/compaction", etcd::compaction_request(revision));
  if (!body) {
    co_return body.error();
  }
  co_return Result<void>();
}

}  // namespace apisix::store
