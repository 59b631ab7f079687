#include "upstream/health_report.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace apisix::upstream {

namespace json = boost::json;

namespace {

bool has_checker(const HealthReportItem& item) {
  return item.health != nullptr && item.health->is_used();
}

std::string escape_html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

json::object health_report_item(const HealthReportItem& item) {
  json::object out;
  out["name"] = item.name;
  out["type"] = std::string(to_string(item.type));
  if (!has_checker(item)) {
    out["nodes"] = json::object();
    return out;
  }
  const UpstreamHealth& health = *item.health;
  json::array nodes;
  nodes.reserve(health.target_count());
  for (size_t t = 0; t < health.target_count(); ++t) {
    const HealthTarget& target = health.target(t);
    TargetStatus status = health.target_status(t);
    json::object node;
    node["ip"] = target.ip;
    node["port"] = target.port;
    node["hostname"] = target.hostname;
    if (!target.host_header.empty()) {
      node["hostheader"] = target.host_header;
    }
    node["status"] = std::string(to_string(status.health));
    json::object counter;
    counter["success"] = status.counters.success;
    counter["http_failure"] = status.counters.http_failure;
    counter["tcp_failure"] = status.counters.tcp_failure;
    counter["timeout_failure"] = status.counters.timeout_failure;
    node["counter"] = std::move(counter);
    nodes.push_back(std::move(node));
  }
  out["nodes"] = std::move(nodes);
  return out;
}

json::value health_report_list(std::span<const HealthReportItem> items) {
  if (items.empty()) {
    return json::object();
  }
  json::array out;
  out.reserve(items.size());
  for (const HealthReportItem& item : items) {
    out.push_back(health_report_item(item));
  }
  return out;
}

std::string health_report_html(std::span<const HealthReportItem> items) {
  std::string html =
      "<html xmlns=\"http://www.w3.org/1999/xhtml\">\n"
      "<head>\n  <title>APISIX upstream check status</title>\n</head>\n<body>\n"
      "<h1>APISIX upstream check status</h1>\n"
      "<table style=\"background-color:white\" cellspacing=\"0\" cellpadding=\"3\" "
      "border=\"1\">\n"
      "  <tr bgcolor=\"#C0C0C0\">\n    <th>Index</th>\n    <th>Upstream</th>\n"
      "    <th>Check type</th>\n    <th>Host</th>\n    <th>Status</th>\n"
      "    <th>Success counts</th>\n    <th>TCP Failures</th>\n    <th>HTTP Failures</th>\n"
      "    <th>TIMEOUT Failures</th>\n  </tr>\n";
  size_t index = 0;
  for (const HealthReportItem& item : items) {
    if (!has_checker(item)) {
      continue;
    }
    const UpstreamHealth& health = *item.health;
    for (size_t t = 0; t < health.target_count(); ++t) {
      const HealthTarget& target = health.target(t);
      TargetStatus status = health.target_status(t);
      ++index;
      html += is_available(status.health) ? "  <tr>\n" : "  <tr bgcolor=\"#FF0000\">\n";
      auto cell = [&html](std::string_view text) {
        html.append("    <td>").append(escape_html(text)).append("</td>\n");
      };
      cell(std::to_string(index));
      cell(item.name);
      cell(to_string(item.type));
      cell(target.ip + ":" + std::to_string(target.port));
      cell(to_string(status.health));
      cell(std::to_string(status.counters.success));
      cell(std::to_string(status.counters.tcp_failure));
      cell(std::to_string(status.counters.http_failure));
      cell(std::to_string(status.counters.timeout_failure));
      html += "  </tr>\n";
    }
  }
  html += "</table>\n</body>\n</html>\n";
  return html;
}

}  // namespace apisix::upstream
