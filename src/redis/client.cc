#include "redis/client.h"

#include <algorithm>
#include <coroutine>
#include <cstring>
#include <iterator>

#include <netdb.h>
#include <openssl/evp.h>
#include <sys/socket.h>

#include "tls/tls_stream.h"

namespace apisix::redis {
namespace {

constexpr size_t kReadChunk = 16384;

Error io_error(core::IoError error, std::string_view what) {
  ErrorKind kind = ErrorKind::Io;
  if (error == core::IoError::Timeout) {
    kind = ErrorKind::Timeout;
  } else if (error == core::IoError::Reset || error == core::IoError::Eof) {
    kind = ErrorKind::Refused;
  }
  return Error{kind, ErrorSource::Upstream, true,
               "redis " + std::string(what) + ": " + core::to_string(error)};
}

std::string hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

std::string sha1_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
  return hex(digest, size);
}

// An IP literal, or a name through getaddrinfo. TODO(redis): resolve names with the
// project's asynchronous resolver; getaddrinfo blocks the loop (#5).
Result<core::Endpoint> resolve(const std::string& host, uint16_t port) {
  core::Endpoint ep;
  if (core::Endpoint::parse(host, port, ep)) {
    return ep;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Error{ErrorKind::NotFound, ErrorSource::Upstream, true,
                 "redis: cannot resolve " + host + ": " + ::gai_strerror(rc)};
  }
  std::memcpy(&ep.addr, found->ai_addr, found->ai_addrlen);
  ep.len = found->ai_addrlen;
  ::freeaddrinfo(found);
  return ep;
}

}  // namespace

std::string RedisOptions::pool_key() const {
  std::string key = ssl ? (ssl_verify ? "rediss+verify://" : "rediss://") : "redis://";
  if (!username.empty() || !password.empty()) {
    // A digest, so credentials do not sit in plain text in the registry's keys.
    key += sha1_hex(username + '\0' + password).substr(0, 16);
    key += '@';
  }
  key += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  key += ':' + std::to_string(port) + '/' + std::to_string(database);
  if (ssl && ssl_verify) {
    key += "?ca=" + ssl_trusted_certificate;  // a different trust store is another context
  }
  return key;
}

Script::Script(std::string text) : text_(std::move(text)), sha1_(sha1_hex(text_)) {}

namespace detail {

// One command waiting for its reply; lives in the frame of the coroutine that runs it.
struct Pending {
  core::TimePoint deadline;
  std::optional<Result<Reply>> result;
  std::coroutine_handle<> waiter;  // set while parked; whoever resumes it clears it
};

// One connection: a plain or TLS stream, the queue of commands in flight, and the parser of
// their replies. Shared by the client's list and by every command running on it (so it
// outlives a client destroyed under it); used on the loop's thread only.
//
// No coroutine runs in the background: the command coroutines take the roles. The first one
// to find no writer writes the queued bytes (later commands append meanwhile), and the first
// one to find no reader reads and hands out replies in order until its own has arrived, then
// wakes a parked command to take over reading.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State : uint8_t {
    Connecting,  // opening (TCP, TLS, AUTH, SELECT): commands wait for it
    Ready,       // takes commands
    Broken,      // failed: everything in flight failed; dropped from the pool
  };

  Connection(core::Loop& loop, const ReplyLimits& limits) : loop_(loop), parser_(limits) {}
  ~Connection() { break_with(Error{ErrorKind::Io, ErrorSource::Internal, false, "closed"}); }

  State state() const { return state_; }
  const Error& error() const { return error_; }
  size_t in_flight() const { return pending_.size(); }
  bool is_idle() const { return pending_.empty() && !reading_ && !writing_; }
  core::TimePoint idle_since() const { return idle_since_; }

  core::Task<Result<void>> open(const RedisOptions& options,
                                std::shared_ptr<const tls::TlsContext> tls,
                                core::TimePoint deadline);
  core::Task<Result<Reply>> execute(const std::vector<std::string>& args, core::TimePoint deadline);

  // Whether an idle connection still looks usable: nothing arrived on it (data we did not ask
  // for, EOF, TLS bytes). Breaks it when not.
  bool check_idle();
  // Fails everything in flight with `error` and stops using the connection.
  void break_with(Error error);

  // co_await connection.ready(): until it leaves Connecting.
  struct ReadyAwaiter {
    Connection* connection;
    bool await_ready() const noexcept { return connection->state_ != State::Connecting; }
    void await_suspend(std::coroutine_handle<> h) { connection->ready_waiters_.push_back(h); }
    void await_resume() const noexcept {}
  };
  ReadyAwaiter ready() { return ReadyAwaiter{this}; }

 private:
  struct Park {
    Pending* pending;
    bool await_ready() const noexcept { return pending->result.has_value(); }
    void await_suspend(std::coroutine_handle<> h) noexcept { pending->waiter = h; }
    void await_resume() const noexcept {}
  };

  core::Task<Result<Reply>> run(const std::vector<std::string>& args, core::TimePoint deadline);
  // One AUTH or SELECT while opening; an error reply fails the opening.
  core::Task<Result<void>> setup_step(std::vector<std::string> args, std::string what,
                                      core::TimePoint deadline);
  Result<void> finish_open(std::optional<Error> error);
  core::Task<void> flush(core::TimePoint deadline);
  core::Task<void> read_until(const Pending& mine);
  void deliver(Result<Reply> result);
  void resume_later(std::coroutine_handle<>& h) {
    if (h) {
      loop_.defer(std::exchange(h, {}));
    }
  }
  core::Task<core::IoResult> read_some(char* buf, size_t len, core::TimePoint deadline) {
    return tls_ ? tls_stream_.read_some(buf, len, deadline) : socket_.read_some(buf, len, deadline);
  }
  core::Task<core::IoResult> write_all(std::string_view data, core::TimePoint deadline) {
    return tls_ ? tls_stream_.write_all(data, deadline) : socket_.write_all(data, deadline);
  }
  core::IoState* io() const { return tls_ ? tls_stream_.io() : socket_.io(); }

  core::Loop& loop_;
  State state_ = State::Connecting;
  Error error_;
  bool tls_ = false;
  core::Socket socket_;
  tls::TlsStream tls_stream_;
  ReplyParser parser_;
  std::deque<Pending*> pending_;  // in the order their commands were written
  std::string out_;               // encoded commands not yet handed to the writer
  std::string writing_buf_;
  bool writing_ = false;
  bool reading_ = false;
  core::TimePoint idle_since_;
  std::vector<std::coroutine_handle<>> ready_waiters_;
};

void Connection::break_with(Error error) {
  if (state_ == State::Broken) {
    return;
  }
  state_ = State::Broken;
  error_ = std::move(error);
  std::deque<Pending*> failed;
  failed.swap(pending_);
  for (Pending* pending : failed) {
    pending->result.emplace(error_);
    resume_later(pending->waiter);
  }
  out_.clear();
  for (auto& h : ready_waiters_) {
    resume_later(h);
  }
  ready_waiters_.clear();
  // A reader or writer suspended in I/O resumes now with Cancelled and finds its command
  // failed. (Each holds a reference to this connection, so it survives that.)
  if (core::IoState* state = io(); state != nullptr) {
    loop_.cancel(state);
  }
}

bool Connection::check_idle() {
  if (state_ != State::Ready) {
    return false;
  }
  core::IoState* state = io();
  bool suspicious = state == nullptr || state->readable || state->peer_closed ||
                    (tls_ && tls_stream_.has_buffered_data());
  if (!suspicious) {
    return true;
  }
  char probe;
  ssize_t n = tls_ ? tls_stream_.try_read(&probe, 1) : socket_.try_read(&probe, 1);
  if (n == -1 && !(tls_ && tls_stream_.has_buffered_data())) {
    return true;
  }
  break_with(Error{ErrorKind::Refused, ErrorSource::Upstream, true,
                   n > 0 ? "redis sent data nobody asked for" : "redis closed the connection"});
  return false;
}

core::Task<Result<void>> Connection::open(const RedisOptions& options,
                                          std::shared_ptr<const tls::TlsContext> tls,
                                          core::TimePoint deadline) {
  auto self = shared_from_this();
  std::string where = options.host + ":" + std::to_string(options.port);
  auto endpoint = resolve(options.host, options.port);
  if (!endpoint) {
    co_return finish_open(endpoint.error());
  }
  core::ConnectResult connected = co_await core::connect_tcp(loop_, *endpoint, deadline);
  if (connected.error != core::IoError::None) {
    co_return finish_open(io_error(connected.error, "connect to " + where));
  }
  if (tls) {
    tls_stream_ = tls::TlsStream(std::move(connected.socket), std::move(tls));
    tls_ = true;
    core::IoResult shaken = co_await tls_stream_.handshake(options.host, deadline);
    if (!shaken.ok()) {
      Error error = io_error(shaken.error, "TLS handshake with " + where);
      if (!tls_stream_.error_message().empty()) {
        error.context += ": " + tls_stream_.error_message();
      }
      if (tls_stream_.failure() == tls::TlsFailure::Verify) {
        error.kind = ErrorKind::Invalid;
        error.retryable = false;
      }
      co_return finish_open(std::move(error));
    }
  } else {
    socket_ = std::move(connected.socket);
  }
  // AUTH and SELECT go first and alone: a command queued behind a failed SELECT would run in
  // the wrong database.
  if (!options.password.empty()) {
    std::vector<std::string> auth;
    auth.emplace_back("AUTH");
    if (!options.username.empty()) {
      auth.push_back(options.username);
    }
    auth.push_back(options.password);
    auto done = co_await setup_step(std::move(auth), "AUTH", deadline);
    if (!done) {
      co_return finish_open(done.error());
    }
  }
  if (options.database != 0) {
    std::vector<std::string> select;
    select.emplace_back("SELECT");
    select.push_back(std::to_string(options.database));
    std::string what = "SELECT " + select[1];
    auto done = co_await setup_step(std::move(select), std::move(what), deadline);
    if (!done) {
      co_return finish_open(done.error());
    }
  }
  co_return finish_open(std::nullopt);
}

Result<void> Connection::finish_open(std::optional<Error> error) {
  if (error) {
    break_with(*error);
    return *error;
  }
  state_ = State::Ready;
  idle_since_ = loop_.now();
  for (auto& h : ready_waiters_) {
    resume_later(h);
  }
  ready_waiters_.clear();
  return {};
}

core::Task<Result<void>> Connection::setup_step(std::vector<std::string> args, std::string what,
                                                core::TimePoint deadline) {
  auto reply = co_await run(args, deadline);
  if (!reply) {
    co_return reply.error();
  }
  if (reply->is_error()) {
    co_return Error{ErrorKind::Invalid, ErrorSource::Upstream, false,
                    "redis " + what + " failed: " + reply->str};
  }
  co_return Result<void>();
}

core::Task<Result<Reply>> Connection::execute(const std::vector<std::string>& args,
                                              core::TimePoint deadline) {
  if (state_ != State::Ready) {
    co_return state_ == State::Broken
        ? error_
        : Error{ErrorKind::Io, ErrorSource::Internal, true, "redis connection not ready"};
  }
  co_return co_await run(args, deadline);
}

core::Task<Result<Reply>> Connection::run(const std::vector<std::string>& args,
                                          core::TimePoint deadline) {
  auto self = shared_from_this();
  if (state_ == State::Broken) {
    co_return error_;
  }
  Pending mine{deadline, std::nullopt, {}};
  pending_.push_back(&mine);
  append_command(out_, args);
  if (!writing_) {
    co_await flush(deadline);
  }
  while (!mine.result) {
    if (!reading_) {
      co_await read_until(mine);
      continue;
    }
    co_await Park{&mine};
  }
  co_return std::move(*mine.result);
}

core::Task<void> Connection::flush(core::TimePoint deadline) {
  auto self = shared_from_this();
  writing_ = true;
  while (!out_.empty() && state_ != State::Broken) {
    writing_buf_.clear();
    writing_buf_.swap(out_);
    core::IoResult written = co_await write_all(writing_buf_, deadline);
    if (!written.ok()) {
      break_with(io_error(written.error, "send"));
    }
  }
  writing_ = false;
}

void Connection::deliver(Result<Reply> result) {
  Pending* pending = pending_.front();
  pending_.pop_front();
  pending->result.emplace(std::move(result));
  resume_later(pending->waiter);
  if (pending_.empty()) {
    idle_since_ = loop_.now();
  }
}

core::Task<void> Connection::read_until(const Pending& mine) {
  auto self = shared_from_this();
  reading_ = true;
  while (!mine.result && state_ != State::Broken) {
    auto next = parser_.next();
    if (!next) {
      break_with(next.error());
      break;
    }
    if (next->has_value()) {
      if (pending_.empty()) {
        break_with(Error{ErrorKind::Invalid, ErrorSource::Upstream, false,
                         "redis sent a reply nobody asked for"});
        break;
      }
      deliver(std::move(**next));
      continue;
    }
    // The oldest command has the earliest deadline: a server that does not answer it in
    // time is stuck or gone, so the connection and everything queued on it fail.
    core::TimePoint deadline = pending_.front()->deadline;
    std::span<char> room = parser_.prepare(kReadChunk);
    core::IoResult got = co_await read_some(room.data(), room.size(), deadline);
    parser_.commit(got.bytes);
    if (!got.ok()) {
      break_with(io_error(got.error, "read reply"));
    }
  }
  reading_ = false;
  // Hand the reader role to a parked command whose reply has not come yet.
  for (Pending* pending : pending_) {
    if (pending->waiter) {
      resume_later(pending->waiter);
      break;
    }
  }
}

}  // namespace detail

Result<std::unique_ptr<RedisClient>> RedisClient::create(core::Loop& loop, RedisOptions options) {
  std::shared_ptr<const tls::TlsContext> tls;
  if (options.ssl) {
    tls::ClientTlsOptions tls_options;
    tls_options.verify = options.ssl_verify;
    tls_options.trusted_certificate = options.ssl_trusted_certificate;
    auto made = tls::TlsContext::create_client(tls_options);
    if (!made) {
      return Error::config("redis_ssl: " + made.error().context);
    }
    tls = *made;
  }
  if (options.keepalive_pool == 0) {
    options.keepalive_pool = 1;
  }
  if (options.max_pipeline == 0) {
    options.max_pipeline = 1;
  }
  return std::unique_ptr<RedisClient>(new RedisClient(loop, std::move(options), std::move(tls)));
}

RedisClient::RedisClient(core::Loop& loop, RedisOptions options,
                         std::shared_ptr<const tls::TlsContext> tls)
    : loop_(loop), options_(std::move(options)), tls_(std::move(tls)) {}

RedisClient::~RedisClient() {
  auto connections = std::move(connections_);
  for (auto& connection : connections) {
    connection->break_with(
        Error{ErrorKind::Io, ErrorSource::Internal, true, "redis client destroyed"});
  }
}

void RedisClient::sweep() {
  core::TimePoint now = loop_.now();
  std::erase_if(connections_, [&](const std::shared_ptr<detail::Connection>& c) {
    if (c->state() == detail::Connection::State::Ready && c->is_idle() &&
        now - c->idle_since() >= options_.keepalive_timeout) {
      c->break_with(Error{ErrorKind::Io, ErrorSource::Internal, true, "redis connection idle"});
    }
    return c->state() == detail::Connection::State::Broken;
  });
}

size_t RedisClient::close_idle() {
  sweep();
  return connections_.size();
}

core::Task<Result<std::shared_ptr<detail::Connection>>> RedisClient::acquire() {
  using State = detail::Connection::State;
  for (;;) {
    sweep();
    std::shared_ptr<detail::Connection> best;
    std::shared_ptr<detail::Connection> connecting;
    for (const auto& c : connections_) {
      if (c->state() == State::Connecting) {
        connecting = c;
      } else if (c->state() == State::Ready && (!best || c->in_flight() < best->in_flight())) {
        if (c->is_idle() && !c->check_idle()) {
          continue;
        }
        best = c;
      }
    }
    bool full = connections_.size() >= options_.keepalive_pool;
    if (best && (best->in_flight() < options_.max_pipeline || full)) {
      co_return best;
    }
    if (connecting) {
      // Wait for the connection being opened rather than open one more per caller; share
      // its failure rather than retry once per caller.
      co_await connecting->ready();
      if (connecting->state() == State::Broken) {
        co_return connecting->error();
      }
      continue;
    }
    if (full) {
      if (best) {
        co_return best;
      }
      continue;  // only broken connections were left; sweep() drops them
    }
    auto fresh = std::make_shared<detail::Connection>(loop_, options_.limits);
    connections_.push_back(fresh);
    ++connects_;
    auto opened = co_await fresh->open(options_, tls_, loop_.now() + options_.timeout);
    if (!opened) {
      std::erase(connections_, fresh);
      co_return opened.error();
    }
    co_return fresh;
  }
}

core::Task<Result<Reply>> RedisClient::command(std::vector<std::string> args) {
  auto connection = co_await acquire();
  if (!connection) {
    co_return connection.error();
  }
  co_return co_await (*connection)->execute(args, loop_.now() + options_.timeout);
}

core::Task<Result<Reply>> RedisClient::eval_script(const Script& script,
                                                   std::vector<std::string> keys,
                                                   std::vector<std::string> args) {
  std::vector<std::string> command_args;
  command_args.reserve(3 + keys.size() + args.size());
  command_args.emplace_back("EVALSHA");
  command_args.push_back(script.sha1());
  command_args.push_back(std::to_string(keys.size()));
  std::move(keys.begin(), keys.end(), std::back_inserter(command_args));
  std::move(args.begin(), args.end(), std::back_inserter(command_args));
  auto reply = co_await command(command_args);
  if (reply && reply->is_error() && reply->error_code() == "NOSCRIPT") {
    command_args[0] = "EVAL";
    command_args[1] = script.text();
    reply = co_await command(std::move(command_args));
  }
  co_return reply;
}

Result<RedisClient*> RedisClients::get(const RedisOptions& options) {
  std::string key = options.pool_key();
  auto found = clients_.find(key);
  if (found != clients_.end()) {
    return found->second.get();
  }
  auto made = RedisClient::create(loop_, options);
  if (!made) {
    return made.error();
  }
  RedisClient* client = made->get();
  clients_.emplace(std::move(key), std::move(*made));
  return client;
}

}  // namespace apisix::redis
