// etcd-only behaviour of EtcdStore (core.md §1.3 deployment.etcd.*, §2.3): endpoint failover,
// user/password authentication, TLS (verification, SNI, client certificates), configuration
// errors.

#include <functional>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/temp_dir.h"
#include "tests/harness/test_certs.h"
#include "tests/store/store_fixture.h"

namespace apisix::test {
namespace {

// An address nothing listens on: a port bound and closed again.
std::string dead_url() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

TEST(EtcdStore, FailsOverToTheNextEndpointWhenConnectFails) {
  EtcdServer etcd;
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  LoopThread lt;
  std::unique_ptr<store::EtcdStore> s;
  lt.invoke([&] {
    store::EtcdOptions options;
    options.hosts = {dead_url(), etcd.client_url()};
    s = std::move(store::EtcdStore::create(lt.loop(), options).value());
  });
  auto put = lt.run([&] { return s->put("/apisix/routes/1", "{}", {}); });
  ASSERT_TRUE(put) << put.error().context;
  EXPECT_EQ(s->current_endpoint(), etcd.client_url());
  auto w = lt.run([&] { return s->watch("/apisix/", 0); });
  ASSERT_TRUE(w) << w.error().context;
  lt.invoke([&] {
    w->reset();
    s.reset();
  });
}

TEST(EtcdStore, NoReachableEndpointIsARetryableError) {
  LoopThread lt;
  std::unique_ptr<store::EtcdStore> s;
  lt.invoke([&] {
    store::EtcdOptions options;
    options.hosts = {dead_url(), dead_url()};
    options.timeout = std::chrono::seconds(5);
    s = std::move(store::EtcdStore::create(lt.loop(), options).value());
  });
  auto got = lt.run([&] { return s->get("/apisix/routes/1"); });
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().retryable);
  EXPECT_NE(got.error().context.find("no etcd endpoint reachable"), std::string::npos)
      << got.error().context;
  lt.invoke([&] { s.reset(); });
}

TEST(EtcdStore, AuthenticatesWithUserAndPassword) {
  EtcdServer etcd;
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  ASSERT_TRUE(etcd.enable_auth("root", "s3cret"));
  LoopThread lt;
  std::unique_ptr<store::EtcdStore> anonymous;
  std::unique_ptr<store::EtcdStore> authed;
  lt.invoke([&] {
    store::EtcdOptions options;
    options.hosts = {etcd.client_url()};
    anonymous = std::move(store::EtcdStore::create(lt.loop(), options).value());
    options.user = "root";
    options.password = "s3cret";
    authed = std::move(store::EtcdStore::create(lt.loop(), options).value());
  });
  auto denied = lt.run([&] { return anonymous->put("/apisix/routes/1", "{}", {}); });
  EXPECT_FALSE(denied);
  auto put = lt.run([&] { return authed->put("/apisix/routes/1", R"({"a":1})", {}); });
  ASSERT_TRUE(put) << put.error().context;
  auto w = lt.run([&] { return authed->watch("/apisix/", put->revision); });
  ASSERT_TRUE(w) << w.error().context;
  auto deadline = core::Clock::now() + scaled(std::chrono::seconds(10));
  auto batch = lt.run([&] { return (*w)->next(deadline); });
  ASSERT_TRUE(batch) << batch.error().context;
  ASSERT_EQ(batch->events.size(), 1u);
  EXPECT_EQ(batch->events[0].kv.value, R"({"a":1})");
  lt.invoke([&] {
    w->reset();
    anonymous.reset();
    authed.reset();
  });
}

TEST(EtcdStore, RejectsBadEndpointConfiguration) {
  core::Loop loop;
  store::EtcdOptions options;
  EXPECT_FALSE(store::EtcdStore::create(loop, options));
  options.hosts = {"127.0.0.1:2379"};
  EXPECT_FALSE(store::EtcdStore::create(loop, options));
  options.hosts = {"http://[::1]:2379", "http://localhost:2379/"};
  EXPECT_TRUE(store::EtcdStore::create(loop, options));
}

TEST(EtcdStore, RejectsBadTlsConfiguration) {
  TempDir dir("apisix-etcd-tls-");
  core::Loop loop;
  store::EtcdOptions options;
  options.hosts = {"https://127.0.0.1:2379"};
  EXPECT_TRUE(store::EtcdStore::create(loop, options));  // the system CA store

  options.ca_file = (dir.path() / "missing.crt").string();
  auto no_ca = store::EtcdStore::create(loop, options);
  ASSERT_FALSE(no_ca);
  EXPECT_EQ(no_ca.error().source, ErrorSource::Config);
  EXPECT_NE(no_ca.error().context.find("apisix.ssl.ssl_trusted_certificate"), std::string::npos)
      << no_ca.error().context;
  options.tls_verify = false;  // the CA is not even read then
  EXPECT_TRUE(store::EtcdStore::create(loop, options));

  CertRequest request;
  request.common_name = "client";
  request.client_auth = true;
  TestCert cert = make_cert(request);
  write_cert_files(cert, dir.path(), "client");
  options.cert_file = cert.cert_file.string();
  auto no_key = store::EtcdStore::create(loop, options);
  ASSERT_FALSE(no_key);
  EXPECT_NE(no_key.error().context.find("deployment.etcd.tls.key"), std::string::npos)
      << no_key.error().context;
  options.key_file = (dir.path() / "missing.key").string();
  auto missing_key = store::EtcdStore::create(loop, options);
  ASSERT_FALSE(missing_key);
  EXPECT_NE(missing_key.error().context.find("deployment.etcd.tls.key: cannot open"),
            std::string::npos)
      << missing_key.error().context;
  options.key_file = cert.cert_file.string();  // not a key
  EXPECT_FALSE(store::EtcdStore::create(loop, options));
  options.key_file = cert.key_file.string();
  EXPECT_TRUE(store::EtcdStore::create(loop, options));
  // Plain endpoints need none of it.
  options.hosts = {"http://127.0.0.1:2379"};
  options.cert_file = (dir.path() / "missing.crt").string();
  EXPECT_TRUE(store::EtcdStore::create(loop, options));
}

// A store on `lt` for `etcd` over TLS; `adjust` changes the options first.
std::unique_ptr<store::EtcdStore> tls_store(LoopThread& lt, const EtcdServer& etcd,
                                            std::function<void(store::EtcdOptions&)> adjust) {
  std::unique_ptr<store::EtcdStore> s;
  lt.invoke([&] {
    store::EtcdOptions options;
    options.hosts = {etcd.client_url()};
    options.timeout = scaled(std::chrono::seconds(10));
    options.ca_file = etcd.tls_certs().ca.cert_file.string();
    adjust(options);
    auto made = store::EtcdStore::create(lt.loop(), options);
    ASSERT_TRUE(made) << made.error().context;
    s = std::move(made.value());
  });
  return s;
}

TEST(EtcdStoreTls, PutGetListAndWatchOverTls) {
  EtcdServer etcd(EtcdServerOptions{.tls = true});
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  ASSERT_EQ(etcd.client_url().substr(0, 8), "https://");
  LoopThread lt;
  auto s = tls_store(lt, etcd, [](store::EtcdOptions&) {});
  ASSERT_TRUE(s);

  auto first = lt.run([&] { return s->put("/apisix/routes/1", R"({"uri":"/a"})", {}); });
  ASSERT_TRUE(first) << first.error().context;
  EXPECT_EQ(s->current_endpoint(), etcd.client_url());
  // Several calls in a row go over the kept-alive TLS connection.
  auto second = lt.run([&] { return s->put("/apisix/routes/1", R"({"uri":"/b"})", {}); });
  ASSERT_TRUE(second) << second.error().context;
  ASSERT_TRUE(second->prev.has_value());
  EXPECT_EQ(second->prev->value, R"({"uri":"/a"})");
  auto got = lt.run([&] { return s->get("/apisix/routes/1"); });
  ASSERT_TRUE(got && got->kv) << (got ? "absent" : got.error().context);
  EXPECT_EQ(got->kv->value, R"({"uri":"/b"})");
  EXPECT_EQ(got->kv->create_revision, first->revision);
  ASSERT_TRUE(lt.run([&] { return s->put("/apisix/services/s", "{}", {}); }));
  auto listed = lt.run([&] { return s->list("/apisix/"); });
  ASSERT_TRUE(listed) << listed.error().context;
  ASSERT_EQ(listed->items.size(), 2u);
  EXPECT_EQ(listed->items[0].key, "/apisix/routes/1");
  EXPECT_EQ(listed->items[1].key, "/apisix/services/s");
  auto conflict = lt.run(
      [&] { return s->put("/apisix/routes/1", "{}", {.expected_mod_revision = first->revision}); });
  ASSERT_TRUE(conflict) << conflict.error().context;
  EXPECT_TRUE(conflict->conflict());

  // The watch is a chunked stream over TLS: an idle wait times out and can be resumed, then
  // writes by this store and by another client arrive in order.
  auto w = lt.run([&] { return s->watch("/apisix/", listed->revision + 1); });
  ASSERT_TRUE(w) << w.error().context;
  auto soon = core::Clock::now() + std::chrono::milliseconds(300);
  auto idle = lt.run([&] { return (*w)->next(soon); });
  ASSERT_FALSE(idle);
  EXPECT_EQ(idle.error().kind, ErrorKind::Timeout) << idle.error().context;
  auto removed = lt.run([&] { return s->remove("/apisix/services/s", std::nullopt); });
  ASSERT_TRUE(removed) << removed.error().context;
  ASSERT_GT(etcd.put("/apisix/routes/2", R"({"uri":"/c"})"), 0);
  std::vector<store::Event> events;
  auto until = core::Clock::now() + scaled(std::chrono::seconds(10));
  while (events.size() < 2) {
    auto batch = lt.run([&] { return (*w)->next(until); });
    ASSERT_TRUE(batch) << batch.error().context;
    for (auto& e : batch->events) {
      events.push_back(std::move(e));
    }
  }
  EXPECT_EQ(events[0].type, store::EventType::Delete);
  EXPECT_EQ(events[0].kv.key, "/apisix/services/s");
  EXPECT_EQ(events[1].type, store::EventType::Put);
  EXPECT_EQ(events[1].kv.value, R"({"uri":"/c"})");
  lt.invoke([&] {
    w->reset();
    s.reset();
  });
}

TEST(EtcdStoreTls, WrongCaIsAClearError) {
  EtcdServer etcd(EtcdServerOptions{.tls = true});
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  LoopThread lt;
  auto wrong = tls_store(lt, etcd, [&](store::EtcdOptions& o) {
    o.ca_file = etcd.tls_certs().other_ca.cert_file.string();
  });
  auto system = tls_store(lt, etcd, [](store::EtcdOptions& o) { o.ca_file = "system"; });
  for (auto* s : {wrong.get(), system.get()}) {
    auto got = lt.run([&] { return s->get("/apisix/routes/1"); });
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().context.find("certificate verify failed"), std::string::npos)
        << got.error().context;
    auto w = lt.run([&] { return s->watch("/apisix/", 0); });
    EXPECT_FALSE(w);
  }
  lt.invoke([&] {
    wrong.reset();
    system.reset();
  });
}

TEST(EtcdStoreTls, VerifyOffAcceptsAnyCertificate) {
  EtcdServer etcd(EtcdServerOptions{.tls = true});
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  LoopThread lt;
  auto s = tls_store(lt, etcd, [&](store::EtcdOptions& o) {
    o.tls_verify = false;
    o.ca_file = etcd.tls_certs().other_ca.cert_file.string();
    o.sni = "not-the-server.example";
  });
  auto put = lt.run([&] { return s->put("/apisix/routes/1", "{}", {}); });
  ASSERT_TRUE(put) << put.error().context;
  EXPECT_EQ(etcd.get("/apisix/routes/1").value_or("absent"), "{}");
  lt.invoke([&] { s.reset(); });
}

TEST(EtcdStoreTls, SniNamesTheCertificateToExpect) {
  EtcdServer etcd(EtcdServerOptions{.tls = true});
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  LoopThread lt;
  // The URL's host (an IP) is checked against the certificate's IP names by default; tls.sni
  // replaces it, both as SNI and as the name to match.
  auto by_name = tls_store(lt, etcd, [](store::EtcdOptions& o) { o.sni = "localhost"; });
  auto wrong_name =
      tls_store(lt, etcd, [](store::EtcdOptions& o) { o.sni = "etcd.other.example"; });
  auto ok = lt.run([&] { return by_name->get("/apisix/routes/1"); });
  EXPECT_TRUE(ok) << ok.error().context;
  auto refused = lt.run([&] { return wrong_name->get("/apisix/routes/1"); });
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().context.find("etcd.other.example"), std::string::npos)
      << refused.error().context;
  lt.invoke([&] {
    by_name.reset();
    wrong_name.reset();
  });
}

TEST(EtcdStoreTls, ClientCertificateWhenEtcdRequiresOne) {
  EtcdServer etcd(EtcdServerOptions{.client_cert_auth = true});
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  LoopThread lt;
  auto anonymous = tls_store(lt, etcd, [](store::EtcdOptions&) {});
  auto with_cert = tls_store(lt, etcd, [&](store::EtcdOptions& o) {
    o.cert_file = etcd.tls_certs().client.cert_file.string();
    o.key_file = etcd.tls_certs().client.key_file.string();
  });
  auto denied = lt.run([&] { return anonymous->put("/apisix/routes/1", "{}", {}); });
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().context.find("TLS"), std::string::npos) << denied.error().context;
  EXPECT_FALSE(lt.run([&] { return anonymous->watch("/apisix/", 0); }));

  auto put = lt.run([&] { return with_cert->put("/apisix/routes/1", R"({"a":1})", {}); });
  ASSERT_TRUE(put) << put.error().context;
  auto w = lt.run([&] { return with_cert->watch("/apisix/", put->revision); });
  ASSERT_TRUE(w) << w.error().context;
  auto deadline = core::Clock::now() + scaled(std::chrono::seconds(10));
  auto batch = lt.run([&] { return (*w)->next(deadline); });
  ASSERT_TRUE(batch) << batch.error().context;
  ASSERT_EQ(batch->events.size(), 1u);
  EXPECT_EQ(batch->events[0].kv.value, R"({"a":1})");
  lt.invoke([&] {
    w->reset();
    anonymous.reset();
    with_cert.reset();
  });
}

}  // namespace
}  // namespace apisix::test
