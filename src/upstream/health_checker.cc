#include "upstream/health_checker.h"

#include <algorithm>
#include <cctype>
#include <coroutine>
#include <optional>
#include <string_view>
#include <vector>

#include <sys/eventfd.h>
#include <unistd.h>

#include "core/socket.h"
#include "core/task.h"
#include "tls/tls_context.h"
#include "tls/tls_stream.h"

namespace apisix::upstream {

using core::IoError;
using core::Loop;
using core::Task;
using core::TimePoint;
using Outcome = UpstreamHealth::Outcome;

int parse_probe_status_line(std::string_view line) {
  auto digits = [&line](size_t& i) {
    size_t start = i;
    while (i < line.size() && line[i] >= '0' && line[i] <= '9') {
      ++i;
    }
    return i - start;
  };
  if (line.size() < 5) {
    return 0;
  }
  for (size_t k = 0; k < 4; ++k) {
    if (std::toupper(static_cast<unsigned char>(line[k])) != "HTTP"[k]) {
      return 0;
    }
  }
  if (line[4] != '/') {
    return 0;
  }
  size_t i = 5;
  if (digits(i) == 0 || i >= line.size() || line[i] != '.') {
    return 0;
  }
  ++i;
  if (digits(i) == 0) {
    return 0;
  }
  size_t spaces = i;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\v' ||
                             line[i] == '\f' || line[i] == '\r' || line[i] == '\n')) {
    ++i;
  }
  if (i == spaces) {
    return 0;
  }
  size_t start = i;
  if (digits(i) == 0) {
    return 0;
  }
  // Long digit runs cannot be any listed status; keep them out of int range trouble.
  if (i - start > 4) {
    return 9999;
  }
  return std::stoi(std::string(line.substr(start, i - start)));
}

enum class Mode : uint8_t { Healthy = 0, Unhealthy = 1 };

struct HealthChecker::Shared {
  Loop& loop;
  Options options;
  int live_tasks = 0;
  uint64_t probes = 0;
  // https probe contexts, made on first use: [0] no verification, [1] verification.
  std::shared_ptr<const tls::TlsContext> tls[2];
  bool tls_failed[2] = {false, false};

  Shared(Loop& l, Options o) : loop(l), options(std::move(o)) {}

  const tls::TlsContext* tls_context(bool verify) {
    int i = verify ? 1 : 0;
    if (!tls[i] && !tls_failed[i]) {
      tls::ClientTlsOptions o;
      o.verify = verify;
      o.trusted_certificate = options.trusted_certificate;
      o.session_cache_size = 0;
      auto created = tls::TlsContext::create_client(o);
      if (created) {
        tls[i] = *created;
      } else {
        tls_failed[i] = true;  // every https probe of this kind then fails its handshake
      }
    }
    return tls[i].get();
  }
};

struct HealthChecker::Watch {
  std::shared_ptr<UpstreamHealth> health;
  bool stopped = false;
  core::IoState* sleeping[2] = {nullptr, nullptr};  // a round loop's timer while it waits
};

namespace {

// Keeps the checker's count of live coroutines, for idle().
struct TaskCount {
  explicit TaskCount(HealthChecker::Shared& s);
  ~TaskCount();
  HealthChecker::Shared& shared;
};

// Completion of the probe workers of one round.
struct Round {
  std::vector<size_t> targets;
  size_t next = 0;
  size_t pending = 0;
  std::coroutine_handle<> waiter;
};

struct RoundDone {
  Round& round;
  bool await_ready() const noexcept { return round.pending == 0; }
  void await_suspend(std::coroutine_handle<> h) noexcept { round.waiter = h; }
  void await_resume() const noexcept {}
};

// An outcome to report, or nothing (a status outside both lists is reported and ignored
// inside UpstreamHealth; a cancelled probe reports nothing).
struct ProbeResult {
  std::optional<Outcome> outcome;
  int status = -1;  // >= 0: report this HTTP status instead of `outcome`
};

ProbeResult io_failure(IoError error) {
  if (error == IoError::Cancelled) {
    return {};
  }
  return {error == IoError::Timeout ? Outcome::Timeout : Outcome::TcpFailure};
}

std::string probe_request(const ActiveCheck& a, const HealthTarget& target) {
  std::string r;
  r.reserve(128 + a.http_path.size() + a.http_req_body.size());
  r.append(a.http_method).append(" ").append(a.http_path).append(" HTTP/1.1\r\n");
  r.append("Connection: close\r\n");
  for (const std::string& h : a.req_headers) {
    if (!h.empty()) {
      r.append(h).append("\r\n");
    }
  }
  r.append("Host: ").append(target.probe_host()).append("\r\n");
  if (!a.http_req_body.empty()) {
    r.append("Content-Length: ").append(std::to_string(a.http_req_body.size())).append("\r\n");
    r.append("\r\n").append(a.http_req_body);
  } else {
    r.append("\r\n");
  }
  return r;
}

constexpr size_t kMaxStatusLine = 8192;

// Sends the probe request and reads up to the end of the status line.
template <typename Stream>
Task<ProbeResult> http_exchange(Loop& loop, Stream& stream, const ActiveCheck& a,
                                const HealthTarget& target, std::chrono::milliseconds timeout) {
  std::string request = probe_request(a, target);
  core::IoResult w = co_await stream.write_all(request, loop.now() + timeout);
  if (!w.ok()) {
    co_return io_failure(w.error);
  }
  std::string line;
  char buf[1024];
  for (;;) {
    core::IoResult r = co_await stream.read_some(buf, sizeof(buf), loop.now() + timeout);
    if (!r.ok()) {
      // The peer closed before a whole line: a receive error like any other.
      co_return io_failure(r.error);
    }
    line.append(buf, r.bytes);
    size_t eol = line.find('\n');
    if (eol != std::string::npos || line.size() >= kMaxStatusLine) {
      line.resize(std::min(eol, line.size()));
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      co_return ProbeResult{std::nullopt, parse_probe_status_line(line)};
    }
  }
}

Task<ProbeResult> probe(HealthChecker::Shared& shared, const ActiveCheck& a,
                        const HealthTarget& target) {
  Loop& loop = shared.loop;
  // A zero timeout is taken as ngx_lua's default socket timeout (60 s).
  std::chrono::milliseconds timeout = a.timeout.count() > 0 ? a.timeout : std::chrono::seconds(60);
  core::Endpoint endpoint;
  if (!core::Endpoint::parse(target.ip, target.port, endpoint)) {
    co_return ProbeResult{Outcome::TcpFailure};
  }
  core::ConnectResult c = co_await core::connect_tcp(loop, endpoint, loop.now() + timeout);
  if (c.error != IoError::None || !c.socket.is_open()) {
    co_return io_failure(c.error == IoError::None ? IoError::Other : c.error);
  }
  if (a.type == CheckType::Tcp) {
    co_return ProbeResult{Outcome::Success};
  }
  if (a.type == CheckType::Http) {
    co_return co_await http_exchange(loop, c.socket, a, target, timeout);
  }
  const tls::TlsContext* context = shared.tls_context(a.https_verify_certificate);
  if (context == nullptr) {
    co_return ProbeResult{Outcome::TcpFailure};
  }
  tls::TlsStream stream(std::move(c.socket), shared.tls[a.https_verify_certificate ? 1 : 0]);
  core::IoResult h = co_await stream.handshake(target.probe_host(), loop.now() + timeout);
  if (!h.ok()) {
    // A failed handshake counts as a TCP failure in the checker library; an expired
    // deadline is still a timeout.
    co_return io_failure(h.error == IoError::Timeout     ? IoError::Timeout
                         : h.error == IoError::Cancelled ? IoError::Cancelled
                                                         : IoError::Other);
  }
  co_return co_await http_exchange(loop, stream, a, target, timeout);
}

Task<void> probe_worker(std::shared_ptr<HealthChecker::Shared> shared,
                        std::shared_ptr<HealthChecker::Watch> watch, std::shared_ptr<Round> round) {
  TaskCount count(*shared);
  UpstreamHealth& health = *watch->health;
  const ActiveCheck& active = health.config().active;
  while (round->next < round->targets.size() && !watch->stopped) {
    size_t t = round->targets[round->next++];
    ProbeResult result = co_await probe(*shared, active, health.target(t));
    ++shared->probes;
    if (watch->stopped) {
      break;
    }
    if (result.status >= 0) {
      health.report_target_http_status(t, result.status, CheckSource::Active);
    } else if (result.outcome) {
      health.report_target(t, *result.outcome, CheckSource::Active);
    }
  }
  if (--round->pending == 0 && round->waiter) {
    // Resume the round from the top of the loop, not from inside this frame.
    shared->loop.defer(std::exchange(round->waiter, {}));
  }
}

Task<void> run_round(std::shared_ptr<HealthChecker::Shared> shared,
                     std::shared_ptr<HealthChecker::Watch> watch, Mode mode) {
  UpstreamHealth& health = *watch->health;
  auto round = std::make_shared<Round>();
  for (size_t t = 0; t < health.target_count(); ++t) {
    bool available = is_available(health.target_status(t).health);
    if (available == (mode == Mode::Healthy)) {
      round->targets.push_back(t);
    }
  }
  if (round->targets.empty()) {
    co_return;
  }
  size_t workers = std::clamp<size_t>(health.config().active.concurrency, 1, round->targets.size());
  round->pending = workers;
  for (size_t i = 0; i < workers; ++i) {
    core::spawn(probe_worker(shared, watch, round));
  }
  co_await RoundDone{*round};
}

// One side (healthy or unhealthy targets) of one upstream: a round now, then one every
// interval, measured from the start of the previous round.
Task<void> round_loop(std::shared_ptr<HealthChecker::Shared> shared,
                      std::shared_ptr<HealthChecker::Watch> watch, Mode mode) {
  TaskCount count(*shared);
  Loop& loop = shared->loop;
  const ActiveCheck& active = watch->health->config().active;
  auto interval = mode == Mode::Healthy ? active.healthy.interval : active.unhealthy.interval;
  // The wait between rounds is a read wait on an eventfd nobody writes: it ends at its
  // deadline, or at once when stop() cancels it (a plain sleep cannot be cancelled).
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  core::IoState* timer = fd >= 0 ? loop.add(fd) : nullptr;
  if (timer == nullptr) {
    if (fd >= 0) {
      ::close(fd);
    }
    co_return;
  }
  auto slot = static_cast<size_t>(mode);
  TimePoint next = loop.now();
  while (!watch->stopped) {
    if (next > loop.now()) {
      watch->sleeping[slot] = timer;
      core::Wait w = co_await loop.readable(timer, next);
      watch->sleeping[slot] = nullptr;
      if (w == core::Wait::Cancelled || watch->stopped) {
        break;
      }
      if (next > loop.now()) {
        continue;
      }
    }
    TimePoint start = loop.now();
    if (watch->health->is_used() || shared->options.probe_unused) {
      co_await run_round(shared, watch, mode);
    }
    next = start + interval;
  }
  loop.remove(timer);
  ::close(fd);
}

TaskCount::TaskCount(HealthChecker::Shared& s) : shared(s) { ++shared.live_tasks; }
TaskCount::~TaskCount() { --shared.live_tasks; }

}  // namespace

HealthChecker::HealthChecker(Loop& loop, Options options)
    : shared_(std::make_shared<Shared>(loop, std::move(options))) {}

HealthChecker::~HealthChecker() { stop_all(); }

void HealthChecker::sync(std::span<const std::shared_ptr<UpstreamHealth>> upstreams) {
  std::map<const UpstreamHealth*, std::shared_ptr<Watch>> next;
  for (const auto& health : upstreams) {
    if (health == nullptr || !health->config().probes_anything()) {
      continue;
    }
    if (auto it = watches_.find(health.get()); it != watches_.end()) {
      next.emplace(it->first, std::move(it->second));
      watches_.erase(it);
      continue;
    }
    auto watch = std::make_shared<Watch>();
    watch->health = health;
    next.emplace(health.get(), watch);
    const ActiveCheck& active = health->config().active;
    if (active.healthy.interval.count() > 0) {
      core::spawn(round_loop(shared_, watch, Mode::Healthy));
    }
    if (active.unhealthy.interval.count() > 0) {
      core::spawn(round_loop(shared_, watch, Mode::Unhealthy));
    }
  }
  auto gone = std::move(watches_);
  watches_ = std::move(next);
  for (auto& [key, watch] : gone) {
    stop(*watch);
  }
}

void HealthChecker::stop(Watch& watch) {
  watch.stopped = true;
  for (core::IoState*& timer : watch.sleeping) {
    if (core::IoState* io = std::exchange(timer, nullptr)) {
      shared_->loop.cancel(io);  // resumes the round loop, which ends
    }
  }
}

void HealthChecker::stop_all() {
  auto all = std::move(watches_);
  watches_.clear();
  for (auto& [key, watch] : all) {
    stop(*watch);
  }
}

bool HealthChecker::idle() const { return shared_->live_tasks == 0; }

uint64_t HealthChecker::probes_for_test() const { return shared_->probes; }

}  // namespace apisix::upstream
