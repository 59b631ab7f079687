// The malformed-request matrix: each vector is raw bytes sent on a fresh connection, with the
// outcomes it may have — a status (4xx/501/505), kClose (closed without a response) or 200
// (accepted and proxied; only for requests that are valid or that RFC 9112 lets a server
// accept). For every vector the test also checks that the upstream received nothing for it
// (or exactly one well-formed request for an accepted one), that no smuggled request
// (target "/smuggled") ever reaches the upstream, that framing errors close the connection
// (RFC 9112 §6.3: "respond with 400 and then close"), and that the gateway still serves.
//
// Errors inside a chunked body are found only while the body streams, after the head went
// upstream: there the upstream may see the head of a request that is then cut off, but never
// a complete one.
//
// Outcomes follow RFC 9112/9110 and, where the RFC leaves a choice, what nginx (and so
// APISIX) does.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

constexpr int kClose = -1;  // the gateway closes the connection without answering
constexpr int kProxied = 200;

struct Vector {
  std::string name;
  std::string bytes;
  std::vector<int> accept;
};

std::string describe_outcome(int outcome) {
  return outcome == kClose ? "close without response" : std::to_string(outcome);
}

std::string describe_accept(const std::vector<int>& accept) {
  std::string s;
  for (int a : accept) {
    s += (s.empty() ? "" : " or ") + describe_outcome(a);
  }
  return s;
}

// A small valid chunked body.
constexpr char kChunkedHello[] = "5\r\nhello\r\n0\r\n\r\n";
constexpr char kSmuggled[] = "GET /smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n";

std::string post_head(const std::string& fields, const std::string& version = "HTTP/1.1") {
  return "POST /vector " + version + "\r\nHost: example.com\r\n" + fields + "\r\n";
}

std::string chunked(const std::string& body) {
  return post_head("Transfer-Encoding: chunked\r\n") + body;
}

std::string get_with(const std::string& fields) {
  return "GET /vector HTTP/1.1\r\nHost: example.com\r\n" + fields + "\r\n";
}

// One gateway and upstream for all the tests of this file run in one process (CTest runs each
// test in its own process, so each then gets its own).
struct SharedGateway {
  std::unique_ptr<UpstreamServer> upstream;
  std::unique_ptr<GatewayProcess> gateway;
  std::string start_error;
  size_t vectors_sent = 0;  // keeps vector tags unique across the tests sharing the upstream
};

SharedGateway& shared_gateway() {
  static SharedGateway shared;
  return shared;
}

class MalformedRequest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SharedGateway& shared = shared_gateway();
    shared.upstream = std::make_unique<UpstreamServer>();
    shared.upstream->set_handler([](const RecordedRequest& r, ResponseWriter& w) {
      w.respond(200, {}, "proxied " + r.target);
    });
    shared.gateway = std::make_unique<GatewayProcess>();
    GatewayConfig config;
    config.client_header_timeout = "2s";
    config.client_body_timeout = "2s";
    auto started = shared.gateway->start(proxy_options({shared.upstream->address()}, config));
    shared.start_error = started ? "" : started.message();
  }

  static void TearDownTestSuite() {
    SharedGateway& shared = shared_gateway();
    shared.gateway.reset();
    shared.upstream.reset();
  }

  void SetUp() override {
    if (!shared_gateway().start_error.empty()) {
      FAIL() << shared_gateway().start_error;
    }
  }

  struct Rules {
    bool close_after_error = false;  // an error status must be followed by closing (framing)
    bool body_streamed = false;      // the error is in the body: an aborted upstream head is fine
  };

  // Runs every vector; failures name the vector. With APISIX_TEST_VERBOSE set, prints each
  // vector's outcome.
  void run(const std::vector<Vector>& vectors, Rules rules) {
    const bool verbose = std::getenv("APISIX_TEST_VERBOSE") != nullptr;
    std::vector<int> outcomes;
    std::vector<std::string> tags;
    for (const auto& v : vectors) {
      tags.push_back("/vector-" + std::to_string(++shared_gateway().vectors_sent));
      int outcome = 0;
      std::string problem = check(v, tags.back(), rules, outcome);
      outcomes.push_back(outcome);
      if (verbose) {
        std::printf("  %-52s -> %s\n", v.name.c_str(),
                    problem.empty() ? describe_outcome(outcome).c_str() : "FAILED");
      }
      if (!problem.empty()) {
        ADD_FAILURE() << "vector \"" << v.name << "\": " << problem;
      }
    }
    // What reached the upstream, attributed through each vector's target. Checked once all
    // vectors ran, so that a head forwarded late is still counted for its vector.
    auto requests = shared_gateway().upstream->requests();
    for (size_t i = 0; i < vectors.size(); ++i) {
      size_t complete = 0;
      std::string problem;
      for (const auto& r : requests) {
        if (r.target != tags[i]) {
          continue;
        }
        if (r.complete && r.error.empty()) {
          ++complete;
        } else if (!(aborted_midway(r) && rules.body_streamed && outcomes[i] != kProxied)) {
          problem += "\nupstream received a broken request (" + r.error + "):\n" + r.raw_head;
        }
      }
      const size_t expected = outcomes[i] == kProxied ? 1 : 0;
      if (complete != expected) {
        problem += "\nupstream received " + std::to_string(complete) +
                   " complete requests, expected " + std::to_string(expected);
      }
      if (!problem.empty()) {
        ADD_FAILURE() << "vector \"" << vectors[i].name << "\": " << problem;
      }
    }
    for (const auto& r : requests) {
      bool known =
          r.target == "/warm-up" || r.target == "/after" || r.target.rfind("/vector-", 0) == 0;
      EXPECT_TRUE(known) << "a request no vector asked for reached the upstream:\n" << r.raw_head;
      EXPECT_EQ(r.target.find("smuggled"), std::string::npos)
          << "a smuggled request reached the upstream:\n"
          << r.raw_head;
    }
  }

 private:
  // True for a request the upstream saw only in part because the gateway cut it off.
  static bool aborted_midway(const RecordedRequest& r) {
    return !r.complete && r.error.rfind("reading request body", 0) == 0;
  }

  // Sends one vector (its "/vector" target replaced by `tag`) and checks the response, the
  // connection and that the gateway still serves. Sets `outcome`.
  std::string check(const Vector& v, const std::string& tag, Rules rules, int& outcome) {
    const uint16_t port = shared_gateway().gateway->http_port();
    HttpResponse warm = http_get(port, "/warm-up");
    if (!warm.ok() || warm.status != 200) {
      return "warm-up request failed: " + warm.describe();
    }
    std::string bytes = v.bytes;
    for (size_t at = bytes.find("/vector"); at != std::string::npos;
         at = bytes.find("/vector", at + tag.size())) {
      bytes.replace(at, 7, tag);
    }

    RawClient client(port);
    if (!client.connected()) {
      return "cannot connect: errno " + std::to_string(client.connect_errno());
    }
    client.send(bytes, 5s);  // the gateway may stop reading early; the response matters
    ReadOptions read;
    read.timeout = 5s;
    HttpResponse resp = client.read_response(read);
    if (resp.ok()) {
      outcome = resp.status;
    } else if (resp.closed_before_response) {
      outcome = kClose;
    } else {
      return "expected " + describe_accept(v.accept) +
             ", got no usable response: " + resp.describe();
    }
    std::string problem;
    if (std::find(v.accept.begin(), v.accept.end(), outcome) == v.accept.end()) {
      problem = "expected " + describe_accept(v.accept) + ", got " + describe_outcome(outcome) +
                (resp.ok() ? "\n" + resp.describe() : "");
    }
    if (outcome >= 400 && rules.close_after_error && problem.empty() && !client.wait_closed(3s)) {
      problem = "connection left open after " + std::to_string(outcome) +
                " for a framing error (RFC 9112 §6.3 requires closing it)";
    }
    if (outcome == kProxied) {
      client.is_closed_by_peer();  // collects any bytes that arrived after the response
    }
    if (!client.unexpected_bytes().empty()) {
      problem += "\nunexpected extra bytes after the response: " +
                 client.unexpected_bytes().substr(0, 300);
    }
    client.close();

    HttpResponse after = http_get(port, "/after");
    if (!after.ok() || after.status != 200) {
      problem += "\ngateway no longer serves after this vector: " + after.describe();
    }
    return problem;
  }
};

TEST_F(MalformedRequest, SmugglingVectorsAreRejected) {
  run(
      {
          {"CL.TE: Content-Length and chunked",
           post_head("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n" +
               kSmuggled,
           {400}},
          {"TE.CL: chunked then Content-Length",
           post_head("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n") + "2c\r\n" + kSmuggled +
               "\r\n0\r\n\r\n",
           {400}},
          {"TE xchunked with Content-Length",
           post_head("Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n") + "hello" + kSmuggled,
           {400, 501}},
          {"TE xchunked alone",
           post_head("Transfer-Encoding: xchunked\r\n") + kChunkedHello,
           {400, 501}},
          {"TE 'chunked, identity'",
           post_head("Transfer-Encoding: chunked, identity\r\n") + kChunkedHello,
           {400, 501}},
          {"TE 'identity, chunked'",
           post_head("Transfer-Encoding: identity, chunked\r\n") + kChunkedHello,
           {400, 501}},
          {"TE 'chunked, chunked'",
           post_head("Transfer-Encoding: chunked, chunked\r\n") + kChunkedHello,
           {400, 501}},
          {"space before colon in Transfer-Encoding",
           post_head("Transfer-Encoding : chunked\r\nContent-Length: 5\r\n") + "0\r\n\r\n" +
               kSmuggled,
           {400}},
          {"two TE fields: chunked and x",
           post_head("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n") + kChunkedHello,
           {400, 501}},
          {"obs-fold continuation of Transfer-Encoding",
           post_head("Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n") + "0\r\n\r\n" +
               kSmuggled,
           {400}},
          {"line starting with space before TE",
           post_head("Content-Length: 5\r\n Transfer-Encoding: chunked\r\n") + "0\r\n\r\n" +
               kSmuggled,
           {400}},
          {"vertical tab before chunked",
           post_head("Transfer-Encoding:\x0b"
                     "chunked\r\nContent-Length: 5\r\n") +
               "0\r\n\r\n" + kSmuggled,
           {400, 501}},
          {"TE in HTTP/1.0",
           post_head("Transfer-Encoding: chunked\r\n", "HTTP/1.0") + kChunkedHello,
           {400}},
          {"TE gzip", post_head("Transfer-Encoding: gzip\r\n") + "hello", {501}},
          {"TE 'gzip, chunked'",
           post_head("Transfer-Encoding: gzip, chunked\r\n") + kChunkedHello,
           {400, 501}},
          // Legitimate spellings: accepted and proxied as one request.
          {"tab after colon in TE (valid)",
           post_head("Transfer-Encoding:\tchunked\r\n") + kChunkedHello,
           {kProxied}},
          {"lowercase field name Transfer-encoding (valid)",
           post_head("Transfer-encoding: chunked\r\n") + kChunkedHello,
           {kProxied}},
          {"uppercase CHUNKED (valid)",
           post_head("Transfer-Encoding: CHUNKED\r\n") + kChunkedHello,
           {kProxied}},
          {"body of GET carries a request (valid, one request)",
           "GET /vector HTTP/1.1\r\nHost: example.com\r\nContent-Length: " +
               std::to_string(std::strlen(kSmuggled)) + "\r\n\r\n" + kSmuggled,
           {kProxied}},
      },
      {.close_after_error = true});
}

TEST_F(MalformedRequest, BadContentLengthIsRejected) {
  run(
      {
          {"two differing Content-Length",
           post_head("Content-Length: 5\r\nContent-Length: 6\r\n") + "hello!",
           {400}},
          {"two equal Content-Length",
           post_head("Content-Length: 5\r\nContent-Length: 5\r\n") + "hello",
           {400, kProxied}},
          {"Content-Length list '5, 5'",
           post_head("Content-Length: 5, 5\r\n") + "hello",
           {400, kProxied}},
          {"Content-Length list '5, 6'", post_head("Content-Length: 5, 6\r\n") + "hello!", {400}},
          {"Content-Length +5", post_head("Content-Length: +5\r\n") + "hello", {400}},
          {"Content-Length -1", post_head("Content-Length: -1\r\n") + "hello", {400}},
          {"Content-Length hex 0x5", post_head("Content-Length: 0x5\r\n") + "hello", {400}},
          {"Content-Length overflow",
           post_head("Content-Length: 99999999999999999999999\r\n") + "hello",
           {400, 413}},
          {"Content-Length empty", post_head("Content-Length: \r\n") + "hello", {400}},
          {"Content-Length '5 5'", post_head("Content-Length: 5 5\r\n") + "hello", {400}},
          {"Content-Length '5abc'", post_head("Content-Length: 5abc\r\n") + "hello", {400}},
          {"Content-Length 1e3", post_head("Content-Length: 1e3\r\n") + "hello", {400}},
      },
      {.close_after_error = true});
}

TEST_F(MalformedRequest, BadChunkedBodiesAreRejected) {
  run(
      {
          {"chunk size 0x5", chunked("0x5\r\nhello\r\n0\r\n\r\n"), {400}},
          {"chunk size -5", chunked("-5\r\nhello\r\n0\r\n\r\n"), {400}},
          {"chunk size overflow",
           chunked("ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
           {400, 413}},
          {"chunk size not hex", chunked("g\r\nhello\r\n0\r\n\r\n"), {400}},
          {"chunk size missing", chunked("\r\nhello\r\n0\r\n\r\n"), {400}},
          {"chunk size with trailing space", chunked("5 \r\nhello\r\n0\r\n\r\n"), {400, kProxied}},
          {"chunk data not followed by CRLF", chunked("5\r\nhelloXX0\r\n\r\n"), {400}},
          {"chunk data longer than its size", chunked("3\r\nhello\r\n0\r\n\r\n"), {400}},
          {"bare LF chunk lines", chunked("5\nhello\n0\n\n"), {400}},
          {"bare LF inside chunk extension", chunked("5;ext\nhello\r\n0\r\n\r\n"), {400}},
          {"chunk extension (valid)", chunked("5;name=value\r\nhello\r\n0\r\n\r\n"), {kProxied}},
          {"chunk size with leading zeros (valid)",
           chunked("0005\r\nhello\r\n0000\r\n\r\n"),
           {kProxied}},
      },
      {.close_after_error = true, .body_streamed = true});
}

TEST_F(MalformedRequest, BadRequestLinesAreRejected) {
  run(
      {
          {"HTTP/2.0", "GET /vector HTTP/2.0\r\nHost: example.com\r\n\r\n"s, {505}},
          {"HTTP/3.0", "GET /vector HTTP/3.0\r\nHost: example.com\r\n\r\n"s, {505}},
          {"HTTP/1.2", "GET /vector HTTP/1.2\r\nHost: example.com\r\n\r\n"s, {kProxied, 505}},
          {"version with suffix HTTP/1.1x",
           "GET /vector HTTP/1.1x\r\nHost: example.com\r\n\r\n"s,
           {400}},
          {"lowercase http/1.1", "GET /vector http/1.1\r\nHost: example.com\r\n\r\n"s, {400}},
          {"version HTTP/1", "GET /vector HTTP/1\r\nHost: example.com\r\n\r\n"s, {400}},
          {"version HTTP/1.1.1", "GET /vector HTTP/1.1.1\r\nHost: example.com\r\n\r\n"s, {400}},
          {"missing version", "GET /vector\r\nHost: example.com\r\n\r\n"s, {400, kClose}},
          {"method only", "GET\r\nHost: example.com\r\n\r\n"s, {400, kClose}},
          {"extra spaces between parts",
           "GET  /vector  HTTP/1.1\r\nHost: example.com\r\n\r\n"s,
           {400, kProxied}},
          {"method G@T", "G@T /vector HTTP/1.1\r\nHost: example.com\r\n\r\n"s, {400}},
          {"tab after method", "GET\t/vector HTTP/1.1\r\nHost: example.com\r\n\r\n"s, {400}},
          {"leading space before method",
           " GET /vector HTTP/1.1\r\nHost: example.com\r\n\r\n"s,
           {400}},
          {"NUL in target", "GET /a\0b HTTP/1.1\r\nHost: example.com\r\n\r\n"s, {400}},
          {"space in target", "GET /a b HTTP/1.1\r\nHost: example.com\r\n\r\n"s, {400}},
          {"DEL in target",
           "GET /a\x7f"
           "b HTTP/1.1\r\nHost: example.com\r\n\r\n"s,
           {400}},
          {"target without leading slash", "GET a/b HTTP/1.1\r\nHost: example.com\r\n\r\n"s, {400}},
          {"bare CR line endings",
           "GET /vector HTTP/1.1\rHost: example.com\r\r\n\r\n"s,
           {400, kClose}},
          {"bare LF line endings", "GET /vector HTTP/1.1\nHost: example.com\n\n"s, {400, kProxied}},
          {"empty line before request line",
           "\r\nGET /vector HTTP/1.1\r\nHost: example.com\r\n\r\n"s,
           {400, kProxied}},
          {"CONNECT is not tunnelled",
           "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"s,
           {400, 404, 405, 501}},
      },
      {});
}

TEST_F(MalformedRequest, BadHeaderFieldsAreRejected) {
  run(
      {
          {"space in field name", get_with("Bad Name: x\r\n"), {400}},
          {"space before colon", get_with("X-Foo : x\r\n"), {400}},
          {"tab before colon", get_with("X-Foo\t: x\r\n"), {400}},
          {"field without colon", get_with("NoColon\r\n"), {400}},
          {"empty field name", get_with(": value\r\n"), {400}},
          {"obs-fold continuation line", get_with("X-Foo: a\r\n b\r\n"), {400}},
          {"CR inside value", get_with("X-Foo: a\rb\r\n"), {400}},
          {"NUL inside value", get_with("X-Foo: a\0b\r\n"s), {400}},
          {"LF inside value", get_with("X-Foo: a\nX-Injected: b\r\n"), {400, kProxied}},
          {"non-ASCII in field name", get_with("X-F\xf6o: x\r\n"), {400}},
          {"control character in field name",
           get_with("X-\x01"
                    "Foo: x\r\n"),
           {400}},
          {"obs-text in value (valid)", get_with("X-Foo: caf\xe9\r\n"), {kProxied}},
          {"missing Host in HTTP/1.1", "GET /vector HTTP/1.1\r\nX-A: b\r\n\r\n"s, {400}},
          {"two Host fields",
           "GET /vector HTTP/1.1\r\nHost: a.example.com\r\nHost: b.example.com\r\n\r\n"s,
           {400}},
          {"Host with space", "GET /vector HTTP/1.1\r\nHost: exa mple.com\r\n\r\n"s, {400}},
          {"Host with slash", "GET /vector HTTP/1.1\r\nHost: example.com/evil\r\n\r\n"s, {400}},
          {"missing Host in HTTP/1.0 (valid)", "GET /vector HTTP/1.0\r\n\r\n"s, {kProxied}},
          {"IPv6 literal Host (valid)",
           "GET /vector HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"s,
           {kProxied}},
      },
      {});
}

TEST_F(MalformedRequest, OversizedRequestsAreRejected) {
  Headers many{{"Host", "example.com"}};
  for (int i = 0; i < 5000; ++i) {
    many.add("X-H" + std::to_string(i), "v");
  }
  run(
      {
          {"URI over 8 KiB", make_request("GET", "/" + std::string(9000, 'u')), {414}},
          {"one 64 KiB field", get_with("X-Big: " + std::string(65536, 'b') + "\r\n"), {431, 400}},
          {"5000 fields", make_request("GET", "/vector", many), {431, 400}},
          {"method of 10 KiB",
           std::string(10240, 'G') + " /vector HTTP/1.1\r\nHost: example.com\r\n\r\n",
           {400, 414, 501}},
      },
      {});
}

}  // namespace
}  // namespace apisix::test
