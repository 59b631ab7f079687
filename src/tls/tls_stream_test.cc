#include "tls/tls_stream.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "core/loop.h"
#include "core/socket.h"
#include "core/task.h"
#include "tests/harness/body.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/loop_runner.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_certs.h"
#include "tests/harness/tls_upstream_server.h"
#include "tls/tls_context.h"

namespace apisix::tls {
namespace {

using namespace std::chrono_literals;
using core::IoError;
using core::IoResult;
using core::Loop;
using core::Task;

core::TimePoint deadline_in(std::chrono::milliseconds timeout) {
  return core::Clock::now() + test::scaled(timeout);
}

class TlsStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir("apisix-tls-test-");
    certs_ = new test::TestCerts(test::make_test_certs(dir_->path()));
  }
  static void TearDownTestSuite() {
    delete certs_;
    delete dir_;
  }

  static test::TlsUpstreamOptions server_options() {
    test::TlsUpstreamOptions options;
    options.cert_pem = certs_->server.cert_pem;
    options.key_pem = certs_->server.key_pem;
    return options;
  }

  static std::shared_ptr<const TlsContext> context(ClientTlsOptions options = {}) {
    auto created = TlsContext::create_client(options);
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().context);
    return created.ok() ? *created : nullptr;
  }

  static ClientTlsOptions verifying(const test::TestCert& ca) {
    ClientTlsOptions options;
    options.verify = true;
    options.trusted_certificate = ca.cert_file.string();
    return options;
  }

  static inline test::TempDir* dir_ = nullptr;
  static inline test::TestCerts* certs_ = nullptr;
};

// A TCP connection to 127.0.0.1:`port` wrapped in a TlsStream (no handshake yet).
Task<std::optional<TlsStream>> connect(Loop& loop, uint16_t port,
                                       std::shared_ptr<const TlsContext> context) {
  core::Endpoint endpoint;
  core::Endpoint::parse("127.0.0.1", port, endpoint);
  core::ConnectResult connected = co_await core::connect_tcp(loop, endpoint, deadline_in(5s));
  if (connected.error != IoError::None) {
    ADD_FAILURE() << "connect: " << core::to_string(connected.error);
    co_return std::nullopt;
  }
  co_return TlsStream(std::move(connected.socket), std::move(context));
}

// "GET <target>" with a Host header. Built outside coroutine bodies: GCC 12 cannot compile a
// braced header list inside a co_await expression.
std::string get_request(const std::string& target, const std::string& host) {
  return test::make_request("GET", target, {{"Host", host}});
}

struct Response {
  IoError error = IoError::None;
  int status = 0;
  test::Headers headers;
  std::string body;  // first 64 KiB
  uint64_t body_bytes = 0;
  uint64_t body_digest = 0;
};

// Reads one Content-Length response.
Task<Response> read_response(TlsStream& stream, core::TimePoint deadline) {
  Response out;
  std::string buffer;
  std::vector<char> chunk(64 * 1024);
  size_t head_end = std::string::npos;
  while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    IoResult r = co_await stream.read_some(chunk.data(), chunk.size(), deadline);
    if (!r.ok()) {
      out.error = r.error;
      co_return out;
    }
    buffer.append(chunk.data(), r.bytes);
  }
  std::string error;
  auto head = test::parse_response_head(buffer.substr(0, head_end + 4), error);
  if (!head) {
    ADD_FAILURE() << "bad response head: " << error;
    out.error = IoError::Other;
    co_return out;
  }
  out.status = head->status;
  out.headers = head->headers;
  uint64_t length = std::stoull(head->headers.value_or_empty("Content-Length").empty()
                                    ? "0"
                                    : head->headers.value_or_empty("Content-Length"));
  test::BodySink sink(64 * 1024);
  sink.feed(std::string_view(buffer).substr(head_end + 4));
  while (sink.bytes() < length) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(chunk.size(), length - sink.bytes()));
    IoResult r = co_await stream.read_some(chunk.data(), want, deadline);
    if (!r.ok()) {
      out.error = r.error;
      break;
    }
    sink.feed(std::string_view(chunk.data(), r.bytes));
  }
  out.body = sink.stored;
  out.body_bytes = sink.bytes();
  out.body_digest = sink.digest.value();
  co_return out;
}

TEST_F(TlsStreamTest, HandshakeThenKeepAliveRequests) {
  test::TlsUpstreamServer server(server_options());
  auto ctx = context();
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto stream = co_await connect(loop, server.port(), ctx);
    APISIX_CO_ASSERT(stream.has_value());
    IoResult hs = co_await stream->handshake("localhost", deadline_in(5s));
    APISIX_CO_ASSERT(hs.ok());
    EXPECT_TRUE(stream->is_handshake_done());
    EXPECT_EQ(stream->protocol(), "TLSv1.3");
    for (int i = 0; i < 2; ++i) {
      std::string request = get_request("/hello?i=" + std::to_string(i), "localhost");
      IoResult w = co_await stream->write_all(request, deadline_in(5s));
      APISIX_CO_ASSERT(w.ok());
      EXPECT_EQ(w.bytes, request.size());
      Response response = co_await read_response(*stream, deadline_in(5s));
      APISIX_CO_ASSERT(response.error == IoError::None);
      EXPECT_EQ(response.status, 200);
      EXPECT_EQ(response.body, "hello world");
    }
    // Nothing more to read on an idle keep-alive connection.
    char byte;
    EXPECT_EQ(stream->try_read(&byte, 1), -1);
    EXPECT_FALSE(stream->has_buffered_data());
  });
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[1].target, "/hello?i=1");
  EXPECT_EQ(requests[1].headers.value_or_empty("Host"), "localhost");
  EXPECT_EQ(requests[0].connection_id, requests[1].connection_id);
  auto info = server.connection_of(requests[1]);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->sni, "localhost");
  EXPECT_FALSE(info->client_cert_presented);
  EXPECT_EQ(server.connection_count(), 1U);
}

TEST_F(TlsStreamTest, NoSniForIpLiteral) {
  test::TlsUpstreamServer server(server_options());
  auto ctx = context();
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto stream = co_await connect(loop, server.port(), ctx);
    APISIX_CO_ASSERT(stream.has_value());
    IoResult hs = co_await stream->handshake("127.0.0.1", deadline_in(5s));
    APISIX_CO_ASSERT(hs.ok());
    co_await stream->write_all(get_request("/", "127.0.0.1"), deadline_in(5s));
    Response response = co_await read_response(*stream, deadline_in(5s));
    EXPECT_EQ(response.status, 200);
  });
  ASSERT_TRUE(server.wait_for_handshakes(1, 5s));
  EXPECT_EQ(server.connections().at(0).sni, "");
}

// Runs a handshake against `server` and returns the stream afterwards (closed or not).
struct HandshakeOutcome {
  IoResult result;
  TlsFailure failure = TlsFailure::None;
  std::string message;
  bool session_reused = false;
};

HandshakeOutcome handshake_with(uint16_t port, std::shared_ptr<const TlsContext> ctx,
                                std::string name) {
  HandshakeOutcome out;
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto stream = co_await connect(loop, port, ctx);
    APISIX_CO_ASSERT(stream.has_value());
    out.result = co_await stream->handshake(name, deadline_in(5s));
    out.failure = stream->failure();
    out.message = stream->error_message();
    out.session_reused = stream->is_session_reused();
  });
  return out;
}

TEST_F(TlsStreamTest, VerifyWithTheRightCaPasses) {
  test::TlsUpstreamServer server(server_options());
  auto ctx = context(verifying(certs_->ca));
  HandshakeOutcome by_name = handshake_with(server.port(), ctx, "localhost");
  EXPECT_TRUE(by_name.result.ok()) << by_name.message;
  HandshakeOutcome by_ip = handshake_with(server.port(), ctx, "127.0.0.1");
  EXPECT_TRUE(by_ip.result.ok()) << by_ip.message;
}

TEST_F(TlsStreamTest, VerifyWithAWrongCaFails) {
  test::TlsUpstreamServer server(server_options());
  HandshakeOutcome out =
      handshake_with(server.port(), context(verifying(certs_->other_ca)), "localhost");
  EXPECT_EQ(out.result.error, IoError::Other);
  EXPECT_EQ(out.failure, TlsFailure::Verify);
  EXPECT_NE(out.message.find("certificate verify failed: unable to get local issuer certificate"),
            std::string::npos)
      << out.message;
}

TEST_F(TlsStreamTest, SystemStoreDoesNotTrustTheTestCa) {
  test::TlsUpstreamServer server(server_options());
  ClientTlsOptions options;
  options.verify = true;
  options.trusted_certificate = "system";
  HandshakeOutcome out = handshake_with(server.port(), context(options), "localhost");
  EXPECT_EQ(out.failure, TlsFailure::Verify) << out.message;
}

TEST_F(TlsStreamTest, HostnameMismatchFailsWhenVerifying) {
  test::TlsUpstreamServer server(server_options());
  auto ctx = context(verifying(certs_->ca));
  HandshakeOutcome out = handshake_with(server.port(), ctx, "example.com");
  EXPECT_EQ(out.result.error, IoError::Other);
  EXPECT_EQ(out.failure, TlsFailure::Verify);
  EXPECT_NE(out.message.find("hostname mismatch"), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("example.com"), std::string::npos) << out.message;
  HandshakeOutcome ip = handshake_with(server.port(), ctx, "127.0.0.2");
  EXPECT_EQ(ip.failure, TlsFailure::Verify) << ip.message;
}

TEST_F(TlsStreamTest, VerifyOffAcceptsAnyCertificate) {
  // APISIX's default for https upstreams (core.md §4.4 `tls.verify` = false, §7.8).
  test::TlsUpstreamServer server(server_options());
  HandshakeOutcome out = handshake_with(server.port(), context(), "example.com");
  EXPECT_TRUE(out.result.ok()) << out.message;
  ASSERT_TRUE(server.wait_for_handshakes(1, 5s));
  EXPECT_EQ(server.connections().at(0).sni, "example.com");
}

TEST_F(TlsStreamTest, ClientCertificateIsPresentedAndSeen) {
  test::TlsUpstreamOptions options = server_options();
  options.client_ca_pem = certs_->client_ca.cert_pem;
  options.require_client_cert = true;
  test::TlsUpstreamServer server(options);
  ClientTlsOptions client;
  client.client_cert_pem = certs_->client.cert_pem;
  client.client_key_pem = certs_->client.key_pem;
  auto ctx = context(client);
  ASSERT_TRUE(ctx->has_client_cert());
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto stream = co_await connect(loop, server.port(), ctx);
    APISIX_CO_ASSERT(stream.has_value());
    APISIX_CO_ASSERT((co_await stream->handshake("localhost", deadline_in(5s))).ok());
    co_await stream->write_all(get_request("/mtls", "localhost"), deadline_in(5s));
    Response response = co_await read_response(*stream, deadline_in(5s));
    EXPECT_EQ(response.status, 200);
  });
  auto request = server.last_request();
  ASSERT_TRUE(request.has_value());
  auto info = server.connection_of(*request);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->client_cert_presented);
  EXPECT_NE(info->client_subject.find("CN=apisix-test-client"), std::string::npos)
      << info->client_subject;
}

TEST_F(TlsStreamTest, MissingClientCertificateIsRefused) {
  test::TlsUpstreamOptions options = server_options();
  options.client_ca_pem = certs_->client_ca.cert_pem;
  options.require_client_cert = true;
  test::TlsUpstreamServer server(options);
  auto ctx = context();
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto stream = co_await connect(loop, server.port(), ctx);
    APISIX_CO_ASSERT(stream.has_value());
    // With TLS 1.3 the client finishes its handshake before the server checks the client
    // certificate; the refusal (a "certificate required" alert) arrives with the first read.
    IoResult hs = co_await stream->handshake("localhost", deadline_in(5s));
    if (hs.ok()) {
      co_await stream->write_all(get_request("/", "localhost"), deadline_in(5s));
      Response response = co_await read_response(*stream, deadline_in(5s));
      EXPECT_NE(response.error, IoError::None);
      EXPECT_EQ(response.status, 0);
    }
    EXPECT_NE(stream->failure(), TlsFailure::None);
    EXPECT_NE(stream->error_message().find("certificate required"), std::string::npos)
        << stream->error_message();
  });
  ASSERT_TRUE(server.wait_for_handshakes(1, 5s));
  EXPECT_FALSE(server.connections().at(0).handshake_ok);
  EXPECT_EQ(server.requests().size(), 0U);
}

TEST_F(TlsStreamTest, BadPemIsAConfigErrorNamingTheField) {
  ClientTlsOptions options;
  options.client_cert_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  options.client_key_pem = certs_->client.key_pem;
  auto bad_cert = TlsContext::create_client(options);
  ASSERT_FALSE(bad_cert.ok());
  EXPECT_EQ(bad_cert.error().source, ErrorSource::Config);
  EXPECT_EQ(bad_cert.error().context.rfind("tls.client_cert: ", 0), 0U) << bad_cert.error().context;

  options.client_cert_pem = certs_->client.cert_pem;
  options.client_key_pem = "garbage";
  auto bad_key = TlsContext::create_client(options);
  ASSERT_FALSE(bad_key.ok());
  EXPECT_EQ(bad_key.error().context.rfind("tls.client_key: ", 0), 0U) << bad_key.error().context;

  options.client_key_pem = certs_->server.key_pem;
  auto mismatch = TlsContext::create_client(options);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error().context.find("does not match"), std::string::npos)
      << mismatch.error().context;

  options.client_key_pem.clear();
  auto half = TlsContext::create_client(options);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().context, "tls.client_cert requires tls.client_key");

  ClientTlsOptions missing_ca;
  missing_ca.verify = true;
  missing_ca.trusted_certificate = (dir_->path() / "no-such-ca.pem").string();
  auto no_ca = TlsContext::create_client(missing_ca);
  ASSERT_FALSE(no_ca.ok());
  EXPECT_EQ(no_ca.error().context.rfind("apisix.ssl.ssl_trusted_certificate: ", 0), 0U)
      << no_ca.error().context;
}

TEST_F(TlsStreamTest, LargeBodiesBothWays) {
  constexpr uint64_t kUpload = 6ULL << 20;
  constexpr uint64_t kDownload = 7ULL << 20;
  test::TlsUpstreamServer server(server_options());
  server.set_handler([](const test::RecordedRequest&, test::ResponseWriter& writer) {
    writer.head(200, {{"Content-Length", std::to_string(kDownload)}});
    writer.generated_body(kDownload);
  });
  auto ctx = context();
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto stream = co_await connect(loop, server.port(), ctx);
    APISIX_CO_ASSERT(stream.has_value());
    APISIX_CO_ASSERT((co_await stream->handshake("localhost", deadline_in(5s))).ok());
    // Head, many small pieces (gathered into records), then one big piece (written record by
    // record while the socket fills up).
    std::string head =
        "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(kUpload) +
        "\r\n\r\n";
    std::string body(kUpload, '\0');
    test::fill_pattern(0, body.data(), body.size());
    std::vector<iovec> iov;
    iov.push_back({head.data(), head.size()});
    size_t offset = 0;
    for (int i = 0; i < 500; ++i) {
      size_t piece = 1 + static_cast<size_t>(i % 97);
      iov.push_back({body.data() + offset, piece});
      offset += piece;
    }
    iov.push_back({body.data() + offset, body.size() - offset});
    IoResult w = co_await stream->write_all(iov, deadline_in(30s));
    EXPECT_TRUE(w.ok()) << core::to_string(w.error) << " after " << w.bytes << " bytes; "
                        << stream->error_message();
    APISIX_CO_ASSERT(w.ok());
    EXPECT_EQ(w.bytes, head.size() + body.size());
    Response response = co_await read_response(*stream, deadline_in(30s));
    EXPECT_EQ(response.error, IoError::None);
    EXPECT_EQ(response.body_bytes, kDownload);
    EXPECT_EQ(response.body_digest, test::pattern_digest(kDownload));
  });
  ASSERT_TRUE(server.http().wait_for_complete(0, 10s));
  auto request = server.last_request();
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->body_bytes, kUpload);
  EXPECT_EQ(request->body_digest, test::pattern_digest(kUpload));
}

TEST_F(TlsStreamTest, PeerResettingMidBodyIsAnError) {
  test::TlsUpstreamServer server(server_options());
  server.set_handler([](const test::RecordedRequest&, test::ResponseWriter& writer) {
    writer.head(200, {{"Content-Length", "1000000"}});
    writer.body(std::string(1000, 'x'));
    writer.abort();
  });
  auto ctx = context();
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto stream = co_await connect(loop, server.port(), ctx);
    APISIX_CO_ASSERT(stream.has_value());
    APISIX_CO_ASSERT((co_await stream->handshake("localhost", deadline_in(5s))).ok());
    co_await stream->write_all(get_request("/", "localhost"), deadline_in(5s));
    Response response = co_await read_response(*stream, deadline_in(5s));
    EXPECT_NE(response.error, IoError::None);
    EXPECT_NE(response.error, IoError::Timeout);
    EXPECT_LT(response.body_bytes, 1000000U);
    EXPECT_FALSE(stream->is_closed_cleanly());
  });
}

TEST_F(TlsStreamTest, PeerClosingCleanlyIsEof) {
  test::TlsUpstreamServer server(server_options());
  server.set_handler([](const test::RecordedRequest&, test::ResponseWriter& writer) {
    writer.close_after();
    writer.respond(200, {{"Connection", "close"}}, "bye");
  });
  auto ctx = context();
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto stream = co_await connect(loop, server.port(), ctx);
    APISIX_CO_ASSERT(stream.has_value());
    APISIX_CO_ASSERT((co_await stream->handshake("localhost", deadline_in(5s))).ok());
    co_await stream->write_all(get_request("/", "localhost"), deadline_in(5s));
    Response response = co_await read_response(*stream, deadline_in(5s));
    EXPECT_EQ(response.body, "bye");
    char buf[16];
    IoResult eof = co_await stream->read_some(buf, sizeof(buf), deadline_in(5s));
    EXPECT_EQ(eof.error, IoError::Eof);
    EXPECT_TRUE(stream->is_closed_cleanly());
    EXPECT_EQ(stream->failure(), TlsFailure::None);
  });
}

TEST_F(TlsStreamTest, SilentServerTimesOutTheHandshake) {
  // A listening socket that never accepts: TCP connects, the ClientHello is never answered.
  core::Endpoint endpoint;
  ASSERT_TRUE(core::Endpoint::parse("127.0.0.1", 0, endpoint));
  auto fd = core::listen_tcp(endpoint, false, 16);
  ASSERT_TRUE(fd.ok());
  uint16_t port = core::bound_port(*fd);
  auto ctx = context();
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto stream = co_await connect(loop, port, ctx);
    APISIX_CO_ASSERT(stream.has_value());
    auto started = core::Clock::now();
    IoResult hs = co_await stream->handshake("localhost", core::Clock::now() + 200ms);
    EXPECT_EQ(hs.error, IoError::Timeout);
    EXPECT_GE(core::Clock::now() - started, 200ms);
  });
  ::close(*fd);
}

TEST_F(TlsStreamTest, SessionsAreResumed) {
  for (int max_version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(max_version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2");
    test::TlsUpstreamOptions options = server_options();
    options.max_protocol_version = max_version;
    test::TlsUpstreamServer server(options);
    auto ctx = context();
    for (int i = 0; i < 2; ++i) {
      test::run_on_loop([&](Loop& loop) -> Task<void> {
        auto stream = co_await connect(loop, server.port(), ctx);
        APISIX_CO_ASSERT(stream.has_value());
        APISIX_CO_ASSERT((co_await stream->handshake("localhost", deadline_in(5s))).ok());
        EXPECT_EQ(stream->is_session_reused(), i == 1);
        // TLS 1.3 tickets arrive after the handshake: one exchange reads them.
        co_await stream->write_all(get_request("/", "localhost"), deadline_in(5s));
        Response response = co_await read_response(*stream, deadline_in(5s));
        EXPECT_EQ(response.status, 200);
      });
    }
    ASSERT_TRUE(server.wait_for_handshakes(2, 5s));
    auto connections = server.connections();
    EXPECT_FALSE(connections.at(0).session_reused);
    EXPECT_TRUE(connections.at(1).session_reused);
    EXPECT_EQ(connections.at(0).protocol, max_version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2");
  }
}

TEST_F(TlsStreamTest, CloseSendsCloseNotify) {
  test::TlsUpstreamServer server(server_options());
  auto ctx = context();
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto stream = co_await connect(loop, server.port(), ctx);
    APISIX_CO_ASSERT(stream.has_value());
    APISIX_CO_ASSERT((co_await stream->handshake("localhost", deadline_in(5s))).ok());
    stream->close();
    EXPECT_FALSE(stream->is_open());
  });
  ASSERT_TRUE(test::wait_until(
      [&] {
        auto c = server.connections();
        return !c.empty() && c[0].client_sent_close_notify;
      },
      5s));
}

}  // namespace
}  // namespace apisix::tls
