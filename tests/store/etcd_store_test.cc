// etcd-only behaviour of EtcdStore (core.md §1.3 deployment.etcd.*, §2.3): endpoint failover,
// user/password authentication, configuration errors.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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
  options.hosts = {"https://127.0.0.1:2379"};
  auto tls = store::EtcdStore::create(loop, options);
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().kind, ErrorKind::Unsupported);
  options.hosts = {"http://[::1]:2379", "http://localhost:2379/"};
  EXPECT_TRUE(store::EtcdStore::create(loop, options));
}

}  // namespace
}  // namespace apisix::test
