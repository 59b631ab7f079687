#include "core/loop.h"

#include <thread>

#include <gtest/gtest.h>

#include "core/socket.h"
#include "core/task.h"

namespace apisix::core {
namespace {

using namespace std::chrono_literals;

TEST(Loop, PostFromAnotherThreadRunsOnLoopThread) {
  Loop loop;
  std::thread::id ran_on;
  std::thread other([&] {
    loop.post([&] {
      ran_on = std::this_thread::get_id();
      loop.stop();
    });
  });
  loop.run();
  other.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(Loop, SleepResumesAfterDeadline) {
  Loop loop;
  auto start = Clock::now();
  bool done = false;
  spawn([](Loop& l, bool& flag) -> Task<void> {
    co_await l.sleep_for(30ms);
    flag = true;
    l.stop();
  }(loop, done));
  loop.run();
  EXPECT_TRUE(done);
  EXPECT_GE(Clock::now() - start, 30ms);
}

Task<void> echo_once(Loop& loop, int listen_fd) {
  co_await loop.sleep_for(0ms);
  IoState* lio = loop.add(listen_fd);
  int fd = -1;
  while ((fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK)) < 0) {
    lio->readable = false;
    co_await loop.readable(lio, kNoDeadline);
  }
  loop.remove(lio);
  Socket s(loop, fd);
  char buf[64];
  IoResult r = co_await s.read_some(buf, sizeof(buf), loop.now() + 5s);
  EXPECT_TRUE(r.ok());
  IoResult w = co_await s.write_all(std::string_view(buf, r.bytes), loop.now() + 5s);
  EXPECT_TRUE(w.ok());
}

Task<void> client(Loop& loop, Endpoint ep, std::string& reply) {
  ConnectResult c = co_await connect_tcp(loop, ep, loop.now() + 5s);
  EXPECT_EQ(c.error, IoError::None);
  IoResult w = co_await c.socket.write_all("ping", loop.now() + 5s);
  EXPECT_TRUE(w.ok());
  char buf[64];
  IoResult r = co_await c.socket.read_some(buf, sizeof(buf), loop.now() + 5s);
  EXPECT_TRUE(r.ok());
  reply.assign(buf, r.bytes);
  // The server closed after echoing: the next read sees EOF.
  IoResult eof = co_await c.socket.read_some(buf, sizeof(buf), loop.now() + 5s);
  EXPECT_EQ(eof.error, IoError::Eof);
  loop.stop();
}

TEST(Socket, ConnectWriteReadEcho) {
  Loop loop;
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", 0, ep));
  auto fd = listen_tcp(ep, false, 16);
  ASSERT_TRUE(fd.ok()) << fd.error().context;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", bound_port(*fd), ep));
  std::string reply;
  spawn(echo_once(loop, *fd));
  spawn(client(loop, ep, reply));
  loop.run();
  ::close(*fd);
  EXPECT_EQ(reply, "ping");
}

TEST(Socket, ReadTimesOutAtDeadline) {
  Loop loop;
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", 0, ep));
  auto fd = listen_tcp(ep, false, 16);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", bound_port(*fd), ep));
  IoError seen = IoError::None;
  auto start = Clock::now();
  spawn([](Loop& l, Endpoint e, IoError& out) -> Task<void> {
    ConnectResult c = co_await connect_tcp(l, e, l.now() + 5s);
    char buf[8];
    IoResult r = co_await c.socket.read_some(buf, sizeof(buf), l.now() + 50ms);
    out = r.error;
    l.stop();
  }(loop, ep, seen));
  loop.run();
  ::close(*fd);
  EXPECT_EQ(seen, IoError::Timeout);
  EXPECT_GE(Clock::now() - start, 50ms);
}

TEST(Socket, ConnectRefusedIsReset) {
  Loop loop;
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", 0, ep));
  auto fd = listen_tcp(ep, false, 16);
  ASSERT_TRUE(fd.ok());
  uint16_t port = bound_port(*fd);
  ::close(*fd);  // nothing listens there any more
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", port, ep));
  IoError seen = IoError::None;
  spawn([](Loop& l, Endpoint e, IoError& out) -> Task<void> {
    ConnectResult c = co_await connect_tcp(l, e, l.now() + 5s);
    out = c.error;
    l.stop();
  }(loop, ep, seen));
  loop.run();
  EXPECT_EQ(seen, IoError::Reset);
}

}  // namespace
}  // namespace apisix::core
