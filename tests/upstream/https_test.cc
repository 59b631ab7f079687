// https upstreams through the real binary (core.md §4.4 `scheme`/`tls`, §7.8 SNI and no
// verification, §7.9 pools keyed by SNI and client certificate, §7.6/§7.11 failures): the
// gateway speaks TLS to a TlsUpstreamServer, sends the Host it forwards as SNI, keeps the TLS
// connection alive across requests, presents `tls.client_cert` when configured, and answers
// 502 (moving on to the next node first) when a handshake fails.

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_certs.h"
#include "tests/harness/tls_upstream_server.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

// `pem` as a YAML block scalar under a key indented by `indent` spaces.
std::string yaml_block(const std::string& pem, size_t indent) {
  std::string out = "|\n";
  size_t start = 0;
  while (start < pem.size()) {
    size_t end = pem.find('\n', start);
    if (end == std::string::npos) {
      end = pem.size();
    }
    out += std::string(indent + 2, ' ') + pem.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

// apisix.yaml: upstream u1 (scheme https, `nodes`, `extra` fields) and route r1 for /*.
std::string https_routes(const std::vector<std::string>& nodes, const std::string& extra = {}) {
  std::string y = "upstreams:\n  - id: u1\n    scheme: https\n    nodes:\n";
  for (const std::string& node : nodes) {
    y += "      \"" + node + "\": 1\n";
  }
  y += "    timeout: {connect: 3, send: 3, read: 3}\n";
  y += extra;
  y += "routes:\n  - id: r1\n    uri: /*\n    upstream_id: u1\n#END\n";
  return y;
}

TlsUpstreamOptions server_options(const TestCerts& certs) {
  TlsUpstreamOptions options;
  options.cert_pem = certs.server.cert_pem;
  options.key_pem = certs.server.key_pem;
  return options;
}

// core.md §7.8: the Host sent (pass_host pass: the client's) is the SNI; the certificate is
// not verified (the test CA is unknown to the gateway); X-Forwarded-Proto stays the client
// side's scheme. §7.9: sequential requests share one TLS connection.
TEST(HttpsUpstream, ProxiesOverTlsWithTheHostAsSniAndKeepsTheConnection) {
  TempDir dir("apisix-https-");
  TestCerts certs = make_test_certs(dir.path());
  TlsUpstreamServer upstream(server_options(certs));
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml = https_routes({upstream.address()});
  ASSERT_TRUE(gateway.start(options));

  RawClient client(gateway.http_port());
  for (int i = 0; i < 5; ++i) {
    HttpResponse resp = client.get("/tls/" + std::to_string(i), {{"Host", "api.example.com"}});
    ASSERT_TRUE(resp.ok()) << resp.describe() << gateway.describe_logs();
    EXPECT_EQ(resp.status, 200) << resp.describe() << gateway.describe_logs();
    EXPECT_EQ(resp.body, "hello world");
  }
  std::vector<RecordedRequest> requests = upstream.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests.back().target, "/tls/4");
  EXPECT_EQ(requests.back().headers.value_or_empty("Host"), "api.example.com");
  EXPECT_EQ(requests.back().headers.value_or_empty("X-Forwarded-Proto"), "http");
  // One TLS connection carried all five requests.
  EXPECT_EQ(upstream.connection_count(), 1u);
  EXPECT_EQ(requests.back().index_on_connection, 4u);
  std::vector<TlsConnectionInfo> connections = upstream.connections();
  ASSERT_EQ(connections.size(), 1u);
  EXPECT_TRUE(connections[0].handshake_ok) << connections[0].handshake_error;
  EXPECT_EQ(connections[0].sni, "api.example.com");
  EXPECT_FALSE(connections[0].client_cert_presented);
}

// core.md §7.8: pass_host rewrite sends upstream_host, so that is the SNI (without a port);
// §7.9: a different SNI never shares a pooled connection.
TEST(HttpsUpstream, SniFollowsTheRewrittenHostAndSplitsThePool) {
  TempDir dir("apisix-https-");
  TestCerts certs = make_test_certs(dir.path());
  TlsUpstreamServer upstream(server_options(certs));
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml =
      "upstreams:\n"
      "  - id: u1\n    scheme: https\n    pass_host: rewrite\n    upstream_host: "
      "\"backend.internal:8443\"\n    nodes:\n      \"" +
      upstream.address() +
      "\": 1\n"
      "  - id: u2\n    scheme: https\n    nodes:\n      \"" +
      upstream.address() +
      "\": 1\n"
      "routes:\n"
      "  - id: r1\n    uri: /rewrite\n    upstream_id: u1\n"
      "  - id: r2\n    uri: /pass\n    upstream_id: u2\n#END\n";
  ASSERT_TRUE(gateway.start(options));

  RawClient client(gateway.http_port());
  HttpResponse a = client.get("/rewrite", {{"Host", "client.example.com"}});
  ASSERT_EQ(a.status, 200) << a.describe() << gateway.describe_logs();
  HttpResponse b = client.get("/pass", {{"Host", "client.example.com"}});
  ASSERT_EQ(b.status, 200) << b.describe() << gateway.describe_logs();
  HttpResponse c = client.get("/rewrite", {{"Host", "client.example.com"}});
  ASSERT_EQ(c.status, 200) << c.describe() << gateway.describe_logs();

  std::vector<RecordedRequest> requests = upstream.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].headers.value_or_empty("Host"), "backend.internal:8443");
  auto first = upstream.connection_of(requests[0]);
  auto second = upstream.connection_of(requests[1]);
  auto third = upstream.connection_of(requests[2]);
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->sni, "backend.internal");
  EXPECT_EQ(second->sni, "client.example.com");
  EXPECT_NE(first->tls_id, second->tls_id);
  EXPECT_EQ(first->tls_id, third->tls_id);  // back to the pooled connection of its SNI
}

// core.md §4.4 tls.client_cert / tls.client_key: mTLS towards the upstream.
TEST(HttpsUpstream, PresentsTheConfiguredClientCertificate) {
  TempDir dir("apisix-https-");
  TestCerts certs = make_test_certs(dir.path());
  TlsUpstreamOptions server = server_options(certs);
  server.client_ca_pem = certs.client_ca.cert_pem;
  server.require_client_cert = true;
  TlsUpstreamServer upstream(server);
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml = https_routes(
      {upstream.address()}, "    tls:\n      client_cert: " + yaml_block(certs.client.cert_pem, 6) +
                                "      client_key: " + yaml_block(certs.client.key_pem, 6));
  ASSERT_TRUE(gateway.start(options));

  for (int i = 0; i < 3; ++i) {
    HttpResponse resp = http_get(gateway.http_port(), "/mtls");
    ASSERT_EQ(resp.status, 200) << resp.describe() << gateway.describe_logs();
  }
  std::vector<TlsConnectionInfo> connections = upstream.connections();
  ASSERT_FALSE(connections.empty());
  EXPECT_TRUE(connections[0].handshake_ok) << connections[0].handshake_error;
  EXPECT_TRUE(connections[0].client_cert_presented);
  EXPECT_NE(connections[0].client_subject.find("CN=apisix-test-client"), std::string::npos)
      << connections[0].client_subject;
}

// core.md §7.6: a failed handshake is an error while connecting: the next node is tried; with
// none left the answer is 502 (§7.11).
TEST(HttpsUpstream, HandshakeFailureMovesOnAndEndsIn502) {
  TempDir dir("apisix-https-");
  TestCerts certs = make_test_certs(dir.path());
  TlsUpstreamServer good(server_options(certs));
  // Demands a client certificate the gateway does not have; with TLS 1.2 the refusal comes
  // inside the handshake (TLS 1.3 would only report it after the client's Finished).
  TlsUpstreamOptions refusing_options = server_options(certs);
  refusing_options.client_ca_pem = certs.client_ca.cert_pem;
  refusing_options.require_client_cert = true;
  refusing_options.max_protocol_version = TLS1_2_VERSION;
  TlsUpstreamServer refusing(refusing_options);
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml =
      "upstreams:\n"
      "  - id: bad\n    scheme: https\n    nodes:\n      \"" +
      refusing.address() +
      "\": 1\n"
      "    timeout: {connect: 3, send: 3, read: 3}\n"
      "  - id: mixed\n    scheme: https\n    retries: 1\n    nodes:\n"
      "      - {host: \"127.0.0.1\", port: " +
      std::to_string(refusing.port()) +
      ", weight: 1, "
      "priority: 1}\n"
      "      - {host: \"127.0.0.1\", port: " +
      std::to_string(good.port()) +
      ", weight: 1, "
      "priority: 0}\n"
      "    timeout: {connect: 3, send: 3, read: 3}\n"
      "routes:\n"
      "  - id: r1\n    uri: /bad\n    upstream_id: bad\n"
      "  - id: r2\n    uri: /mixed\n    upstream_id: mixed\n#END\n";
  ASSERT_TRUE(gateway.start(options));

  HttpResponse bad = http_get(gateway.http_port(), "/bad");
  EXPECT_EQ(bad.status, 502) << bad.describe() << gateway.describe_logs();
  EXPECT_EQ(bad.header("X-APISIX-Upstream-Status"), "502");
  EXPECT_EQ(good.requests().size(), 0u);

  // The higher-priority node fails its handshake; the request moves on to the TLS node.
  HttpResponse mixed = http_get(gateway.http_port(), "/mixed");
  EXPECT_EQ(mixed.status, 200) << mixed.describe() << gateway.describe_logs();
  EXPECT_EQ(good.requests().size(), 1u);
  EXPECT_EQ(refusing.requests().size(), 0u);
  EXPECT_TRUE(wait_until(
      [&] { return gateway.error_log().find("TLS handshake failed") != std::string::npos; }, 5s))
      << gateway.describe_logs();
}

// core.md §7.6, §7.11: the handshake is bounded by the connect timeout (as nginx bounds it by
// proxy_connect_timeout); a node that never answers the ClientHello ends in 504.
TEST(HttpsUpstream, HandshakeTimeoutAnswers504) {
  UpstreamServer silent;  // plain HTTP: waits for a request head the ClientHello never ends
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml = "upstreams:\n  - id: u1\n    scheme: https\n    nodes:\n      \"" +
                        silent.address() +
                        "\": 1\n    timeout: {connect: 0.5, send: 3, read: 3}\n"
                        "routes:\n  - id: r1\n    uri: /*\n    upstream_id: u1\n#END\n";
  ASSERT_TRUE(gateway.start(options));
  HttpResponse resp = http_get(gateway.http_port(), "/slow");
  EXPECT_EQ(resp.status, 504) << resp.describe() << gateway.describe_logs();
}

}  // namespace
}  // namespace apisix::test
