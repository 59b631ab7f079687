#include "gateway/upstream_pool.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace apisix::gateway {
namespace {

using namespace std::chrono_literals;

// A connected socket pair; the pool holds one end, the test plays the node with the other.
struct Pair {
  core::Socket ours;
  int theirs = -1;
  Pair(core::Loop& loop) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    ours = core::Socket(loop, fds[0]);
    theirs = fds[1];
  }
  ~Pair() {
    if (theirs >= 0) {
      ::close(theirs);
    }
  }
};

// Lets epoll report what happened to the pooled sockets.
void pump(core::Loop& loop) {
  loop.post([&loop] { loop.stop(); });
  loop.run();
}

TEST(UpstreamPool, ReturnsTheConnectionPutForTheSameKey) {
  core::Loop loop;
  Pair p(loop);
  pump(loop);
  int fd = p.ours.fd();
  UpstreamPool pool;
  PoolSettings settings;
  pool.put("http#a#80", PooledConnection{UpstreamStream(std::move(p.ours)), 1}, loop.now(),
           settings);
  EXPECT_FALSE(pool.take("http#b#80", loop.now(), settings).stream.is_open());
  PooledConnection got = pool.take("http#a#80", loop.now(), settings);
  ASSERT_TRUE(got.stream.is_open());
  EXPECT_EQ(got.stream.fd(), fd);
  EXPECT_EQ(got.requests, 1u);
  EXPECT_FALSE(pool.take("http#a#80", loop.now(), settings).stream.is_open());
}

TEST(UpstreamPool, NeverHandsOutAConnectionTheNodeClosed) {
  core::Loop loop;
  Pair p(loop);
  UpstreamPool pool;
  PoolSettings settings;
  pool.put("k", PooledConnection{UpstreamStream(std::move(p.ours)), 1}, loop.now(), settings);
  ::close(p.theirs);
  p.theirs = -1;
  pump(loop);  // epoll reports the hang-up
  EXPECT_FALSE(pool.take("k", loop.now(), settings).stream.is_open());
}

TEST(UpstreamPool, NeverHandsOutAConnectionWithUnexpectedBytes) {
  core::Loop loop;
  Pair p(loop);
  UpstreamPool pool;
  PoolSettings settings;
  pool.put("k", PooledConnection{UpstreamStream(std::move(p.ours)), 1}, loop.now(), settings);
  ASSERT_EQ(::write(p.theirs, "junk", 4), 4);
  pump(loop);
  EXPECT_FALSE(pool.take("k", loop.now(), settings).stream.is_open());
}

TEST(UpstreamPool, ExpiresIdleConnections) {
  core::Loop loop;
  Pair p(loop);
  UpstreamPool pool;
  PoolSettings settings;
  settings.idle_timeout = 50ms;
  pool.put("k", PooledConnection{UpstreamStream(std::move(p.ours)), 1}, loop.now(), settings);
  EXPECT_EQ(pool.idle_count(), 1u);
  pool.sweep(loop.now() + 100ms);
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST(UpstreamPool, RetiresAConnectionAfterItsLastRequest) {
  core::Loop loop;
  Pair p(loop);
  UpstreamPool pool;
  PoolSettings settings;
  settings.requests = 3;
  pool.put("k", PooledConnection{UpstreamStream(std::move(p.ours)), 3}, loop.now(), settings);
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST(UpstreamPool, KeepsAtMostSizeIdleConnectionsPerKey) {
  core::Loop loop;
  UpstreamPool pool;
  PoolSettings settings;
  settings.size = 2;
  std::vector<std::unique_ptr<Pair>> pairs;
  for (int i = 0; i < 4; ++i) {
    pairs.push_back(std::make_unique<Pair>(loop));
    pool.put("k", PooledConnection{UpstreamStream(std::move(pairs.back()->ours)), 1}, loop.now(),
             settings);
  }
  EXPECT_EQ(pool.idle_count(), 2u);
}

}  // namespace
}  // namespace apisix::gateway
