#include "gateway/server.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json/parse.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/resource_parse.h"
#include "core/log.h"
#include "plugins/prometheus/export_server.h"
#include "plugins/prometheus/exporter.h"
#include "schema/core_schemas.h"
#include "store/embedded_store.h"
#include "store/etcd_store.h"
#include "upstream/health_report.h"

#ifndef APISIX_COMPAT_VERSION
#define APISIX_COMPAT_VERSION "3.18.0"
#endif

namespace apisix::gateway {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

Result<std::shared_ptr<const RuntimeSettings>> make_settings(const config::GatewayConfig& c) {
  auto s = std::make_shared<RuntimeSettings>();
  s->keepalive_timeout = c.keepalive_timeout;
  s->client_header_timeout = c.client_header_timeout;
  s->client_body_timeout = c.client_body_timeout;
  s->send_timeout = c.send_timeout;
  s->client_max_body_size = c.client_max_body_size;
  s->worker_connections = c.worker_connections;
  s->worker_shutdown_timeout = c.worker_shutdown_timeout;
  s->limits.allow_underscores_in_headers = c.underscores_in_headers;
  s->server_header = c.enable_server_tokens ? "APISIX/" APISIX_COMPAT_VERSION : "APISIX";
  s->show_upstream_status = c.show_upstream_status_in_response_header;
  s->default_pool.size = c.upstream_keepalive;
  s->default_pool.requests = c.upstream_keepalive_requests;
  s->default_pool.idle_timeout = c.upstream_keepalive_timeout;
  if (!router::parse_mode(c.router_http, s->router_mode)) {
    return Error::config("invalid config: apisix.router.http: unknown router \"" + c.router_http +
                         "\"");
  }
  return std::shared_ptr<const RuntimeSettings>(std::move(s));
}

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() {
  if (auto* exporter = plugins::prometheus::find_exporter()) {
    exporter->set_node_sources({});  // its callbacks read workers_
  }
  for (auto& w : workers_) {
    w->stop();
  }
  workers_.clear();
}

std::string Server::path(const std::string& relative) const {
  if (!relative.empty() && relative.front() == '/') {
    return relative;
  }
  return (fs::path(options_.prefix) / relative).string();
}

namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

bool write_file_atomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return false;
    }
    out << content;
    if (!out) {
      return false;
    }
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

namespace {

core::Task<void> list_into(store::ConfigStore& store, std::string prefix,
                           std::optional<Result<store::ListResult>>& out) {
  out = co_await store.list(std::move(prefix));
}

Result<store::ListResult> list_now(store::ConfigStore& store, std::string prefix) {
  // At start nothing is in flight, so the embedded store answers without waiting; the
  // control loop does not run yet, so a list that had to wait is an error, not a hang.
  std::optional<Result<store::ListResult>> out;
  core::spawn(list_into(store, std::move(prefix), out));
  if (!out) {
    return Error{ErrorKind::Io, ErrorSource::Internal, false, "the store did not answer at once"};
  }
  return std::move(*out);
}

ResourceChanges to_resource_changes(const std::vector<admin::Change>& changes) {
  ResourceChanges rc;
  for (const admin::Change& c : changes) {
    if (c.type == "routes") {
      if (!c.value) {
        rc.removed_routes.push_back(c.id);
      } else if (auto r = config::parse_route(*c.value)) {
        rc.routes.push_back(std::move(r.value()));
      }
    } else if (c.type == "services") {
      if (!c.value) {
        rc.removed_services.push_back(c.id);
      } else if (auto r = config::parse_service(*c.value)) {
        rc.services.push_back(std::move(r.value()));
      }
    } else if (c.type == "upstreams") {
      if (!c.value) {
        rc.removed_upstreams.push_back(c.id);
      } else if (auto r = config::parse_upstream(*c.value)) {
        rc.upstreams.push_back(std::move(r.value()));
      }
    } else if (c.type == "plugin_configs" || c.type == "global_rules" || c.type == "consumers" ||
               c.type == "consumer_groups" || c.type == "plugin_metadata") {
      rc.plugin_resources.push_back(PluginResourceChange{c.type, c.id, c.value});
    }
  }
  return rc;
}

// config.yaml's plugin_attr object (empty when absent).
boost::json::object plugin_attr_of(const boost::json::value& raw) {
  if (const auto* root = raw.if_object()) {
    if (const auto* attr = root->if_contains("plugin_attr"); attr && attr->is_object()) {
      return attr->get_object();
    }
  }
  return {};
}

boost::json::value parse_schema_text(std::string_view text) {
  if (text.empty()) {
    return nullptr;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  return ec ? boost::json::value(nullptr) : v;
}

}  // namespace

Result<void> Server::start() {
  std::string config_path =
      options_.config_path.empty() ? path("conf/config.yaml") : options_.config_path;
  auto loaded = config::load_gateway_config_file(config_path, config::process_env());
  if (!loaded) {
    return loaded.error();
  }
  config_ = std::move(loaded.value());
  auto settings = make_settings(config_);
  if (!settings) {
    return settings.error();
  }
  settings_ = *settings;

  std::error_code ec;
  fs::create_directories(path("logs"), ec);
  fs::create_directories(path("data"), ec);
  if (!core::log_open(path(config_.error_log))) {
    return Error::config("cannot open error log " + path(config_.error_log));
  }
  core::log_set_level(config_.error_log_level);

  // Where routes come from (core.md §1.4).
  const std::string& provider = config_.config_provider;
  if (provider == "yaml" && config_.role == "data_plane") {
    standalone_path_ = path("conf/apisix.yaml");
    if (!load_standalone(true)) {
      return Error::config("cannot load " + standalone_path_ + " (see " + path(config_.error_log) +
                           ")");
    }
  } else if (provider == "embedded") {
    // Routes come from the Admin API and live in the durable embedded store.
    if (auto opened = open_embedded_store(); !opened) {
      return opened.error();
    }
    if (config_.enable_admin) {
      auto options = admin_options();
      if (!options) {
        return options.error();
      }
      admin_ = std::make_unique<admin::AdminServer>(
          control_, std::move(options.value()),
          [this](const std::vector<admin::Change>& changes) { apply_admin_changes(changes); },
          store_.get());
      auto listed = list_now(*store_, "");
      if (!listed) {
        return Error::config("cannot read the embedded store in " + path("data/store") + ": " +
                             listed.error().context);
      }
      loaded_changes_ = admin_->load(listed->items);
      if (auto listened = admin_->listen(); !listened) {
        return Error::config("cannot listen on the Admin API address " + config_.admin_listen.ip +
                             ":" + std::to_string(config_.admin_listen.port) + ": " +
                             listened.error().context);
      }
    }
  } else if (provider == "etcd") {
    // Resources come from etcd (APISIX's key layout); the Admin API, when this node runs it,
    // writes there, and every node follows the same watch.
    if (auto opened = open_etcd_store(); !opened) {
      return opened.error();
    }
  } else {
    return Error::config("invalid config: deployment.role_" + config_.role +
                         ".config_provider: \"" + provider +
                         "\" is not supported by this build yet (use yaml)");
  }

  // Listeners: one SO_REUSEPORT socket per worker and address, so the kernel spreads
  // connections; port 0 is resolved by the first bind and then shared.
  uint32_t worker_count = static_cast<uint32_t>(std::max(1, config_.worker_processes));
  bool reuse_port = config_.enable_reuseport;
  std::vector<std::vector<Listener>> per_worker(worker_count);
  std::string listen_report;
  for (const config::ListenAddr& addr : config_.node_listen) {
    core::Endpoint ep;
    if (!core::Endpoint::parse(addr.ip, addr.port, ep)) {
      return Error::config("invalid config: apisix.node_listen: bad address " + addr.ip);
    }
    uint16_t port = addr.port;
    int shared_fd = -1;
    for (uint32_t w = 0; w < worker_count; ++w) {
      int fd;
      if (!reuse_port && shared_fd >= 0) {
        fd = ::dup(shared_fd);
      } else {
        core::Endpoint bind_ep;
        core::Endpoint::parse(addr.ip, port, bind_ep);
        auto listened = core::listen_tcp(bind_ep, reuse_port, 4096);
        if (!listened) {
          return listened.error();
        }
        fd = *listened;
        port = core::bound_port(fd);
        shared_fd = fd;
      }
      per_worker[w].push_back(Listener{fd, port});
    }
    core::Endpoint shown;
    core::Endpoint::parse(addr.ip, port, shown);
    listen_report += "http " + shown.to_string() + "\n";
  }
  if (admin_ && config_.enable_admin) {
    core::Endpoint shown;
    core::Endpoint::parse(config_.admin_listen.ip, admin_->bound_port(), shown);
    listen_report += "admin " + shown.to_string() + "\n";
  }
  if (config_.enable_control) {
    if (auto started = start_control_api(); !started) {
      return started.error();
    }
    core::Endpoint shown;
    core::Endpoint::parse(config_.control.ip, control_api_->bound_port(), shown);
    listen_report += "control " + shown.to_string() + "\n";
  }
  if (auto started = start_prometheus_export(); !started) {
    return started.error();
  } else if (prometheus_export_) {
    core::Endpoint shown;
    core::Endpoint::parse(prometheus_ip_, prometheus_export_->bound_port(), shown);
    listen_report += "prometheus " + shown.to_string() + "\n";
  }

  if (config_.enable_access_log) {
    std::string access_path = path(config_.access_log);
    access_log_fd_ = ::open(access_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (access_log_fd_ < 0) {
      return Error::config("cannot open access log " + access_path + ": " + std::strerror(errno));
    }
  }
  // Domain nodes and dns discovery (core.md §7.3, §7.4): resolved on this loop, never while
  // a snapshot is built; each answer that arrives or changes recompiles what uses it.
  auto dns_options = dns_node_options(config_.raw, config_.enable_ipv6);
  if (!dns_options) {
    return dns_options.error();
  }
  auto on_names_changed = [this](const std::vector<std::string>& names) {
    if (!stopping_ && builder_) {
      publish(builder_->refresh_names(names, ++version_));
    }
  };
  auto node_source =
      DnsNodeSource::create(control_, std::move(dns_options.value()), on_names_changed);
  if (!node_source) {
    return node_source.error();
  }
  node_source_ = std::move(node_source.value());
  builder_ = std::make_unique<SnapshotBuilder>(settings_, worker_count);
  builder_->set_node_source(node_source_.get());
  builder_->set_plugins(SnapshotBuilder::PluginSetup{
      plugin_registry(), plugin_runtime_, plugin_attr_of(config_.raw), config_.etcd_prefix});
  auto snapshot = builder_->build(resources_, ++version_);
  if (!loaded_changes_.empty()) {
    snapshot = builder_->apply(to_resource_changes(loaded_changes_), ++version_);
    core::log(core::LogLevel::Notice, "loaded ", loaded_changes_.size(), " resources from the ",
              store_->kind(), " store");
    loaded_changes_.clear();
  }
  for (uint32_t w = 0; w < worker_count; ++w) {
    workers_.push_back(
        std::make_unique<Worker>(w, std::move(per_worker[w]), snapshot, access_log_fd_));
  }
  for (auto& w : workers_) {
    w->start();
  }
  if (auto* exporter = plugins::prometheus::find_exporter()) {
    // prometheus' node gauges (plugins.md §6.1): connections and requests of all workers.
    plugins::prometheus::NodeSources sources;
    sources.connections = [this] {
      plugins::prometheus::ConnectionStats s;
      for (const auto& w : workers_) {
        const Worker::Counters& c = w->counters();
        s.accepted += c.accepted.load(std::memory_order_relaxed);
        s.active += c.active.load(std::memory_order_relaxed);
        s.waiting += c.idle.load(std::memory_order_relaxed);
        s.requests += c.requests.load(std::memory_order_relaxed);
      }
      s.handled = s.accepted;  // no connection is refused at accept
      s.waiting = std::min(s.waiting, s.active);
      s.writing = s.active - s.waiting;  // serving a request (reading is not told apart)
      return s;
    };
    // etcd_reachable: only with the etcd provider, from the watch's state.
    sources.etcd_reachable = [this]() -> std::optional<bool> {
      if (!follower_) {
        return std::nullopt;
      }
      return follower_->reachable();
    };
    // upstream_status: every node of every health checker (as GET /v1/healthcheck shows them).
    sources.upstream_status = [this] {
      std::vector<plugins::prometheus::UpstreamNodeStatus> out;
      if (!builder_) {
        return out;
      }
      for (const auto& source : builder_->health_sources()) {
        upstream::HealthReportItem item = health_item(source);
        boost::json::object report = upstream::health_report_item(item);
        const auto* nodes = report.if_contains("nodes");
        if (nodes == nullptr || !nodes->is_array()) {
          continue;  // no checker yet
        }
        for (const auto& node : nodes->get_array()) {
          const auto* n = node.if_object();
          const auto* ip = n != nullptr ? n->if_contains("ip") : nullptr;
          const auto* port = n != nullptr ? n->if_contains("port") : nullptr;
          const auto* status = n != nullptr ? n->if_contains("status") : nullptr;
          if (ip == nullptr || !ip->is_string() || port == nullptr || !port->is_number() ||
              status == nullptr || !status->is_string()) {
            continue;
          }
          plugins::prometheus::UpstreamNodeStatus st;
          st.name = item.name;
          st.ip = std::string(ip->get_string());
          st.port = static_cast<uint16_t>(port->to_number<double>());
          st.healthy =
              status->get_string() == "healthy" || status->get_string() == "mostly_healthy";
          out.push_back(std::move(st));
        }
      }
      return out;
    };
    exporter->set_node_sources(std::move(sources));
  }
  if (admin_ && config_.enable_admin) {
    admin_->start();
    core::spawn(admin_housekeeping());
  }
  if (provider == "etcd") {
    StoreFollower::Options follow;
    follow.prefix = config_.etcd_prefix + "/";
    StoreFollower::Callbacks callbacks;
    callbacks.events = [this](const std::vector<store::Event>& events) {
      apply_store_events(events);
    };
    callbacks.resync = [this](const std::vector<store::KeyValue>& items, int64_t revision) {
      apply_store_listing(items, revision);
    };
    follower_ =
        std::make_unique<StoreFollower>(control_, *store_, std::move(follow), std::move(callbacks));
    follower_->start(loaded_revision_ + 1);
  }
  if (control_api_) {
    control_api_->start();
  }
  health_checker_ = std::make_unique<upstream::HealthChecker>(control_);
  sync_health_checks();
  write_file_atomic(path("logs/apisix.pid"), std::to_string(::getpid()) + "\n");
  write_file_atomic(path("logs/listen"), listen_report);
  core::log(core::LogLevel::Notice, "apisix-cpp started: ", worker_count, " workers, provider ",
            provider);
  return {};
}

bool Server::load_standalone(bool initial) {
  struct stat st {};
  if (::stat(standalone_path_.c_str(), &st) != 0) {
    core::log_error("cannot stat ", standalone_path_, ": ", std::strerror(errno));
    return false;
  }
  FileStamp stamp{static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                  static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
  if (!initial && stamp == standalone_stamp_) {
    return true;
  }
  standalone_stamp_ = stamp;
  std::string text;
  if (!read_file(standalone_path_, text)) {
    core::log_error("cannot read ", standalone_path_);
    return false;
  }
  auto parsed = config::parse_standalone_yaml(text, config::process_env());
  if (!parsed) {
    // Keep serving the previous configuration (core.md §2.7).
    core::log_error("invalid ", standalone_path_,
                    ", keeping the previous configuration: ", parsed.error().context);
    return false;
  }
  for (const std::string& message : parsed->item_errors) {
    core::log_error(standalone_path_, ": ", message);
  }
  resources_ = std::move(parsed.value());
  if (!initial) {
    publish();
    core::log(core::LogLevel::Notice, "reloaded ", standalone_path_);
  }
  return true;
}

void Server::publish() { publish(builder_->build(resources_, ++version_)); }

void Server::publish(std::shared_ptr<const Snapshot> snapshot) {
  const BuildStats& stats = builder_->last_stats();
  core::log(core::LogLevel::Info, "snapshot ", snapshot->version, ": ", stats.routes_compiled,
            " routes compiled, ", stats.router_upserts, " placed, ", stats.router_removals,
            " removed, ", stats.upstreams_compiled, " upstreams compiled");
  for (auto& w : workers_) {
    w->publish(snapshot);
  }
  sync_health_checks();
}

void Server::sync_health_checks() {
  if (health_checker_ && builder_ && !stopping_) {
    health_checker_->sync(builder_->health_registry().list());
  }
}

void Server::stop_health_and_control() {
  if (health_checker_) {
    health_checker_->stop_all();
  }
  if (control_api_) {
    control_api_->stop();
  }
}

upstream::HealthReportItem Server::health_item(const SnapshotBuilder::HealthSource& source) const {
  // APISIX names a checker by its resource's key: "/apisix/upstreams/1" with etcd,
  // "/upstreams/1" in standalone mode.
  upstream::HealthReportItem item;
  item.name = standalone_path_.empty() ? config_.etcd_prefix : std::string();
  item.name += "/" + source.kind + "/" + source.id;
  item.type = source.type;
  item.health = source.health;
  return item;
}

Result<void> Server::start_control_api() {
  admin::HealthSources sources;
  sources.list = [this] {
    std::vector<upstream::HealthReportItem> items;
    if (builder_) {
      for (const auto& source : builder_->health_sources()) {
        items.push_back(health_item(source));
      }
    }
    return items;
  };
  sources.find = [this](std::string_view kind,
                        std::string_view id) -> std::optional<upstream::HealthReportItem> {
    std::optional<SnapshotBuilder::HealthSource> source;
    if (!builder_ || !builder_->find_health_source(kind, id, source)) {
      return std::nullopt;
    }
    return source ? health_item(*source) : upstream::HealthReportItem{};
  };
  admin::ResourceSources resources;
  resources.records = [this](std::string_view type, std::optional<std::string_view> id) {
    return control_records(type, id);
  };
  resources.schema = [] { return control_schema(); };
  admin::ControlOptions options{config_.control.ip, config_.control.port, settings_->server_header};
  control_api_ = std::make_unique<admin::ControlServer>(control_, options, std::move(sources),
                                                        std::move(resources));
  if (auto listened = control_api_->listen(); !listened) {
    return Error::config("cannot listen on the Control API address " + config_.control.ip + ":" +
                         std::to_string(config_.control.port) + ": " + listened.error().context);
  }
  return {};
}

namespace {

// A resource as the data plane holds it: its schema's defaults filled in (core.md §2.2: the
// reader applies them).
boost::json::value with_defaults(std::string_view type, const boost::json::value& value) {
  std::string_view name = type == "routes"      ? "route"
                          : type == "services"  ? "service"
                          : type == "upstreams" ? "upstream"
                                                : "";
  const schema::Schema* s = name.empty() ? nullptr : schema::core_schema(name);
  boost::json::value filled = value;
  if (s == nullptr || s->validate(filled)) {
    return value;  // no schema, or not valid by it: shown as stored
  }
  return filled;
}

}  // namespace

std::vector<admin::ResourceRecord> Server::control_records(std::string_view type,
                                                           std::optional<std::string_view> id) {
  std::vector<admin::ResourceRecord> out;
  if (admin_) {
    // Providers with a store: what the Admin API's mirror holds (credentials and other
    // nested keys are not records of their directory).
    std::string prefix = config_.etcd_prefix + "/" + std::string(type) + "/";
    std::string from = id ? prefix + std::string(*id) : prefix;
    const auto& items = admin_->resources().items();
    for (auto it = items.lower_bound(from); it != items.end() && it->first.starts_with(prefix);
         ++it) {
      std::string_view rest = std::string_view(it->first).substr(prefix.size());
      if (rest.find('/') != std::string_view::npos || (id && rest != *id)) {
        if (id) break;
        continue;
      }
      out.push_back({it->first, with_defaults(type, it->second.value), it->second.created_index,
                     it->second.modified_index});
      if (id) break;
    }
    return out;
  }
  // The standalone file: its items, keyed "/<type>/<id>" as APISIX's file mode names them.
  const auto* root = resources_.raw.if_object();
  const auto* list = root ? root->if_contains(type) : nullptr;
  if (list == nullptr || !list->is_array()) {
    return out;
  }
  for (const auto& item : list->get_array()) {
    const auto* o = item.if_object();
    const auto* item_id = o ? o->if_contains("id") : nullptr;
    if (item_id == nullptr || !item_id->is_string()) {
      continue;
    }
    std::string_view item_key = item_id->get_string();
    if (id && item_key != *id) {
      continue;
    }
    out.push_back({"/" + std::string(type) + "/" + std::string(item_key), with_defaults(type, item),
                   static_cast<int64_t>(version_), static_cast<int64_t>(version_)});
  }
  return out;
}

boost::json::value Server::control_schema() {
  // The core schemas (core.md §4) as the schema endpoints show them; no plugin is built in
  // yet, so the plugin maps are empty.
  boost::json::object main;
  for (std::string_view name : schema::core_schema_names()) {
    if (name.starts_with("secret_")) {
      continue;  // not part of APISIX's main schema set
    }
    if (const boost::json::value* doc = schema::core_schema_document(name)) {
      main[name] = *doc;
    }
  }
  return boost::json::object{{"main", std::move(main)},
                             {"plugins", boost::json::object{}},
                             {"stream_plugins", boost::json::object{}}};
}

void Server::reload() {
  std::string config_path =
      options_.config_path.empty() ? path("conf/config.yaml") : options_.config_path;
  auto loaded = config::load_gateway_config_file(config_path, config::process_env());
  if (!loaded) {
    core::log_error("reload: ", loaded.error().context, "; keeping the running configuration");
    return;
  }
  auto settings = make_settings(*loaded);
  if (!settings) {
    core::log_error("reload: ", settings.error().context, "; keeping the running configuration");
    return;
  }
  if (loaded->worker_processes != config_.worker_processes) {
    core::log_warn("reload: worker_processes changes need a restart");
  }
  core::log_set_level(loaded->error_log_level);
  config_ = std::move(loaded.value());
  settings_ = *settings;
  if (!standalone_path_.empty()) {
    load_standalone(true);
    builder_->rebuild(settings_, version_);
    publish();
  } else {
    publish(builder_->rebuild(settings_, ++version_));
  }
  core::log(core::LogLevel::Notice, "configuration reloaded");
}

namespace {

// APISIX's published sample key (docs and docker images): never accepted on a listener that
// other hosts can reach.
constexpr std::string_view kSampleAdminKey = "edd1c9f034335f136f87ad84b625c8f1";

bool is_loopback(const std::string& ip) {
  return ip.rfind("127.", 0) == 0 || ip == "::1" || ip == "localhost";
}

std::string random_letters(size_t n) {
  static constexpr char kLetters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out(n, 'a');
  unsigned char bytes[64];
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  urandom.read(reinterpret_cast<char*>(bytes), static_cast<std::streamsize>(n));
  for (size_t i = 0; i < n; ++i) {
    out[i] = kLetters[bytes[i] % 52];
  }
  return out;
}

}  // namespace

Result<void> Server::start_prometheus_export() {
  // plugins.md §6.1: the exporter exists when the plugin is enabled; its export server too
  // unless plugin_attr.prometheus.enable_export_server is false.
  if (plugin_registry()->find("prometheus") == nullptr) {
    return {};
  }
  const boost::json::object attrs = plugin_attr_of(config_.raw);
  const boost::json::value* attr = attrs.if_contains("prometheus");
  auto options = plugins::prometheus::ExportServerOptions::from_attr(attr);
  if (!options) {
    return Error::config("invalid config: " + options.error().context);
  }
  if (!options->enabled) {
    return {};
  }
  options->server_header = settings_->server_header;
  prometheus_ip_ = options->ip;
  prometheus_export_ =
      std::make_unique<plugins::prometheus::ExportServer>(plugins::prometheus::exporter());
  const std::string where = options->ip + ":" + std::to_string(options->port);
  if (auto started = prometheus_export_->start(control_, std::move(options.value())); !started) {
    // Not fatal: the gateway serves traffic without the export server (several gateways on
    // one host share the default port).
    prometheus_export_.reset();
    core::log_error("prometheus export server: cannot listen on ", where, ": ",
                    started.error().context, "; metrics are not exported");
  }
  return {};
}

std::shared_ptr<const plugins::Registry> Server::plugin_registry() {
  if (!plugin_registry_) {
    plugin_registry_ = std::make_shared<const plugins::Registry>(&config_.plugins);
    if (plugin_registry_->find("prometheus") != nullptr) {
      // The process's metric set, sharded per worker, before any instance is compiled.
      const boost::json::object attrs = plugin_attr_of(config_.raw);
      uint32_t workers = static_cast<uint32_t>(std::max(1, config_.worker_processes));
      auto options =
          plugins::prometheus::ExporterOptions::from_attr(attrs.if_contains("prometheus"), workers);
      if (!options) {
        core::log_error("plugin_attr.prometheus: ", options.error().context,
                        "; the defaults are used");
        options = plugins::prometheus::ExporterOptions{};
        options->worker_count = workers;
      }
      plugins::prometheus::init_exporter(std::move(options.value()));
    }
  }
  return plugin_registry_;
}

std::vector<admin::PluginInfo> Server::admin_plugin_infos() {
  std::vector<admin::PluginInfo> out;
  for (const auto& [name, kind] : plugin_registry()->kinds()) {
    admin::PluginInfo info;
    info.name = std::string(name);
    info.priority = kind->facts->priority;
    info.type = std::string(kind->facts->type);
    info.version = std::string(kind->facts->version);
    info.scope = std::string(kind->facts->scope);
    info.schema = parse_schema_text(kind->facts->schema);
    info.consumer_schema = parse_schema_text(kind->facts->consumer_schema);
    info.metadata_schema = parse_schema_text(kind->facts->metadata_schema);
    out.push_back(std::move(info));
  }
  return out;
}

std::function<std::optional<std::string>(std::string_view, const boost::json::value&)>
Server::plugin_checker() {
  // Compiling an instance runs every check of the plugin; what it makes is thrown away.
  auto registry = plugin_registry();
  auto runtime = std::make_shared<plugins::RuntimeState>();
  uint32_t workers = static_cast<uint32_t>(std::max(1, config_.worker_processes));
  return [registry, runtime, workers](
             std::string_view name, const boost::json::value& conf) -> std::optional<std::string> {
    const plugins::PluginKind* kind = registry->find(name);
    if (kind == nullptr) {
      return std::nullopt;
    }
    plugins::CompileContext ctx;
    ctx.resource_key = "/apisix/admin/check";
    ctx.conf_version = "0";
    ctx.runtime = runtime.get();
    ctx.worker_count = workers;
    auto compiled = kind->compile(conf, ctx);
    if (!compiled) {
      return compiled.error().context;
    }
    return std::nullopt;
  };
}

Result<admin::AdminOptions> Server::admin_options() {
  admin::AdminOptions o;
  o.plugins = admin_plugin_infos();
  o.check_plugin = plugin_checker();
  o.ip = config_.admin_listen.ip;
  o.port = config_.admin_listen.port;
  o.server_header = settings_->server_header;
  o.prefix = config_.etcd_prefix;
  const boost::json::value* admin = nullptr;
  if (const auto* root = config_.raw.if_object()) {
    if (const auto* deployment = root->if_contains("deployment");
        deployment && deployment->is_object()) {
      admin = deployment->get_object().if_contains("admin");
    }
  }
  if (const auto* root = config_.raw.if_object()) {
    const auto* apisix = root->if_contains("apisix");
    const auto* a = apisix != nullptr ? apisix->if_object() : nullptr;
    // apisix.data_encryption.keyring (core.md §2.2): a string or a list of strings.
    const auto* encryption = a != nullptr ? a->if_contains("data_encryption") : nullptr;
    const auto* keyring = encryption != nullptr && encryption->is_object()
                              ? encryption->get_object().if_contains("keyring")
                              : nullptr;
    if (keyring != nullptr && keyring->is_string()) {
      o.keyring = {std::string(keyring->get_string())};
    } else if (keyring != nullptr && keyring->is_array()) {
      o.keyring.clear();
      for (const auto& entry : keyring->get_array()) {
        if (entry.is_string()) {
          o.keyring.emplace_back(entry.get_string());
        }
      }
    }
    const auto* mode = a != nullptr ? a->if_contains("proxy_mode") : nullptr;
    o.stream_proxy = mode != nullptr && mode->is_string() &&
                     (mode->get_string() == "stream" || mode->get_string() == "http&stream");
  }
  std::vector<std::string> allow_list;
  if (admin != nullptr && admin->is_object()) {
    const auto& a = admin->get_object();
    if (const auto* required = a.if_contains("admin_key_required");
        required && required->is_bool()) {
      o.key_required = required->get_bool();
    }
    if (const auto* cors = a.if_contains("enable_admin_cors"); cors && cors->is_bool()) {
      o.cors = cors->get_bool();
    }
    if (const auto* allow = a.if_contains("allow_admin"); allow && allow->is_array()) {
      for (const auto& entry : allow->get_array()) {
        if (entry.is_string()) {
          allow_list.emplace_back(entry.get_string());
        }
      }
      auto matcher = router::IpMatcher::compile(allow_list);
      if (!matcher) {
        return Error::config("invalid config: deployment.admin.allow_admin: " +
                             matcher.error().context);
      }
      o.allow = std::make_shared<const router::IpMatcher>(std::move(matcher.value()));
    }
    if (const auto* keys = a.if_contains("admin_key"); keys && keys->is_array()) {
      std::vector<admin::AdminKey> list;
      for (const auto& entry : keys->get_array()) {
        if (!entry.is_object()) {
          continue;
        }
        admin::AdminKey k;
        if (const auto* key = entry.get_object().if_contains("key"); key && key->is_string()) {
          k.key = std::string(key->get_string());
        }
        if (const auto* role = entry.get_object().if_contains("role"); role && role->is_string()) {
          k.role = role->get_string() == "viewer" ? admin::Role::Viewer : admin::Role::Admin;
        }
        if (k.key.empty() && k.role == admin::Role::Admin) {
          // core.md §1.5: an empty admin key gets a random 32-letter key, kept across
          // restarts (in data/admin_key; APISIX writes it into config.yaml).
          std::string stored;
          std::string file = path("data/admin_key");
          if (read_file(file, stored) && stored.size() >= 33) {
            k.key = stored.substr(0, 32);
          } else {
            k.key = random_letters(32);
            write_file_atomic(file, k.key + "\n");
            ::chmod(file.c_str(), 0600);
          }
          core::log(core::LogLevel::Notice, "Admin API key generated for an empty admin_key ",
                    "entry; it is in ", file);
        }
        if (k.key == kSampleAdminKey && !is_loopback(o.ip)) {
          return Error::config(
              "invalid config: deployment.admin.admin_key: the published sample key must not be "
              "used when the Admin API listens on " +
              o.ip + "; set a key of your own");
        }
        list.push_back(std::move(k));
      }
      o.keys = std::move(list);
    }
  }
  bool default_allow = allow_list.size() == 1 && allow_list[0] == "127.0.0.0/24";
  if (o.key_required && !default_allow && (!o.keys || o.keys->empty())) {
    return Error::config("missing valid Admin API token");
  }
  return o;
}

Result<void> Server::open_embedded_store() {
  store::EmbeddedOptions options;
  options.data_dir = path("data/store");
  auto opened = store::EmbeddedStore::open(control_, std::move(options));
  if (!opened) {
    return Error::config("cannot open the embedded store in " + path("data/store") + ": " +
                         opened.error().context);
  }
  if (!(*opened)->recovery_note().empty()) {
    core::log_warn("embedded store: ", (*opened)->recovery_note());
  }
  store_ = std::move(opened.value());
  return {};
}

namespace {

// deployment.etcd (core.md §1.3) as the etcd store takes it.
store::EtcdOptions etcd_options(const boost::json::value& raw) {
  store::EtcdOptions o;
  const boost::json::value* etcd = nullptr;
  if (const auto* root = raw.if_object()) {
    if (const auto* d = root->if_contains("deployment"); d && d->is_object()) {
      etcd = d->get_object().if_contains("etcd");
    }
  }
  if (etcd == nullptr || !etcd->is_object()) {
    return o;
  }
  const auto& e = etcd->get_object();
  if (const auto* hosts = e.if_contains("host"); hosts && hosts->is_array()) {
    for (const auto& h : hosts->get_array()) {
      if (h.is_string()) {
        o.hosts.emplace_back(h.get_string());
      }
    }
  }
  if (const auto* user = e.if_contains("user"); user && user->is_string()) {
    o.user = std::string(user->get_string());
  }
  if (const auto* password = e.if_contains("password"); password && password->is_string()) {
    o.password = std::string(password->get_string());
  }
  if (const auto* timeout = e.if_contains("timeout"); timeout && timeout->is_number()) {
    o.timeout =
        std::chrono::milliseconds(static_cast<int64_t>(timeout->to_number<double>() * 1000));
  }
  // TLS for https hosts, as APISIX's core/etcd.lua reads it: tls.verify (default true),
  // tls.cert/tls.key, tls.sni; the CA bundle is apisix.ssl.ssl_trusted_certificate. Paths are
  // used as given, relative ones from the working directory as in APISIX.
  auto text = [](const boost::json::object& obj, std::string_view key) {
    const auto* v = obj.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  if (const auto* t = e.if_contains("tls"); t && t->is_object()) {
    const auto& tls = t->get_object();
    if (const auto* verify = tls.if_contains("verify"); verify && verify->is_bool()) {
      o.tls_verify = verify->get_bool();
    }
    o.cert_file = text(tls, "cert");
    o.key_file = text(tls, "key");
    o.sni = text(tls, "sni");
  }
  if (const auto* a = raw.get_object().if_contains("apisix"); a && a->is_object()) {
    if (const auto* ssl = a->get_object().if_contains("ssl"); ssl && ssl->is_object()) {
      o.ca_file = text(ssl->get_object(), "ssl_trusted_certificate");
    }
  }
  return o;
}

core::Task<void> list_then_stop(store::ConfigStore& store, std::string prefix,
                                std::optional<Result<store::ListResult>>& out, core::Loop& loop) {
  out = co_await store.list(std::move(prefix));
  loop.stop();
}

}  // namespace

Result<void> Server::open_etcd_store() {
  store::EtcdOptions options = etcd_options(config_.raw);
  admin::AdminOptions admin_opts;
  if (config_.enable_admin) {
    auto parsed = admin_options();
    if (!parsed) {
      return parsed.error();
    }
    admin_opts = std::move(parsed.value());
  } else {
    // A data plane runs no Admin API; the admin server only mirrors what etcd holds.
    admin_opts.prefix = config_.etcd_prefix;
    admin_opts.plugins = admin_plugin_infos();
  }
  const std::string watch_prefix = admin_opts.prefix + "/";

  // The first full load runs before the control loop does, on a loop of its own, so the
  // workers start with the configuration etcd holds (APISIX refuses to start without it).
  {
    core::Loop boot;
    auto boot_store = store::EtcdStore::create(boot, options);
    if (!boot_store) {
      return Error::config("invalid config: deployment.etcd: " + boot_store.error().context);
    }
    std::optional<Result<store::ListResult>> listed;
    core::spawn(list_then_stop(**boot_store, watch_prefix, listed, boot));
    if (!listed) {
      boot.run();
    }
    if (!listed || !*listed) {
      std::string why = listed ? listed->error().context : "no answer";
      std::string hosts;
      for (const std::string& h : options.hosts) {
        hosts += (hosts.empty() ? "" : ", ") + h;
      }
      return Error::config("cannot load the configuration from etcd (" + hosts + "): " + why);
    }
    loaded_revision_ = (*listed)->revision;
    auto store = store::EtcdStore::create(control_, options);
    if (!store) {
      return Error::config("invalid config: deployment.etcd: " + store.error().context);
    }
    store_ = std::move(store.value());
    admin_ = std::make_unique<admin::AdminServer>(
        control_, std::move(admin_opts),
        [this](const std::vector<admin::Change>& changes) { apply_admin_changes(changes); },
        store_.get());
    loaded_changes_ = admin_->resync((*listed)->items, loaded_revision_);
  }
  if (config_.enable_admin) {
    if (auto listened = admin_->listen(); !listened) {
      return Error::config("cannot listen on the Admin API address " + config_.admin_listen.ip +
                           ":" + std::to_string(config_.admin_listen.port) + ": " +
                           listened.error().context);
    }
  }
  return {};
}

void Server::apply_store_events(const std::vector<store::Event>& events) {
  if (stopping_ || !admin_) {
    return;
  }
  auto changes = admin_->apply_events(events);
  if (!changes.empty()) {
    apply_admin_changes(changes);
  }
}

void Server::apply_store_listing(const std::vector<store::KeyValue>& items, int64_t revision) {
  if (stopping_ || !admin_) {
    return;
  }
  auto changes = admin_->resync(items, revision);
  if (!changes.empty()) {
    apply_admin_changes(changes);
  }
}

void Server::apply_admin_changes(const std::vector<admin::Change>& changes) {
  publish(builder_->apply(to_resource_changes(changes), ++version_));
}

core::Task<void> Server::admin_housekeeping() {
  while (!stopping_) {
    co_await control_.sleep_for(1s);
    if (admin_ && !stopping_) {
      admin_->expire(std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
    }
  }
}

core::Task<void> Server::watch_standalone() {
  // core.md §2.7 polls once a second; a shorter period costs one stat() and reacts sooner.
  while (!stopping_) {
    co_await control_.sleep_for(200ms);
    if (!stopping_) {
      load_standalone(false);
    }
  }
}

core::Task<void> Server::wait_for_workers() {
  for (;;) {
    bool all = true;
    for (auto& w : workers_) {
      all = all && w->finished();
    }
    if (health_checker_ && !health_checker_->idle()) {
      all = false;  // probes in flight end within their timeout
    }
    if (follower_ && !follower_->finished()) {
      all = false;  // its wait for events ends within its poll period
    }
    if (all) {
      break;
    }
    co_await control_.sleep_for(10ms);
  }
  control_.stop();
}

core::Task<void> Server::signal_loop(int signal_fd) {
  core::IoState* io = control_.add(signal_fd);
  for (;;) {
    signalfd_siginfo info{};
    ssize_t n = ::read(signal_fd, &info, sizeof(info));
    if (n != sizeof(info)) {
      io->readable = false;
      co_await control_.readable(io, core::kNoDeadline);
      continue;
    }
    switch (info.ssi_signo) {
      case SIGTERM:
      case SIGINT:
        core::log(core::LogLevel::Notice, "received signal ", info.ssi_signo, ": fast stop");
        stopping_ = true;
        if (admin_) {
          admin_->stop();
        }
        if (follower_) {
          follower_->stop();
        }
        stop_health_and_control();
        for (auto& w : workers_) {
          w->stop();
        }
        core::spawn(wait_for_workers());
        break;
      case SIGQUIT:
        core::log(core::LogLevel::Notice, "received SIGQUIT: graceful stop");
        stopping_ = true;
        if (admin_) {
          admin_->stop();
        }
        if (follower_) {
          follower_->stop();
        }
        stop_health_and_control();
        for (auto& w : workers_) {
          w->quit();
        }
        core::spawn(wait_for_workers());
        break;
      case SIGHUP:
        core::log(core::LogLevel::Notice, "received SIGHUP: reload");
        reload();
        break;
      case SIGUSR1:
        core::log_open(path(config_.error_log));
        break;
      default:
        break;
    }
  }
}

int Server::run() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1}) {
    sigaddset(&set, sig);
  }
  int signal_fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  core::spawn(signal_loop(signal_fd));
  if (!standalone_path_.empty()) {
    core::spawn(watch_standalone());
  }
  control_.run();
  for (auto& w : workers_) {
    w->join();
  }
  std::error_code ec;
  fs::remove(path("logs/listen"), ec);
  fs::remove(path("logs/apisix.pid"), ec);
  core::log(core::LogLevel::Notice, "apisix-cpp exited");
  return exit_code_;
}

}  // namespace apisix::gateway
