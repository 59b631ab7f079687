// RedisClient (src/redis/client.h) against a real redis-server: commands, pipelining of
// concurrent coroutines on one connection, AUTH, SELECT, EVALSHA with its EVAL fallback,
// failures (server killed, silent listener, refused port), large replies, TLS, and the
// connection pool (apisix-compat plugins.md §3.2).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/socket.h"
#include "core/task.h"
#include "redis/client.h"
#include "tests/harness/loop_runner.h"
#include "tests/harness/redis_server.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_certs.h"
#include "tests/harness/wait.h"

namespace apisix::redis {
namespace {

using namespace std::chrono_literals;
using core::Loop;
using core::Task;

// Waits (on the loop, polling) until `done()` or `timeout` passes.
template <typename Pred>
Task<bool> wait_on_loop(Loop& loop, Pred done, std::chrono::milliseconds timeout = 10s) {
  auto limit = core::Clock::now() + test::scaled(timeout);
  while (!done()) {
    if (core::Clock::now() >= limit) {
      co_return false;
    }
    co_await loop.sleep_for(1ms);
  }
  co_return true;
}

// A command's arguments. (GCC 12 cannot keep a braced list of literals in a coroutine frame.)
template <typename... Args>
std::vector<std::string> cmd(Args&&... args) {
  return std::vector<std::string>{std::string(std::forward<Args>(args))...};
}

RedisOptions options_for(const test::RedisServer& server) {
  RedisOptions options;
  options.host = "127.0.0.1";
  options.port = server.port();
  options.timeout = test::scaled(5s);
  return options;
}

std::unique_ptr<RedisClient> make_client(Loop& loop, RedisOptions options) {
  auto made = RedisClient::create(loop, std::move(options));
  EXPECT_TRUE(made) << made.error().context;
  return made ? std::move(*made) : nullptr;
}

std::string describe(const Result<Reply>& r) {
  return r ? redis::describe(*r) : "error: " + r.error().context;
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()) << server_.error(); }
  test::RedisServer server_;
};

TEST_F(RedisClientTest, CommandsReturnTheServersReplies) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client = make_client(loop, options_for(server_));
    APISIX_CO_ASSERT(client);
    auto set = co_await client->command(cmd("SET", "greeting", "hello"));
    EXPECT_TRUE(set && *set == Reply::status("OK")) << describe(set);
    auto get = co_await client->command(cmd("GET", "greeting"));
    EXPECT_TRUE(get && *get == Reply::bulk("hello")) << describe(get);
    auto missing = co_await client->command(cmd("GET", "nothing"));
    EXPECT_TRUE(missing && missing->is_nil()) << describe(missing);
    auto incr = co_await client->command(cmd("INCRBY", "counter", "5"));
    EXPECT_TRUE(incr && *incr == Reply::integer_value(5)) << describe(incr);
    auto list = co_await client->command(cmd("RPUSH", "list", "a", "b"));
    auto range = co_await client->command(cmd("LRANGE", "list", "0", "-1"));
    EXPECT_TRUE(range && *range == Reply::array({Reply::bulk("a"), Reply::bulk("b")}))
        << describe(range);
    // A server-side error is a reply, not a failure: the connection stays usable.
    auto wrong = co_await client->command(cmd("INCR", "list"));
    APISIX_CO_ASSERT(wrong);
    EXPECT_TRUE(wrong->is_error());
    EXPECT_EQ(wrong->error_code(), "WRONGTYPE");
    auto binary = std::string("a\0\r\nb", 5);
    auto set_binary = co_await client->command(cmd("SET", "bin", binary));
    auto get_binary = co_await client->command(cmd("GET", "bin"));
    EXPECT_TRUE(get_binary && get_binary->str == binary) << describe(get_binary);
    EXPECT_EQ(client->connects_for_test(), 1u);
    EXPECT_TRUE(list && set_binary);
  });
}

TEST_F(RedisClientTest, ConcurrentCommandsArePipelinedOnOneConnection) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    RedisOptions options = options_for(server_);
    options.keepalive_pool = 1;
    auto client = make_client(loop, options);
    APISIX_CO_ASSERT(client);
    constexpr int kCoroutines = 400;
    int finished = 0;
    int mismatched = 0;
    auto worker = [&](int i) -> Task<void> {
      std::string key = "key:" + std::to_string(i);
      std::string value = "value-" + std::to_string(i) + std::string(i % 7 * 100, 'x');
      auto set = co_await client->command(cmd("SET", key, value));
      auto incr = co_await client->command(cmd("INCR", "shared"));
      auto get = co_await client->command(cmd("GET", key));
      if (!set || !incr || !get || get->str != value || incr->type != ReplyType::Integer) {
        ++mismatched;
      }
      ++finished;
    };
    for (int i = 0; i < kCoroutines; ++i) {
      core::spawn(worker(i));
    }
    EXPECT_TRUE(co_await wait_on_loop(loop, [&] { return finished == kCoroutines; }));
    EXPECT_EQ(mismatched, 0);
    auto shared = co_await client->command(cmd("GET", "shared"));
    EXPECT_TRUE(shared && shared->str == std::to_string(kCoroutines)) << describe(shared);
    EXPECT_EQ(client->connects_for_test(), 1u);
    EXPECT_EQ(client->connection_count(), 1u);
  });
}

TEST_F(RedisClientTest, ABusyConnectionSpillsIntoThePool) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    RedisOptions options = options_for(server_);
    options.keepalive_pool = 4;
    options.max_pipeline = 8;
    auto client = make_client(loop, options);
    APISIX_CO_ASSERT(client);
    int finished = 0;
    int failed = 0;
    auto worker = [&](int i) -> Task<void> {
      auto reply = co_await client->command(cmd("INCR", "n"));
      failed += reply && reply->type == ReplyType::Integer ? 0 : 1;
      ++finished;
    };
    for (int i = 0; i < 200; ++i) {
      core::spawn(worker(i));
    }
    EXPECT_TRUE(co_await wait_on_loop(loop, [&] { return finished == 200; }));
    EXPECT_EQ(failed, 0);
    EXPECT_GT(client->connects_for_test(), 1u);
    EXPECT_LE(client->connection_count(), 4u);
    auto n = co_await client->command(cmd("GET", "n"));
    EXPECT_TRUE(n && n->str == "200") << describe(n);
  });
}

TEST_F(RedisClientTest, EvalshaFallsBackToEvalOnNoscriptThenHits) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client = make_client(loop, options_for(server_));
    APISIX_CO_ASSERT(client);
    Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    EXPECT_EQ(script.sha1().size(), 40u);
    auto flushed = co_await client->command(cmd("SCRIPT", "FLUSH"));
    EXPECT_TRUE(flushed);
    auto reset = co_await client->command(cmd("CONFIG", "RESETSTAT"));
    EXPECT_TRUE(reset);
    auto first = co_await client->eval_script(script, cmd("hits"), cmd("3"));
    EXPECT_TRUE(first && *first == Reply::integer_value(3)) << describe(first);
    auto exists = co_await client->command(cmd("SCRIPT", "EXISTS", script.sha1()));
    EXPECT_TRUE(exists && *exists == Reply::array({Reply::integer_value(1)})) << describe(exists);
    auto second = co_await client->eval_script(script, cmd("hits"), cmd("4"));
    EXPECT_TRUE(second && *second == Reply::integer_value(7)) << describe(second);
    // Two EVALSHA calls (a miss, then a hit) and one EVAL.
    EXPECT_EQ(server_.info_field("commandstats", "cmdstat_evalsha").substr(0, 8), "calls=2,");
    EXPECT_EQ(server_.info_field("commandstats", "cmdstat_eval").substr(0, 8), "calls=1,");
    // A script error is a reply too.
    Script broken("return redis.call('NOSUCHCOMMAND')");
    auto failed = co_await client->eval_script(broken, cmd(), cmd());
    EXPECT_TRUE(failed && failed->is_error()) << describe(failed);
  });
}

TEST_F(RedisClientTest, SelectPicksTheDatabase) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    RedisOptions in_three = options_for(server_);
    in_three.database = 3;
    auto three = make_client(loop, in_three);
    auto zero = make_client(loop, options_for(server_));
    APISIX_CO_ASSERT(three && zero);
    auto set = co_await three->command(cmd("SET", "where", "three"));
    EXPECT_TRUE(set && *set == Reply::status("OK")) << describe(set);
    auto from_zero = co_await zero->command(cmd("GET", "where"));
    EXPECT_TRUE(from_zero && from_zero->is_nil()) << describe(from_zero);
    auto from_three = co_await three->command(cmd("GET", "where"));
    EXPECT_TRUE(from_three && from_three->str == "three") << describe(from_three);

    RedisOptions bad = options_for(server_);
    bad.database = 99;  // the server has 16
    auto out_of_range = make_client(loop, bad);
    auto refused = co_await out_of_range->command(cmd("SET", "where", "nowhere"));
    APISIX_CO_ASSERT(!refused);
    EXPECT_EQ(refused.error().kind, ErrorKind::Invalid);
    EXPECT_FALSE(refused.error().retryable);
    EXPECT_NE(refused.error().context.find("SELECT 99 failed"), std::string::npos)
        << refused.error().context;
    auto still_nothing = co_await zero->command(cmd("GET", "where"));
    EXPECT_TRUE(still_nothing && still_nothing->is_nil()) << describe(still_nothing);
  });
}

TEST(RedisClientAuth, PasswordIsSentOnNewConnections) {
  test::RedisServerOptions server_options;
  server_options.password = "s3cret";
  test::RedisServer server(server_options);
  ASSERT_TRUE(server.ok()) << server.error();
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    RedisOptions good = options_for(server);
    good.password = "s3cret";
    auto client = make_client(loop, good);
    auto pong = co_await client->command(cmd("PING"));
    EXPECT_TRUE(pong && *pong == Reply::status("PONG")) << describe(pong);

    RedisOptions with_user = good;
    with_user.username = "default";  // AUTH <username> <password>
    auto user_client = make_client(loop, with_user);
    auto user_pong = co_await user_client->command(cmd("PING"));
    EXPECT_TRUE(user_pong && *user_pong == Reply::status("PONG")) << describe(user_pong);

    RedisOptions wrong = good;
    wrong.password = "guess";
    auto wrong_client = make_client(loop, wrong);
    auto denied = co_await wrong_client->command(cmd("PING"));
    APISIX_CO_ASSERT(!denied);
    EXPECT_EQ(denied.error().kind, ErrorKind::Invalid);
    EXPECT_FALSE(denied.error().retryable);
    EXPECT_NE(denied.error().context.find("AUTH failed: WRONGPASS"), std::string::npos)
        << denied.error().context;
    EXPECT_EQ(wrong_client->connection_count(), 0u);

    auto anonymous = make_client(loop, options_for(server));
    auto noauth = co_await anonymous->command(cmd("GET", "x"));
    EXPECT_TRUE(noauth && noauth->error_code() == "NOAUTH") << describe(noauth);
  });
}

TEST_F(RedisClientTest, ServerKilledMidCommandFailsThenReconnectsAfterRestart) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client = make_client(loop, options_for(server_));
    APISIX_CO_ASSERT(client);
    auto pong = co_await client->command(cmd("PING"));
    APISIX_CO_ASSERT(pong);
    std::optional<Result<Reply>> blocked;
    std::optional<Result<Reply>> queued;
    auto pop = [&]() -> Task<void> { blocked = co_await client->command(cmd("BLPOP", "q", "0")); };
    auto behind = [&]() -> Task<void> { queued = co_await client->command(cmd("GET", "k")); };
    core::spawn(pop());
    core::spawn(behind());  // pipelined behind the blocked BLPOP
    bool is_blocked = co_await wait_on_loop(
        loop, [&] { return server_.info_field("clients", "blocked_clients") == "1"; });
    APISIX_CO_ASSERT(is_blocked);
    EXPECT_FALSE(blocked.has_value());
    server_.stop();
    co_await wait_on_loop(loop, [&] { return blocked.has_value() && queued.has_value(); });
    APISIX_CO_ASSERT(blocked.has_value() && queued.has_value());
    for (auto* failed : {&*blocked, &*queued}) {
      APISIX_CO_ASSERT(!*failed);
      EXPECT_EQ(failed->error().kind, ErrorKind::Refused) << failed->error().context;
      EXPECT_TRUE(failed->error().retryable);
      EXPECT_EQ(failed->error().source, ErrorSource::Upstream);
    }
    auto refused = co_await client->command(cmd("PING"));
    APISIX_CO_ASSERT(!refused);
    EXPECT_EQ(refused.error().kind, ErrorKind::Refused) << refused.error().context;
    EXPECT_TRUE(refused.error().retryable);

    APISIX_CO_ASSERT(server_.restart());
    auto again = co_await client->command(cmd("PING"));
    EXPECT_TRUE(again && *again == Reply::status("PONG")) << describe(again);
    EXPECT_EQ(client->connection_count(), 1u);
  });
}

TEST_F(RedisClientTest, AConnectionTheServerDroppedIsReplaced) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client = make_client(loop, options_for(server_));
    auto first = co_await client->command(cmd("PING"));
    APISIX_CO_ASSERT(first);
    EXPECT_EQ(server_.command(cmd("CLIENT", "KILL", "TYPE", "normal")).substr(0, 1), ":");
    // The close reaches us asynchronously: a command either notices it before sending
    // (reconnects) or fails with a retryable error; the next one works either way.
    auto second = co_await client->command(cmd("PING"));
    if (!second) {
      EXPECT_TRUE(second.error().retryable) << second.error().context;
      second = co_await client->command(cmd("PING"));
    }
    EXPECT_TRUE(second && *second == Reply::status("PONG")) << describe(second);
    EXPECT_EQ(client->connects_for_test(), 2u);
  });
}

TEST_F(RedisClientTest, IdleConnectionsCloseAfterKeepaliveTimeout) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    RedisOptions options = options_for(server_);
    options.keepalive_timeout = 50ms;
    auto client = make_client(loop, options);
    auto first = co_await client->command(cmd("PING"));
    APISIX_CO_ASSERT(first);
    EXPECT_EQ(client->close_idle(), 1u);
    // Idleness is the condition under test: let the keep-alive time pass.
    bool closed = co_await wait_on_loop(loop, [&] { return client->close_idle() == 0; });
    EXPECT_TRUE(closed);
    auto second = co_await client->command(cmd("PING"));
    EXPECT_TRUE(second) << describe(second);
    EXPECT_EQ(client->connects_for_test(), 2u);
  });
}

// A listener that accepts connections (the kernel's backlog does) but never reads or answers.
class SilentListener {
 public:
  SilentListener() {
    core::Endpoint ep;
    core::Endpoint::parse("127.0.0.1", 0, ep);
    auto fd = core::listen_tcp(ep, false, 16);
    fd_ = fd ? *fd : -1;
    port_ = fd_ >= 0 ? core::bound_port(fd_) : 0;
  }
  ~SilentListener() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

TEST(RedisClientTimeout, ASilentServerTimesOutCommandsAndHandshakes) {
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    RedisOptions options;
    options.port = silent.port();
    options.timeout = 200ms;
    auto client = make_client(loop, options);
    auto started = core::Clock::now();
    int finished = 0;
    std::vector<Result<Reply>> results;
    auto one = [&]() -> Task<void> {
      results.push_back(co_await client->command(cmd("PING")));
      ++finished;
    };
    for (int i = 0; i < 3; ++i) {
      core::spawn(one());  // pipelined on one connection; all time out together
    }
    co_await wait_on_loop(loop, [&] { return finished == 3; });
    auto took = core::Clock::now() - started;
    for (const auto& r : results) {
      APISIX_CO_ASSERT(!r);
      EXPECT_EQ(r.error().kind, ErrorKind::Timeout) << r.error().context;
      EXPECT_TRUE(r.error().retryable);
    }
    EXPECT_GE(took, 150ms);
    EXPECT_LT(took, test::scaled(3s));
    EXPECT_EQ(client->connects_for_test(), 1u);

    options.password = "pw";  // AUTH is what times out now, while opening
    auto auth_client = make_client(loop, options);
    int auth_finished = 0;
    std::vector<Result<Reply>> auth_results;
    auto auth_one = [&]() -> Task<void> {
      auth_results.push_back(co_await auth_client->command(cmd("PING")));
      ++auth_finished;
    };
    for (int i = 0; i < 3; ++i) {
      core::spawn(auth_one());
    }
    co_await wait_on_loop(loop, [&] { return auth_finished == 3; });
    for (const auto& r : auth_results) {
      APISIX_CO_ASSERT(!r);
      EXPECT_EQ(r.error().kind, ErrorKind::Timeout) << r.error().context;
    }
    // Callers that arrived while the connection was being opened shared its failure.
    EXPECT_EQ(auth_client->connects_for_test(), 1u);
  });
}

TEST(RedisClientRefused, NothingListeningIsARetryableRefusal) {
  uint16_t port = 0;
  {
    SilentListener closed_soon;
    port = closed_soon.port();
  }
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    RedisOptions options;
    options.port = port;
    auto client = make_client(loop, options);
    int finished = 0;
    std::vector<Result<Reply>> results;
    auto one = [&]() -> Task<void> {
      results.push_back(co_await client->command(cmd("PING")));
      ++finished;
    };
    for (int i = 0; i < 5; ++i) {
      core::spawn(one());
    }
    co_await wait_on_loop(loop, [&] { return finished == 5; });
    for (const auto& r : results) {
      APISIX_CO_ASSERT(!r);
      EXPECT_EQ(r.error().kind, ErrorKind::Refused) << r.error().context;
      EXPECT_TRUE(r.error().retryable);
    }
  });
}

TEST_F(RedisClientTest, LargeBulkRepliesArriveWhole) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client = make_client(loop, options_for(server_));
    std::string big(8 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) {
      big[i] = static_cast<char>('a' + i * 7 % 26);
    }
    auto set = co_await client->command(cmd("SET", "big", big));
    EXPECT_TRUE(set && *set == Reply::status("OK")) << describe(set);
    int finished = 0;
    int wrong = 0;
    auto get = [&]() -> Task<void> {
      auto reply = co_await client->command(cmd("GET", "big"));
      wrong += reply && reply->str == big ? 0 : 1;
      ++finished;
    };
    for (int i = 0; i < 4; ++i) {
      core::spawn(get());
    }
    co_await wait_on_loop(loop, [&] { return finished == 4; });
    EXPECT_EQ(wrong, 0);

    RedisOptions limited = options_for(server_);
    limited.limits.max_bulk_bytes = 1 << 20;
    auto small = make_client(loop, limited);
    auto too_big = co_await small->command(cmd("GET", "big"));
    APISIX_CO_ASSERT(!too_big);
    EXPECT_EQ(too_big.error().kind, ErrorKind::Limit) << too_big.error().context;
    auto after = co_await small->command(cmd("STRLEN", "big"));
    EXPECT_TRUE(after && *after == Reply::integer_value(8 << 20)) << describe(after);
  });
}

TEST(RedisClientTls, SpeaksTlsAndVerifiesTheServer) {
  test::TempDir dir("apisix-redis-tls-");
  test::TestCerts certs = test::make_test_certs(dir.path());
  test::RedisServerOptions server_options;
  server_options.tls_cert_file = certs.server.cert_file;
  server_options.tls_key_file = certs.server.key_file;
  server_options.tls_ca_file = certs.ca.cert_file;
  test::RedisServer server(server_options);
  ASSERT_TRUE(server.ok()) << server.error();
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    RedisOptions options = options_for(server);
    options.port = server.tls_port();
    options.ssl = true;
    auto unverified = make_client(loop, options);
    auto pong = co_await unverified->command(cmd("PING"));
    EXPECT_TRUE(pong && *pong == Reply::status("PONG")) << describe(pong);

    options.ssl_verify = true;
    options.ssl_trusted_certificate = certs.ca.cert_file.string();
    auto verified = make_client(loop, options);
    auto set = co_await verified->command(cmd("SET", "over", "tls"));
    auto get = co_await verified->command(cmd("GET", "over"));
    EXPECT_TRUE(get && get->str == "tls") << describe(get);
    EXPECT_TRUE(set);

    options.ssl_trusted_certificate = certs.other_ca.cert_file.string();
    auto distrusting = make_client(loop, options);
    auto rejected = co_await distrusting->command(cmd("PING"));
    APISIX_CO_ASSERT(!rejected);
    EXPECT_EQ(rejected.error().kind, ErrorKind::Invalid) << rejected.error().context;
    EXPECT_FALSE(rejected.error().retryable);
  });
}

TEST(RedisClients, OneClientPerDestination) {
  Loop loop;
  RedisClients clients(loop);
  RedisOptions a;
  a.port = 7000;
  RedisOptions same = a;
  same.timeout = 5s;  // not part of the destination
  RedisOptions other_db = a;
  other_db.database = 2;
  RedisOptions other_password = a;
  other_password.password = "x";
  auto first = clients.get(a);
  ASSERT_TRUE(first);
  EXPECT_EQ(*clients.get(same), *first);
  EXPECT_NE(*clients.get(other_db), *first);
  EXPECT_NE(*clients.get(other_password), *first);
  EXPECT_EQ(clients.size(), 3u);
  EXPECT_EQ(other_password.pool_key().find('x'), std::string::npos);  // a digest, not the text
}

}  // namespace
}  // namespace apisix::redis
