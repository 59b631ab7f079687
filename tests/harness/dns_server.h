#pragma once

// DnsmasqServer: a real DNS server for tests. Runs Debian's dnsmasq in the foreground on
// 127.0.0.1 (a free UDP+TCP port, retried on collision), isolated from the host's own
// configuration (--no-resolv, --no-hosts, its own conf file in a temp dir), answering only from
// the records given here. Names under the test zone that are not configured get NXDOMAIN.
//
// Records come in two kinds because dnsmasq re-reads only some of them on SIGHUP:
//  - `hosts` (addn-hosts file: A/AAAA, TTL = local_ttl): set_hosts() rewrites the file and sends
//    SIGHUP, the server keeps running;
//  - `host_records` (own TTL each), `srvs`, `cnames` live in the conf file: restart() rewrites it
//    and restarts dnsmasq on the SAME port.
// Not root-only: with --no-daemon dnsmasq never changes its user id, so it runs as whoever runs
// the test. Stopped by its pid in the destructor. Not thread-safe; use from the test thread.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "tests/harness/temp_dir.h"

namespace apisix::test {

struct DnsRecords {
  struct Host {  // --host-record=name,ip[,ip],ttl
    std::string name;
    std::vector<std::string> ips;  // IPv4 and/or IPv6 literals
    std::optional<uint32_t> ttl_s;
  };
  struct Srv {  // --srv-host=name,target,port,priority,weight (TTL = local_ttl)
    std::string name;
    std::string target;
    uint16_t port = 0;
    uint16_t priority = 0;
    uint16_t weight = 0;
  };
  struct Cname {  // --cname=alias,target[,ttl]
    std::string alias;
    std::string target;
    std::optional<uint32_t> ttl_s;
  };
  struct HostsLine {  // a line of the addn-hosts file: "ip name"
    std::string ip;
    std::string name;
  };
  std::vector<Host> host_records;
  std::vector<Srv> srvs;
  std::vector<Cname> cnames;
  std::vector<HostsLine> hosts;
  uint32_t local_ttl_s = 1;   // TTL of `hosts` lines and SRV records
  std::string zone = "test";  // dnsmasq answers NXDOMAIN for unknown names under it
};

// What a direct query to the server returned (the harness's own tiny DNS client).
struct DnsProbe {
  bool answered = false;
  int rcode = -1;
  std::vector<std::string> addresses;  // A/AAAA answers, sorted
  std::string describe() const;
};

class DnsmasqServer {
 public:
  explicit DnsmasqServer(DnsRecords records);
  ~DnsmasqServer();
  DnsmasqServer(const DnsmasqServer&) = delete;
  DnsmasqServer& operator=(const DnsmasqServer&) = delete;

  // False when dnsmasq could not be started; error() says why (with its log).
  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

  // Replaces the addn-hosts lines and makes dnsmasq re-read them (SIGHUP). Returns once the
  // server answers `check_name` with exactly the new addresses of that name.
  bool set_hosts(std::vector<DnsRecords::HostsLine> hosts, const std::string& check_name);
  // Replaces every record and restarts dnsmasq on the same port; returns once it answers.
  bool restart(DnsRecords records);
  // Stops dnsmasq (the port then has nothing listening).
  void stop();

  // One query (type 1 = A, 28 = AAAA, 33 = SRV) with retransmits until `timeout` (scaled).
  DnsProbe query(const std::string& name, uint16_t type = 1,
                 std::chrono::milliseconds timeout = std::chrono::seconds(2)) const;
  std::string log_tail() const;

 private:
  bool start_on(uint16_t port);
  void write_config();

  DnsRecords records_;
  TempDir dir_{"apisix-dns-"};
  std::filesystem::path conf_;
  std::filesystem::path hosts_file_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string error_;
};

// The dnsmasq binary: `dnsmasq` on PATH, else /usr/sbin/dnsmasq or /sbin/dnsmasq; empty if none.
std::string find_dnsmasq();

}  // namespace apisix::test
