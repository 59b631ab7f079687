#include "tests/harness/dns_server.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/process.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

// A port free for both UDP and TCP on 127.0.0.1 right now (dnsmasq needs both).
uint16_t pick_free_port() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(udp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(udp);
      continue;
    }
    int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool tcp_free = ::bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(tcp);
    ::close(udp);
    if (tcp_free) {
      return ntohs(addr.sin_port);
    }
  }
  return 0;
}

void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}

std::string make_query(uint16_t id, const std::string& name, uint16_t type) {
  std::string q;
  put_u16(q, id);
  put_u16(q, 0x0100);  // RD
  put_u16(q, 1);
  put_u16(q, 0);
  put_u16(q, 0);
  put_u16(q, 0);
  std::stringstream labels(name);
  std::string label;
  while (std::getline(labels, label, '.')) {
    q.push_back(static_cast<char>(label.size()));
    q += label;
  }
  q.push_back('\0');
  put_u16(q, type);
  put_u16(q, 1);
  return q;
}

// Skips a (possibly compressed) name; false when it runs off the end.
bool skip_name(const std::string& m, size_t& pos) {
  while (pos < m.size()) {
    auto len = static_cast<uint8_t>(m[pos]);
    if ((len & 0xC0) == 0xC0) {
      pos += 2;
      return pos <= m.size();
    }
    pos += 1 + len;
    if (len == 0) {
      return pos <= m.size();
    }
  }
  return false;
}

uint16_t get_u16(const std::string& m, size_t pos) {
  return static_cast<uint16_t>((static_cast<uint8_t>(m[pos]) << 8) |
                               static_cast<uint8_t>(m[pos + 1]));
}

bool parse_probe(const std::string& m, uint16_t id, DnsProbe& probe) {
  if (m.size() < 12 || get_u16(m, 0) != id) {
    return false;
  }
  probe.answered = true;
  probe.rcode = get_u16(m, 2) & 0x0F;
  uint16_t qd = get_u16(m, 4);
  uint16_t an = get_u16(m, 6);
  size_t pos = 12;
  for (uint16_t i = 0; i < qd; ++i) {
    if (!skip_name(m, pos)) {
      return true;
    }
    pos += 4;
  }
  for (uint16_t i = 0; i < an; ++i) {
    if (!skip_name(m, pos) || pos + 10 > m.size()) {
      break;
    }
    uint16_t type = get_u16(m, pos);
    uint16_t rdlen = get_u16(m, pos + 8);
    pos += 10;
    if (pos + rdlen > m.size()) {
      break;
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (type == 1 && rdlen == 4) {
      ::inet_ntop(AF_INET, m.data() + pos, text, sizeof(text));
      probe.addresses.emplace_back(text);
    } else if (type == 28 && rdlen == 16) {
      ::inet_ntop(AF_INET6, m.data() + pos, text, sizeof(text));
      probe.addresses.emplace_back(text);
    }
    pos += rdlen;
  }
  std::sort(probe.addresses.begin(), probe.addresses.end());
  return true;
}

}  // namespace

std::string DnsProbe::describe() const {
  if (!answered) {
    return "no answer";
  }
  std::string s = "rcode " + std::to_string(rcode) + " [";
  for (const auto& a : addresses) {
    s += a + " ";
  }
  return s + "]";
}

std::string find_dnsmasq() {
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / "dnsmasq";
      if (::access(candidate.c_str(), X_OK) == 0) {
        return candidate.string();
      }
    }
  }
  for (const char* candidate : {"/usr/sbin/dnsmasq", "/sbin/dnsmasq"}) {
    if (::access(candidate, X_OK) == 0) {
      return candidate;
    }
  }
  return {};
}

DnsmasqServer::DnsmasqServer(DnsRecords records) : records_(std::move(records)) {
  conf_ = dir_.path() / "dnsmasq.conf";
  hosts_file_ = dir_.path() / "hosts";
  log_ = dir_.path() / "dnsmasq.log";
  for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
    uint16_t port = pick_free_port();
    if (port == 0) {
      error_ = "no free port";
      continue;
    }
    start_on(port);  // fails only when someone took the port meanwhile, or dnsmasq is missing
  }
}

DnsmasqServer::~DnsmasqServer() { stop(); }

void DnsmasqServer::write_config() {
  std::string conf;
  conf += "port=" + std::to_string(port_) + "\n";
  conf += "listen-address=127.0.0.1\nbind-interfaces\n";
  conf += "no-resolv\nno-hosts\nno-poll\nno-negcache\n";
  conf += "local=/" + records_.zone + "/\n";
  conf += "pid-file=" + (dir_.path() / "dnsmasq.pid").string() + "\n";
  conf += "log-facility=" + log_.string() + "\nlog-queries\n";
  conf += "local-ttl=" + std::to_string(records_.local_ttl_s) + "\n";
  conf += "addn-hosts=" + hosts_file_.string() + "\n";
  for (const auto& h : records_.host_records) {
    conf += "host-record=" + h.name;
    for (const auto& ip : h.ips) {
      conf += "," + ip;
    }
    if (h.ttl_s) {
      conf += "," + std::to_string(*h.ttl_s);
    }
    conf += "\n";
  }
  for (const auto& s : records_.srvs) {
    conf += "srv-host=" + s.name + "," + s.target + "," + std::to_string(s.port) + "," +
            std::to_string(s.priority) + "," + std::to_string(s.weight) + "\n";
  }
  for (const auto& c : records_.cnames) {
    conf += "cname=" + c.alias + "," + c.target;
    if (c.ttl_s) {
      conf += "," + std::to_string(*c.ttl_s);
    }
    conf += "\n";
  }
  std::string hosts;
  for (const auto& line : records_.hosts) {
    hosts += line.ip + " " + line.name + "\n";
  }
  write_file_atomically(hosts_file_, hosts);
  write_file_atomically(conf_, conf);
}

bool DnsmasqServer::start_on(uint16_t port) {
  std::string binary = find_dnsmasq();
  if (binary.empty()) {
    error_ = "dnsmasq not found on PATH, /usr/sbin or /sbin";
    return false;
  }
  port_ = port;
  write_config();
  // --no-daemon: stay in the foreground as a child we can signal and reap, and never switch
  // to another user (so the temp dir stays readable and no root is needed).
  std::vector<std::string> argv = {binary, "--no-daemon", "--conf-file=" + conf_.string()};
  std::string spawn_error;
  pid_t pid = spawn_process(argv, dir_.path() / "stdout", dir_.path() / "stderr", spawn_error);
  if (pid < 0) {
    error_ = spawn_error;
    return false;
  }
  // Ready when it answers anything (NXDOMAIN for the probe name); gone means the port was taken.
  Deadline deadline = deadline_in(std::chrono::seconds(10));
  while (Clock::now() < deadline) {
    if (auto code = wait_for_exit(pid, Clock::now())) {
      error_ = "dnsmasq exited with " + std::to_string(*code) + ": " + log_tail();
      return false;
    }
    DnsProbe probe = query("ready-probe." + records_.zone, 1, std::chrono::milliseconds(200));
    if (probe.answered) {
      pid_ = pid;
      error_.clear();
      return true;
    }
  }
  ::kill(pid, SIGKILL);
  wait_for_exit(pid, Deadline::max());
  error_ = "dnsmasq did not answer on port " + std::to_string(port) + ": " + log_tail();
  return false;
}

void DnsmasqServer::stop() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGTERM);
  if (!wait_for_exit(pid_, deadline_in(std::chrono::seconds(5)))) {
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, Deadline::max());
  }
  pid_ = -1;
}

bool DnsmasqServer::set_hosts(std::vector<DnsRecords::HostsLine> hosts,
                              const std::string& check_name) {
  records_.hosts = std::move(hosts);
  std::string text;
  std::vector<std::string> expected;
  for (const auto& line : records_.hosts) {
    text += line.ip + " " + line.name + "\n";
    if (line.name == check_name && line.ip.find(':') == std::string::npos) {
      expected.push_back(line.ip);
    }
  }
  std::sort(expected.begin(), expected.end());
  write_file_atomically(hosts_file_, text);
  if (pid_ <= 0 || ::kill(pid_, SIGHUP) != 0) {
    return false;
  }
  return wait_until(
      [&] {
        DnsProbe probe = query(check_name, 1, std::chrono::milliseconds(500));
        return probe.answered && probe.addresses == expected;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(20));
}

bool DnsmasqServer::restart(DnsRecords records) {
  uint16_t port = port_;
  stop();
  records_ = std::move(records);
  // The port was ours a moment ago; another process may grab it in between, so retry a little.
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (start_on(port)) {
      return true;
    }
  }
  return false;
}

DnsProbe DnsmasqServer::query(const std::string& name, uint16_t type,
                              std::chrono::milliseconds timeout) const {
  DnsProbe probe;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return probe;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port_);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static uint16_t next_id = 1;
  uint16_t id = next_id++;
  std::string q = make_query(id, name, type);
  Deadline deadline = deadline_in(timeout);
  while (Clock::now() < deadline && !probe.answered) {
    ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    // Retransmit every 100 ms until the deadline: UDP may drop, the server may be starting.
    Deadline resend = std::min(deadline, Clock::now() + std::chrono::milliseconds(100));
    while (Clock::now() < resend) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, remaining_ms(resend)) <= 0) {
        break;
      }
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0 && parse_probe(std::string(buf, static_cast<size_t>(n)), id, probe)) {
        break;
      }
    }
  }
  ::close(fd);
  return probe;
}

std::string DnsmasqServer::log_tail() const {
  return tail_file(log_, 20) + tail_file(dir_.path() / "stderr", 10);
}

}  // namespace apisix::test
