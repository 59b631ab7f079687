#pragma once
// Server: the process. Loads config.yaml, binds the listeners, starts the workers and runs
// the control thread's loop: signals (TERM fast stop, QUIT graceful, HUP reload), the config
// provider (the standalone file is polled for changes), and snapshot publication.

#include <memory>
#include <string>
#include <vector>

#include "admin/admin_server.h"
#include "admin/control_server.h"
#include "config/gateway_config.h"
#include "config/standalone.h"
#include "core/loop.h"
#include "core/result.h"
#include "gateway/dns_nodes.h"
#include "gateway/settings.h"
#include "gateway/snapshot.h"
#include "gateway/store_follower.h"
#include "gateway/worker.h"
#include "plugins/prometheus/export_server.h"
#include "upstream/health_checker.h"

namespace apisix::gateway {

struct ServerOptions {
  std::string prefix = ".";  // holds conf/, logs/ and data/
  std::string config_path;   // default: <prefix>/conf/config.yaml
};

// The settings the request path reads, from a loaded config.yaml.
Result<std::shared_ptr<const RuntimeSettings>> make_settings(const config::GatewayConfig& config);

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  // Loads configuration, binds listeners, starts workers, writes logs/apisix.pid and
  // logs/listen. On error nothing keeps running.
  Result<void> start();
  // Runs the control loop until a stop or quit finishes; returns the process exit code.
  int run();

 private:
  core::Task<void> signal_loop(int signal_fd);
  core::Task<void> watch_standalone();
  core::Task<void> wait_for_workers();
  bool load_standalone(bool initial);
  void reload();
  void publish();
  void publish(std::shared_ptr<const Snapshot> snapshot);
  // Health checks and the Control API (core.md §7.7, §8.1).
  Result<void> start_control_api();
  void sync_health_checks();
  void stop_health_and_control();
  upstream::HealthReportItem health_item(const SnapshotBuilder::HealthSource& source) const;
  // The Control API's configuration records (core.md §8.1).
  std::vector<admin::ResourceRecord> control_records(std::string_view type,
                                                     std::optional<std::string_view> id);
  static boost::json::value control_schema();
  // The Admin API (embedded provider): options from deployment.admin, and the changes it
  // accepts turned into snapshots.
  Result<admin::AdminOptions> admin_options();
  // The enabled built-in plugins (config.yaml `plugins:`), made on first use.
  std::shared_ptr<const plugins::Registry> plugin_registry();
  // The prometheus export server on the control loop (plugins.md §6.1), when enabled.
  Result<void> start_prometheus_export();
  std::vector<admin::PluginInfo> admin_plugin_infos();
  // The Admin API's plugin_check: compiles a configuration with the plugin's compile().
  std::function<std::optional<std::string>(std::string_view, const boost::json::value&)>
  plugin_checker();
  void apply_admin_changes(const std::vector<admin::Change>& changes);
  // Opens the embedded store in PREFIX/data/store and loads what it holds into the Admin API.
  Result<void> open_embedded_store();
  // The etcd provider (core.md §2.6): the first full load (before the workers start), then
  // a StoreFollower on the control loop.
  Result<void> open_etcd_store();
  void apply_store_events(const std::vector<store::Event>& events);
  void apply_store_listing(const std::vector<store::KeyValue>& items, int64_t revision);
  core::Task<void> admin_housekeeping();
  std::string path(const std::string& relative) const;

  ServerOptions options_;
  config::GatewayConfig config_;
  std::shared_ptr<const RuntimeSettings> settings_;
  config::StandaloneConfig resources_;
  std::string standalone_path_;
  struct FileStamp {
    int64_t mtime_ns = -1;
    int64_t size = -1;
    uint64_t inode = 0;
    bool operator==(const FileStamp&) const = default;
  };
  FileStamp standalone_stamp_;
  uint64_t version_ = 0;
  std::unique_ptr<SnapshotBuilder> builder_;
  std::shared_ptr<const plugins::Registry> plugin_registry_;
  // Plugin state that outlives snapshots (counters), shared by every snapshot.
  std::shared_ptr<plugins::RuntimeState> plugin_runtime_ =
      std::make_shared<plugins::RuntimeState>();
  std::unique_ptr<store::ConfigStore> store_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::vector<admin::Change> loaded_changes_;  // from the store at start, for the first snapshot
  int64_t loaded_revision_ = 0;                // the store revision of that first load
  std::unique_ptr<StoreFollower> follower_;    // etcd: the watch after the first load
  std::vector<std::unique_ptr<Worker>> workers_;
  core::Loop control_;
  // After control_: they run on it and must go first.
  std::unique_ptr<upstream::HealthChecker> health_checker_;
  std::unique_ptr<admin::ControlServer> control_api_;
  std::unique_ptr<plugins::prometheus::ExportServer> prometheus_export_;
  std::string prometheus_ip_;
  // Resolves domain nodes and dns discovery on control_; its answers recompile the upstreams
  // that use them (core.md §7.3, §7.4).
  std::unique_ptr<DnsNodeSource> node_source_;
  int exit_code_ = 0;
  int access_log_fd_ = -1;
  bool stopping_ = false;
};

}  // namespace apisix::gateway
