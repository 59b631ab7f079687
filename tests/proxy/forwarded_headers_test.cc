// What the upstream receives (compat §7.8): X-Forwarded-*, X-Real-IP, Host passed through
// (pass_host: pass), the request target and end-to-end headers unchanged.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

class ForwardedHeaders : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gateway_.start(proxy_options({upstream_.address()}))); }

  // Sends GET / with `headers` and returns what the upstream received.
  RecordedRequest forward(const Headers& headers, std::string_view target = "/") {
    HttpResponse resp = http_get(gateway_.http_port(), target, headers);
    EXPECT_TRUE(resp.ok()) << resp.describe();
    EXPECT_EQ(resp.status, 200) << resp.describe();
    auto r = upstream_.last_request();
    return r ? *r : RecordedRequest{};
  }

  UpstreamServer upstream_;
  GatewayProcess gateway_;
};

TEST_F(ForwardedHeaders, AddedWhenClientSendsNone) {
  RecordedRequest r = forward({{"Host", "example.com"}});
  EXPECT_EQ(r.headers.all("X-Forwarded-For"), std::vector<std::string>{"127.0.0.1"}) << r.raw_head;
  EXPECT_EQ(r.headers.all("X-Real-IP"), std::vector<std::string>{"127.0.0.1"}) << r.raw_head;
  EXPECT_EQ(r.headers.all("X-Forwarded-Proto"), std::vector<std::string>{"http"}) << r.raw_head;
  EXPECT_EQ(r.headers.all("X-Forwarded-Host"), std::vector<std::string>{"example.com"})
      << r.raw_head;
  EXPECT_EQ(r.headers.all("X-Forwarded-Port"),
            std::vector<std::string>{std::to_string(gateway_.http_port())})
      << r.raw_head;
  EXPECT_EQ(r.headers.all("Host"), std::vector<std::string>{"example.com"}) << r.raw_head;
}

TEST_F(ForwardedHeaders, ClientForwardedForIsAppendedTo) {
  RecordedRequest r = forward({{"Host", "example.com"}, {"X-Forwarded-For", "10.0.0.1, 10.0.0.2"}});
  EXPECT_EQ(r.headers.all("X-Forwarded-For"),
            std::vector<std::string>{"10.0.0.1, 10.0.0.2, 127.0.0.1"})
      << r.raw_head;
}

TEST_F(ForwardedHeaders, HostWithPortIsPassedThroughAndGivesForwardedPort) {
  RecordedRequest r = forward({{"Host", "api.example.com:8443"}});
  EXPECT_EQ(r.headers.value_or_empty("Host"), "api.example.com:8443") << r.raw_head;
  EXPECT_EQ(r.headers.value_or_empty("X-Forwarded-Host"), "api.example.com:8443") << r.raw_head;
  EXPECT_EQ(r.headers.value_or_empty("X-Forwarded-Port"), "8443") << r.raw_head;
}

TEST_F(ForwardedHeaders, RequestTargetIsPassedUnchanged) {
  const std::string target = "/p/%2Fencoded/./dot/../x?q=a%20b&empty=&flag";
  RecordedRequest r = forward({{"Host", "example.com"}}, target);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, target) << r.raw_head;
  EXPECT_EQ(r.version, "HTTP/1.1");
}

TEST_F(ForwardedHeaders, EndToEndHeadersArePassedUnchanged) {
  RecordedRequest r = forward({{"Host", "example.com"},
                               {"Accept", "text/html;q=0.9, */*;q=0.1"},
                               {"X-Dup", "one"},
                               {"X-Dup", "two"},
                               {"Cookie", "a=1; b=2"},
                               {"X-Empty", ""},
                               {"User-Agent", "itest/1.0 (x; y)"}});
  EXPECT_EQ(r.headers.value_or_empty("Accept"), "text/html;q=0.9, */*;q=0.1");
  EXPECT_EQ(r.headers.all("X-Dup"), (std::vector<std::string>{"one", "two"})) << r.raw_head;
  EXPECT_EQ(r.headers.value_or_empty("Cookie"), "a=1; b=2");
  EXPECT_TRUE(r.headers.has("X-Empty")) << r.raw_head;
  EXPECT_EQ(r.headers.value_or_empty("User-Agent"), "itest/1.0 (x; y)");
}

}  // namespace
}  // namespace apisix::test
