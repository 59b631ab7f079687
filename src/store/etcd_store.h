#pragma once
// EtcdStore: the ConfigStore backed by an etcd (>= 3.4) cluster, spoken to through etcd's v3
// HTTP/JSON gateway as APISIX does (apisix-compat core.md §2.3). Owned by the control thread,
// used on its Loop.
//
// - Unary calls (range, put, deleterange, txn, lease grant, compaction) go over a small pool of
//   keep-alive connections; a connection the server closed while idle is retried once on a
//   fresh one. Connect failures move on to the next configured endpoint (failover); the
//   endpoint that answered stays preferred.
// - Each Watch holds its own long-lived POST /v3/watch stream (a chunked response carrying one
//   JSON message per line). The control thread keeps one watch per process on `<prefix>/`.
// - user/password: a token from /v3/auth/authenticate is sent as the Authorization header and
//   renewed when etcd reports it invalid.
// - TTL: a lease is granted per put (/v3/lease/grant) and the key attached to it.
// - https:// endpoints speak TLS (tls::TlsStream), unary calls and watches alike, as APISIX's
//   deployment.etcd.tls does (core.md §1.3): the server certificate is verified by default
//   against apisix.ssl.ssl_trusted_certificate (the system store unless set) and the URL's
//   host, or tls.sni when given (also sent as SNI); tls.verify: false turns that off;
//   tls.cert/tls.key present a client certificate (etcd's --client-cert-auth).
// - Not yet: health-checking idle endpoints, the CLI's version check.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/config_store.h"
#include "store/http_client.h"

namespace apisix::store {

struct EtcdOptions {
  std::vector<std::string> hosts;  // deployment.etcd.host: "http://127.0.0.1:2379", ...
  std::string user;                // deployment.etcd.user (empty: no auth)
  std::string password;
  std::chrono::milliseconds timeout{30000};         // deployment.etcd.timeout, per call
  std::chrono::milliseconds connect_timeout{5000};  // per endpoint tried
  size_t max_idle_connections = 4;
  int64_t list_page_size = 1000;  // keys per range request when listing
  size_t max_response_bytes = size_t{512} << 20;
  // For https:// hosts. File paths are used as given (APISIX opens them relative to its
  // working directory too).
  bool tls_verify = true;  // deployment.etcd.tls.verify
  std::string ca_file;     // apisix.ssl.ssl_trusted_certificate: "" or "system" = OS store
  std::string cert_file;   // deployment.etcd.tls.cert: client certificate (PEM), with key_file
  std::string key_file;    // deployment.etcd.tls.key
  std::string sni;         // deployment.etcd.tls.sni: "" = each URL's host
};

class EtcdStore final : public ConfigStore {
 public:
  // Checks the options (parses the URLs; for https ones, reads the certificate files and
  // builds the TLS context); does not contact etcd yet.
  static Result<std::unique_ptr<EtcdStore>> create(core::Loop& loop, EtcdOptions options);
  ~EtcdStore() override = default;

  std::string_view kind() const override { return "etcd"; }
  core::Task<Result<GetResult>> get(std::string key) override;
  core::Task<Result<ListResult>> list(std::string prefix) override;
  core::Task<Result<WriteResult>> put(std::string key, std::string value,
                                      PutOptions options) override;
  core::Task<Result<WriteResult>> remove(std::string key,
                                         std::optional<int64_t> expected_mod_revision) override;
  core::Task<Result<std::unique_ptr<Watch>>> watch(std::string prefix,
                                                   int64_t from_revision) override;
  core::Task<Result<void>> compact(int64_t revision) override;

  // Grants a lease of `ttl` (etcd may round it up to its minimum); returns its id.
  core::Task<Result<int64_t>> grant_lease(std::chrono::seconds ttl);
  // The endpoint currently preferred, e.g. "http://127.0.0.1:2379" or "https://...".
  std::string current_endpoint() const;

 private:
  EtcdStore(core::Loop& loop, EtcdOptions options, std::vector<HttpUrl> urls,
            std::shared_ptr<const tls::TlsContext> tls)
      : loop_(loop), options_(std::move(options)), urls_(std::move(urls)), tls_(std::move(tls)) {}

  core::TimePoint deadline() const;
  HttpRequest make_request(std::string target, std::string body) const;
  // A new connection to the first endpoint that accepts, starting at the preferred one.
  core::Task<Result<std::unique_ptr<HttpConnection>>> connect_any(core::TimePoint deadline);
  core::Task<Result<void>> authenticate(core::TimePoint deadline);
  // POSTs `body` to `target`; the body of a 200 answer, else an error from etcd's error body.
  core::Task<Result<std::string>> call(std::string target, std::string body);

  core::Loop& loop_;
  EtcdOptions options_;
  std::vector<HttpUrl> urls_;
  std::shared_ptr<const tls::TlsContext> tls_;  // set when some URL is https
  size_t preferred_ = 0;
  std::vector<std::unique_ptr<HttpConnection>> idle_;
  std::string token_;
};

}  // namespace apisix::store
