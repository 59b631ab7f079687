#pragma once
// HealthChecker: active health checks (core.md §7.7) as coroutines on one core::Loop, the
// control thread's, off the request path. Owned by the control thread; sync() follows the
// registry after every snapshot build. Probe results go into the shared UpstreamHealth, where
// workers see them.
//
// Per watched upstream two round loops run, as in lua-resty-healthcheck: every
// `healthy.interval` the targets that are healthy or mostly_healthy are probed, every
// `unhealthy.interval` the unhealthy or mostly_unhealthy ones (an interval of 0 disables that
// side), at most `concurrency` probes at once, each socket operation bounded by `timeout`.
// A round that takes longer than the interval is followed at once by the next.
//
// Probes: tcp = connect; http = connect, send `<method> <path> HTTP/1.1` with
// `Connection: close`, the req_headers lines, `Host` and the optional body, read the status
// line only; https = the same after a TLS handshake (SNI = the probe Host, certificate checked
// iff https_verify_certificate). Connect/send/receive errors and failed handshakes are TCP
// failures, expired deadlines timeouts, statuses are classified by the active status lists
// (an unparsable status line is an HTTP failure).

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "core/loop.h"
#include "upstream/health_state.h"

namespace apisix::upstream {

class HealthChecker {
 public:
  struct Options {
    // Probe upstreams that no request has used yet. APISIX does not (core.md §7.7); tests
    // and eager deployments may.
    bool probe_unused = false;
    // CA bundle for https probes that verify certificates (apisix.ssl.ssl_trusted_certificate);
    // "" or "system" for the system store.
    std::string trusted_certificate;
  };

  explicit HealthChecker(core::Loop& loop) : HealthChecker(loop, Options{}) {}
  HealthChecker(core::Loop& loop, Options options);
  // Stops everything (see stop_all()). Coroutines still inside a probe finish on the loop
  // within `timeout`; they keep what they use alive.
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Loop thread. Starts checking upstreams not watched yet (those whose config probes at all),
  // and stops those no longer in `upstreams`.
  void sync(std::span<const std::shared_ptr<UpstreamHealth>> upstreams);
  // Loop thread. Stops all checks: sleeping round loops end at once, probes in flight end at
  // their deadline. Run the loop until idle() before destroying it.
  void stop_all();
  // No coroutine of this checker is left on the loop.
  bool idle() const;
  size_t watched() const { return watches_.size(); }
  // Probes finished since start (any outcome).
  uint64_t probes_for_test() const;

  struct Shared;
  struct Watch;

 private:
  void stop(Watch& watch);

  std::shared_ptr<Shared> shared_;
  std::map<const UpstreamHealth*, std::shared_ptr<Watch>> watches_;
};

// The status code of an HTTP status line ("HTTP/1.1 200 OK"), as the checker library reads
// it (`^HTTP/\d+\.\d+\s+(\d+)`, case-insensitive); 0 when the line does not match.
int parse_probe_status_line(std::string_view line);

}  // namespace apisix::upstream
