// The etcd provider over TLS through the real binary (core.md §1.3 deployment.etcd.tls,
// apisix.ssl.ssl_trusted_certificate; §2.3): a gateway whose etcd serves https and requires a
// client certificate loads what etcd holds, follows it, and writes Admin API changes to it.

#include <string>

#include <gtest/gtest.h>

#include "tests/harness/admin_client.h"
#include "tests/harness/etcd_server.h"
#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

// etcd_admin_config() for a TLS etcd: `etcd_tls` goes under deployment.etcd.tls, and the CA
// bundle, when given, is apisix.ssl.ssl_trusted_certificate (APISIX verifies etcd with it).
std::string tls_config(const EtcdServer& etcd, const std::string& etcd_tls,
                       const std::string& trusted_ca) {
  std::string y = etcd_admin_config(etcd.client_url());
  size_t etcd_end = y.find("    timeout: 5\n");
  EXPECT_NE(etcd_end, std::string::npos) << y;
  y.insert(etcd_end, "    tls:\n" + etcd_tls);
  if (!trusted_ca.empty()) {
    y.insert(y.find("apisix:\n") + 8,
             "  ssl:\n    ssl_trusted_certificate: \"" + trusted_ca + "\"\n");
  }
  return y;
}

TEST(EtcdTls, GatewayLoadsFollowsAndWritesThroughAnMtlsEtcd) {
  EtcdServer etcd(EtcdServerOptions{.client_cert_auth = true});
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  const EtcdTlsCerts& certs = etcd.tls_certs();
  UpstreamOptions upstream;
  upstream.name = "a";
  UpstreamServer a(upstream);
  // Written the way another APISIX node would: straight into etcd.
  ASSERT_GT(etcd.put("/apisix/routes/1", R"({"id":"1","uri":"/one","upstream":{"nodes":{")" +
                                             a.address() + R"(":1}}})"),
            0);

  GatewayProcess gateway;
  GatewayOptions options;
  options.config_yaml =
      tls_config(etcd,
                 "      cert: \"" + certs.client.cert_file.string() + "\"\n      key: \"" +
                     certs.client.key_file.string() + "\"\n      verify: true\n",
                 certs.ca.cert_file.string());
  ASSERT_TRUE(gateway.start(options)) << gateway.describe_logs();
  uint16_t port = gateway.http_port();
  EXPECT_EQ(served_by(port, "/one"), "a");  // loaded before the workers started

  // The watch over TLS brings in another writer's change.
  ASSERT_GT(etcd.put("/apisix/routes/2", R"({"id":"2","uri":"/two","upstream":{"nodes":{")" +
                                             a.address() + R"(":1}}})"),
            0);
  EXPECT_TRUE(wait_until([&] { return served_by(port, "/two") == "a"; }, 5s))
      << served_by(port, "/two");

  // An Admin API write lands in etcd with APISIX's key layout (§2.1).
  HttpResponse put =
      admin_call(gateway.admin_port(), "PUT", "/apisix/admin/routes/r1",
                 R"({"uri":"/admin","upstream":{"nodes":{")" + a.address() + R"(":1}}})");
  ASSERT_EQ(put.status, 201) << put.describe();
  auto stored = etcd.get("/apisix/routes/r1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_NE(stored->find(R"("uri":"/admin")"), std::string::npos) << *stored;
  EXPECT_EQ(served_by(port, "/admin"), "a");
}

TEST(EtcdTls, RefusesToStartWhenEtcdsCertificateIsNotTrusted) {
  EtcdServer etcd(EtcdServerOptions{.tls = true});
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  GatewayProcess gateway;
  GatewayOptions options;
  options.config_yaml =
      tls_config(etcd, "      verify: true\n", etcd.tls_certs().other_ca.cert_file.string());
  EXPECT_FALSE(gateway.start(options));
  EXPECT_NE(gateway.describe_logs().find("certificate verify failed"), std::string::npos)
      << gateway.describe_logs();

  // A client certificate comes with its key (checked when config.yaml is read).
  GatewayProcess half_pair;
  options.config_yaml =
      tls_config(etcd, "      cert: \"" + etcd.tls_certs().client.cert_file.string() + "\"\n", "");
  EXPECT_FALSE(half_pair.start(options));
  EXPECT_NE(half_pair.describe_logs().find("deployment.etcd.tls.key"), std::string::npos)
      << half_pair.describe_logs();

  // tls.verify: false connects to the same etcd whatever the CA.
  GatewayProcess unverified;
  options.config_yaml =
      tls_config(etcd, "      verify: false\n", etcd.tls_certs().other_ca.cert_file.string());
  EXPECT_TRUE(unverified.start(options)) << unverified.describe_logs();
}

}  // namespace
}  // namespace apisix::test
