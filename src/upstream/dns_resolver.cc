#include "upstream/dns_resolver.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <ares.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/ioctl.h>

#include "core/log.h"
#include "upstream/dns_timer.h"

namespace apisix::upstream {
namespace {

void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

Error dns_error(ErrorKind kind, bool retryable, std::string msg) {
  return Error{kind, ErrorSource::Upstream, retryable, std::move(msg)};
}

// What a failed c-ares query means for the caller (ares_query/ares_search status codes).
Error status_error(int status, const std::string& name, RecordType type) {
  std::string what = "dns: " + name + " " + std::string(to_string(type)) + ": ";
  switch (status) {
    case ARES_ENOTFOUND:
      return dns_error(ErrorKind::NotFound, false, what + "name does not exist (NXDOMAIN)");
    case ARES_ENODATA:
      return dns_error(ErrorKind::NotFound, false, what + "no record of this type");
    case ARES_ETIMEOUT:
      return dns_error(ErrorKind::Timeout, true, what + "timed out");
    case ARES_ECONNREFUSED:
      return dns_error(ErrorKind::Refused, true, what + "connection refused by the server");
    case ARES_ESERVFAIL:
      return dns_error(ErrorKind::Io, true, what + "server failure (SERVFAIL)");
    case ARES_EREFUSED:
      return dns_error(ErrorKind::Io, true, what + "query refused (REFUSED)");
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
      return dns_error(ErrorKind::Io, false, what + "resolver shut down");
    default:
      return dns_error(ErrorKind::Io, true, what + ares_strerror(status));
  }
}

bool bytes_waiting(int fd) {
  int n = 0;
  return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

bool is_writable_now(int fd) {
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}

bool parse_port(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5) {
    return false;
  }
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) {
    return false;
  }
  port = static_cast<uint16_t>(value);
  return true;
}

bool is_ip(const std::string& ip, bool v6) {
  unsigned char buf[16];
  return ::inet_pton(v6 ? AF_INET6 : AF_INET, ip.c_str(), buf) == 1;
}

}  // namespace

void sort_addresses(std::vector<DnsAddress>& addresses) {
  std::sort(addresses.begin(), addresses.end(), [](const DnsAddress& a, const DnsAddress& b) {
    return std::tie(a.ip, a.port, a.priority, a.weight, a.target) <
           std::tie(b.ip, b.port, b.priority, b.weight, b.target);
  });
}

bool same_addresses(const DnsAnswer& a, const DnsAnswer& b) {
  if (a.addresses.size() != b.addresses.size()) {
    return false;
  }
  std::vector<DnsAddress> x = a.addresses;
  std::vector<DnsAddress> y = b.addresses;
  sort_addresses(x);
  sort_addresses(y);
  for (size_t i = 0; i < x.size(); ++i) {
    if (!x[i].same_as(y[i])) {
      return false;
    }
  }
  return true;
}

std::string DnsServer::to_string() const {
  return (is_ipv6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

Result<DnsServer> parse_dns_server(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error::config("invalid DNS server \"" + std::string(text) + "\": " + std::string(why));
  };
  DnsServer server;
  if (text.find('%') != std::string_view::npos) {
    return bad("IPv6 zone ids are not supported");
  }
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return bad("missing ']'");
    }
    server.ip = std::string(text.substr(1, close - 1));
    server.is_ipv6 = true;
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !parse_port(rest.substr(1), server.port))) {
      return bad("bad port");
    }
  } else if (std::count(text.begin(), text.end(), ':') >= 2) {
    server.ip = std::string(text);  // bare IPv6 literal, no port
    server.is_ipv6 = true;
  } else {
    size_t colon = text.find(':');
    server.ip = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos && !parse_port(text.substr(colon + 1), server.port)) {
      return bad("bad port");
    }
  }
  if (!is_ip(server.ip, server.is_ipv6)) {
    return bad("not an IP address");
  }
  return server;
}

std::vector<std::string> nameservers_from_resolv_conf(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword;
    std::string address;
    std::string extra;
    if (!(words >> keyword >> address) || keyword != "nameserver" || (words >> extra)) {
      continue;  // APISIX takes only lines that are exactly "nameserver <address>"
    }
    if (address.find('%') != std::string::npos) {
      core::log_warn("dns: ignoring nameserver ", address, ": IPv6 zone ids are not supported");
      continue;
    }
    out.push_back(address);
  }
  return out;
}

// A socket c-ares opened, registered with the loop while c-ares uses it.
struct SocketWatch {
  int fd = -1;
  core::IoState* io = nullptr;
  bool want_write = false;
  bool writer_running = false;
  bool closed = false;
};

struct DnsResolver::Impl {
  core::Loop* loop = nullptr;
  DnsResolverOptions options;
  std::vector<DnsServer> servers;
  ares_channel channel = nullptr;
  bool closed = false;
  std::unordered_map<int, std::shared_ptr<SocketWatch>> sockets;
  std::unique_ptr<DnsTimer> timer;  // c-ares' next timeout
  std::weak_ptr<Impl> self;

  void process(ares_socket_t read_fd, ares_socket_t write_fd) {
    if (channel == nullptr) {
      return;
    }
    ares_process_fd(channel, read_fd, write_fd);
    rearm();
  }

  void rearm() {
    if (channel == nullptr || !timer) {
      return;
    }
    timeval buf{};
    timeval* next = ares_timeout(channel, nullptr, &buf);
    if (next == nullptr) {
      timer->disarm();
      return;
    }
    auto delay = std::chrono::seconds(next->tv_sec) + std::chrono::microseconds(next->tv_usec);
    timer->arm_at(core::Clock::now() + std::chrono::ceil<core::Clock::duration>(delay));
  }

  void on_socket_state(int fd, bool readable, bool writable);
  void shutdown();
};

namespace {

core::Task<void> read_loop(std::shared_ptr<DnsResolver::Impl> impl,
                           std::shared_ptr<SocketWatch> w) {
  co_await YieldToLoop{impl->loop};  // never call back into c-ares from its own callback
  while (!w->closed && !impl->closed) {
    core::Wait r = co_await impl->loop->readable(w->io, core::kNoDeadline);
    if (r != core::Wait::Ready || w->closed) {
      break;
    }
    w->io->readable = false;
    impl->process(w->fd, ARES_SOCKET_BAD);
    // The loop is edge-triggered and c-ares reads one TCP chunk per call: if bytes are left,
    // go round again instead of waiting for an edge that will not come.
    if (!w->closed && bytes_waiting(w->fd)) {
      w->io->readable = true;
    }
  }
}

core::Task<void> write_loop(std::shared_ptr<DnsResolver::Impl> impl,
                            std::shared_ptr<SocketWatch> w) {
  w->writer_running = true;
  co_await YieldToLoop{impl->loop};
  while (!w->closed && !impl->closed && w->want_write) {
    core::Wait r = co_await impl->loop->writable(w->io, core::kNoDeadline);
    if (r != core::Wait::Ready || w->closed) {
      break;
    }
    w->io->writable = false;
    impl->process(ARES_SOCKET_BAD, w->fd);
    if (!w->closed && w->want_write && is_writable_now(w->fd)) {
      w->io->writable = true;
    }
  }
  w->writer_running = false;
}

}  // namespace

// c-ares' socket-state callback: a socket appears (register it), changes interest, or is about
// to be closed (unregister it before c-ares closes the fd).
void DnsResolver::Impl::on_socket_state(int fd, bool readable, bool writable) {
  auto it = sockets.find(fd);
  if (!readable && !writable) {
    if (it != sockets.end()) {
      std::shared_ptr<SocketWatch> w = it->second;
      sockets.erase(it);
      w->closed = true;
      loop->cancel(w->io);  // waiting reader/writer coroutines wake up and end
      loop->remove(w->io);
    }
    return;
  }
  std::shared_ptr<Impl> me = self.lock();
  if (!me) {
    return;
  }
  std::shared_ptr<SocketWatch> w;
  if (it == sockets.end()) {
    core::IoState* io = loop->add(fd);
    if (io == nullptr) {
      core::log_error("dns: cannot register resolver socket ", fd, " with the event loop");
      return;  // the query on it will time out
    }
    w = std::make_shared<SocketWatch>();
    w->fd = fd;
    w->io = io;
    sockets.emplace(fd, w);
    core::spawn(read_loop(me, w));
  } else {
    w = it->second;
  }
  w->want_write = writable;
  if (writable && !w->writer_running) {
    core::spawn(write_loop(me, w));
  }
}

void DnsResolver::Impl::shutdown() {
  if (closed) {
    return;
  }
  closed = true;
  if (channel != nullptr) {
    // Fails pending queries with ARES_EDESTRUCTION (their coroutines resume from the loop)
    // and reports every socket closed.
    ares_channel c = std::exchange(channel, nullptr);
    ares_destroy(c);
  }
  for (auto& [fd, w] : sockets) {
    w->closed = true;
    loop->cancel(w->io);
    loop->remove(w->io);
  }
  sockets.clear();
  timer.reset();
}

namespace {

struct RawReply {
  int status = ARES_SUCCESS;
  std::vector<uint8_t> bytes;
};

// co_await QueryAwaiter{...}: one c-ares query. The reply resumes the coroutine from the top of
// the loop, never from inside c-ares. The awaiter lives in the coroutine frame: a lookup must
// not be destroyed while it is suspended here.
struct QueryAwaiter {
  DnsResolver::Impl* impl;
  const std::string& name;
  RecordType type;
  RawReply reply;
  std::coroutine_handle<> waiter;

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    waiter = h;
    if (impl->closed || impl->channel == nullptr) {
      reply.status = ARES_EDESTRUCTION;
      impl->loop->defer(h);
      return;
    }
    int dns_class = 1;  // IN
    int dns_type = static_cast<int>(type);
    if (impl->options.use_search) {
      ares_search(impl->channel, name.c_str(), dns_class, dns_type, &QueryAwaiter::on_reply, this);
    } else {
      ares_query(impl->channel, name.c_str(), dns_class, dns_type, &QueryAwaiter::on_reply, this);
    }
    impl->rearm();
  }
  RawReply await_resume() { return std::move(reply); }

  static void on_reply(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    auto* self = static_cast<QueryAwaiter*>(arg);
    self->reply.status = status;
    if (status == ARES_SUCCESS && abuf != nullptr && alen > 0) {
      self->reply.bytes.assign(abuf, abuf + alen);
    }
    self->impl->loop->defer(self->waiter);
  }
};

core::Task<Result<DnsAnswer>> lookup(std::shared_ptr<DnsResolver::Impl> impl, std::string name,
                                     RecordType type);

core::Task<Result<DnsAnswer>> lookup_address(std::shared_ptr<DnsResolver::Impl> impl,
                                             std::string name) {
  Result<DnsAnswer> a = co_await lookup(impl, name, RecordType::A);
  if (a.ok() || a.error().kind != ErrorKind::NotFound || !impl->options.enable_ipv6) {
    co_return a;
  }
  Result<DnsAnswer> aaaa = co_await lookup(impl, name, RecordType::AAAA);
  if (aaaa.ok()) {
    co_return aaaa;
  }
  co_return a;  // report the A failure: it is the first one APISIX would see too
}

core::Task<Result<DnsAnswer>> lookup(std::shared_ptr<DnsResolver::Impl> impl, std::string name,
                                     RecordType type) {
  RawReply raw = co_await QueryAwaiter{impl.get(), name, type, {}, {}};
  if (raw.status != ARES_SUCCESS) {
    co_return status_error(raw.status, name, type);
  }
  Result<DnsReply> reply = parse_dns_reply(raw.bytes);
  if (!reply) {
    Error e = reply.error();
    e.context = "dns: " + name + " " + std::string(to_string(type)) + ": " + e.context;
    co_return e;
  }
  DnsAnswer answer;
  answer.name = name;
  answer.type = type;
  uint32_t ttl = UINT32_MAX;
  std::vector<DnsRecord> srvs;
  std::string cname_target;
  for (const DnsRecord& rec : reply->answers) {
    if (rec.type == static_cast<uint16_t>(RecordType::CNAME)) {
      ttl = std::min(ttl, rec.ttl_s);  // the chain is only good as long as its links
      if (type == RecordType::CNAME && cname_target.empty()) {
        cname_target = rec.data;
      }
      continue;
    }
    if (rec.type != static_cast<uint16_t>(type)) {
      continue;
    }
    ttl = std::min(ttl, rec.ttl_s);
    if (type == RecordType::SRV) {
      srvs.push_back(rec);
    } else {
      DnsAddress addr;
      addr.ip = rec.data;
      addr.is_ipv6 = type == RecordType::AAAA;
      addr.ttl_s = rec.ttl_s;
      answer.addresses.push_back(std::move(addr));
    }
  }
  if (type == RecordType::CNAME) {
    if (cname_target.empty()) {
      co_return status_error(ARES_ENODATA, name, type);
    }
    Result<DnsAnswer> target = co_await lookup_address(impl, cname_target);
    if (!target) {
      co_return target;
    }
    target->name = name;
    target->ttl_s = std::min(ttl, target->ttl_s);
    co_return target;
  }
  for (const DnsRecord& srv : srvs) {
    Result<DnsAnswer> target = co_await lookup_address(impl, srv.data);
    if (!target) {
      Error e = target.error();
      e.context = "dns: failed to resolve SRV record " + srv.data + ": " + e.context;
      co_return e;
    }
    ttl = std::min(ttl, target->ttl_s);
    for (DnsAddress& addr : target->addresses) {
      addr.target = srv.data;
      addr.port = srv.port;
      addr.priority = srv.priority;
      addr.weight = srv.weight;
      answer.addresses.push_back(std::move(addr));
    }
  }
  if (answer.addresses.empty()) {
    co_return status_error(ARES_ENODATA, name, type);
  }
  answer.ttl_s = ttl;
  co_return answer;
}

}  // namespace

Result<std::unique_ptr<DnsResolver>> DnsResolver::create(core::Loop& loop,
                                                         DnsResolverOptions options) {
  init_library_once();
  std::vector<std::string> names = options.servers;
  if (names.empty()) {
    std::ifstream in(options.resolv_conf);
    std::stringstream text;
    text << in.rdbuf();
    names = nameservers_from_resolv_conf(text.str());
    if (names.empty()) {
      return Error::config("no DNS server: none configured and no nameserver in " +
                           options.resolv_conf);
    }
  }
  auto impl = std::make_shared<Impl>();
  impl->loop = &loop;
  for (const std::string& name : names) {
    auto server = parse_dns_server(name);
    if (!server) {
      return server.error();
    }
    impl->servers.push_back(*server);
  }

  ares_options opts{};
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS |
             ARES_OPT_LOOKUPS;
  opts.timeout = static_cast<int>(std::clamp<int64_t>(options.timeout.count(), 1, INT_MAX));
  opts.tries = std::max(1, options.attempts);
  opts.flags = ARES_FLAG_NOALIASES;
  opts.lookups = const_cast<char*>("b");  // the hosts file is the caller's business
  opts.sock_state_cb = [](void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<Impl*>(data)->on_socket_state(fd, readable != 0, writable != 0);
  };
  opts.sock_state_cb_data = impl.get();
  if (!options.resolv_conf.empty()) {
    mask |= ARES_OPT_RESOLVCONF;
    opts.resolvconf_path = const_cast<char*>(options.resolv_conf.c_str());
  }
  if (!options.use_search) {
    mask |= ARES_OPT_DOMAINS;
    opts.domains = nullptr;
    opts.ndomains = 0;
  }
  int rc = ares_init_options(&impl->channel, &opts, mask);
  if (rc != ARES_SUCCESS) {
    return Error{ErrorKind::Io, ErrorSource::Internal, false,
                 std::string("dns: c-ares initialisation failed: ") + ares_strerror(rc)};
  }

  std::vector<ares_addr_port_node> nodes(impl->servers.size());
  for (size_t i = 0; i < impl->servers.size(); ++i) {
    const DnsServer& s = impl->servers[i];
    ares_addr_port_node& n = nodes[i];
    n.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
    n.family = s.is_ipv6 ? AF_INET6 : AF_INET;
    ::inet_pton(n.family, s.ip.c_str(),
                s.is_ipv6 ? static_cast<void*>(&n.addr.addr6) : static_cast<void*>(&n.addr.addr4));
    n.udp_port = s.port;
    n.tcp_port = s.port;
  }
  rc = ares_set_servers_ports(impl->channel, nodes.data());
  if (rc != ARES_SUCCESS) {
    ares_destroy(impl->channel);
    return Error::config(std::string("dns: cannot set servers: ") + ares_strerror(rc));
  }
  impl->options = std::move(options);
  impl->self = impl;
  Impl* raw = impl.get();
  impl->timer =
      std::make_unique<DnsTimer>(loop, [raw] { raw->process(ARES_SOCKET_BAD, ARES_SOCKET_BAD); });
  return std::unique_ptr<DnsResolver>(new DnsResolver(std::move(impl)));
}

DnsResolver::DnsResolver(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

DnsResolver::~DnsResolver() { impl_->shutdown(); }

core::Task<Result<DnsAnswer>> DnsResolver::resolve(std::string name, RecordType type) {
  return lookup(impl_, std::move(name), type);
}

core::Task<Result<DnsAnswer>> DnsResolver::resolve_address(std::string name) {
  return lookup_address(impl_, std::move(name));
}

const std::vector<DnsServer>& DnsResolver::servers() const { return impl_->servers; }

const DnsResolverOptions& DnsResolver::options() const { return impl_->options; }

}  // namespace apisix::upstream
