#include "config/default_config.h"

namespace apisix::config {

std::string_view default_config_yaml() {
  // Keep in step with docs/configuration.md. Quoted values are strings in APISIX too, which
  // matters for the merge type check (core.md §1.2).
  static constexpr std::string_view kDefaults = R"yaml(
apisix:
  node_listen: [9080]
  enable_admin: true
  enable_dev_mode: false
  enable_reuseport: true
  show_upstream_status_in_response_header: false
  enable_ipv6: true
  enable_http2: true
  enable_server_tokens: true
  delete_uri_tail_slash: false
  normalize_uri_like_servlet: false
  match_uri_encoded_slash: false
  max_post_args_readable_size: 64
  router:
    http: radixtree_host_uri
    ssl: radixtree_sni
  proxy_mode: http
  resolver_timeout: 5
  enable_resolv_search_opt: true
  ssl:
    enable: true
    listen:
      - port: 9443
        enable_http3: false
    ssl_protocols: "TLSv1.2 TLSv1.3"
    ssl_ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
    ssl_session_tickets: false
    ssl_trusted_certificate: system
  enable_control: true
  control:
    ip: "127.0.0.1"
    port: 9090
  disable_sync_configuration_during_start: false
  worker_startup_time_threshold: 60
  data_encryption:
    enable_encrypt_fields: true
    keyring:
      - qeddd145sfvddff3
      - edd1c9f0985e76a2
  disable_upstream_healthcheck: false
  tracing: false
  lru:
    secret:
      ttl: 300
      count: 512
      neg_ttl: 60
      neg_count: 512

nginx_config:
  error_log: logs/error.log
  error_log_level: warn
  worker_processes: auto
  enable_cpu_affinity: false
  worker_rlimit_nofile: 20480
  worker_shutdown_timeout: 240s
  max_pending_timers: 16384
  max_running_timers: 4096
  event:
    worker_connections: 10620
  meta:
    lua_shared_dict:
      prometheus-metrics: 15m
      standalone-config: 10m
      status-report: 1m
  main_configuration_snippet: ""
  http_configuration_snippet: ""
  http_server_configuration_snippet: ""
  http_server_location_configuration_snippet: ""
  http_admin_configuration_snippet: ""
  http_end_configuration_snippet: ""
  stream_configuration_snippet: ""
  http:
    enable_access_log: true
    access_log: logs/access.log
    access_log_buffer: 16384
    access_log_format: "$remote_addr - $remote_user [$time_local] $http_host \"$request\" $status $body_bytes_sent $request_time \"$http_referer\" \"$http_user_agent\" $upstream_addr $upstream_status $upstream_response_time \"$upstream_scheme://$upstream_host$upstream_uri\" \"$apisix_request_id\""
    access_log_format_escape: default
    keepalive_timeout: 60s
    client_header_timeout: 60s
    client_body_timeout: 60s
    client_max_body_size: 0
    send_timeout: 10s
    underscores_in_headers: "on"
    real_ip_header: X-Real-IP
    real_ip_recursive: "off"
    real_ip_from:
      - 127.0.0.1
      - "unix:"
    proxy_ssl_server_name: true
    upstream:
      keepalive: 320
      keepalive_requests: 1000
      keepalive_timeout: 60s
    charset: utf-8
    variables_hash_max_size: 2048

graphql:
  max_size: 1048576

plugins:
  - real-ip
  - ai
  - client-control
  - proxy-buffering
  - proxy-control
  - request-id
  - zipkin
  - ext-plugin-pre-req
  - fault-injection
  - mocking
  - serverless-pre-function
  - cors
  - ip-restriction
  - ua-restriction
  - referer-restriction
  - csrf
  - uri-blocker
  - request-validation
  - chaitin-waf
  - multi-auth
  - openid-connect
  - saml-auth
  - cas-auth
  - authz-casbin
  - authz-casdoor
  - wolf-rbac
  - ldap-auth-advanced
  - ldap-auth
  - hmac-auth
  - basic-auth
  - jwt-auth
  - jwe-decrypt
  - key-auth
  - dingtalk-auth
  - feishu-auth
  - acl
  - consumer-restriction
  - attach-consumer-label
  - forward-auth
  - opa
  - authz-keycloak
  - data-mask
  - proxy-cache
  - body-transformer
  - ai-request-rewrite
  - ai-prompt-guard
  - ai-prompt-template
  - ai-prompt-decorator
  - ai-rag
  - ai-aws-content-moderation
  - ai-proxy-multi
  - ai-proxy
  - ai-cache
  - ai-rate-limiting
  - ai-aliyun-content-moderation
  - ai-lakera-guard
  - proxy-mirror
  - graphql-proxy-cache
  - proxy-rewrite
  - workflow
  - api-breaker
  - graphql-limit-count
  - limit-conn
  - limit-count
  - limit-req
  - gzip
  - traffic-label
  - traffic-split
  - redirect
  - response-rewrite
  - oas-validator
  - mcp-bridge
  - degraphql
  - kafka-proxy
  - grpc-transcode
  - grpc-web
  - http-dubbo
  - public-api
  - prometheus
  - datadog
  - lago
  - loki-logger
  - elasticsearch-logger
  - echo
  - loggly
  - http-logger
  - splunk-hec-logging
  - skywalking-logger
  - google-cloud-logging
  - sls-logger
  - tcp-logger
  - kafka-logger
  - rocketmq-logger
  - syslog
  - udp-logger
  - file-logger
  - clickhouse-logger
  - tencent-cloud-cls
  - inspect
  - example-plugin
  - aws-lambda
  - azure-functions
  - openwhisk
  - openfunction
  - serverless-post-function
  - ext-plugin-post-req
  - ext-plugin-post-resp

stream_plugins:
  - ip-restriction
  - limit-conn
  - mqtt-proxy
  - syslog
  - traffic-split

plugin_attr:
  log-rotate:
    timeout: 10000
    interval: 3600
    max_kept: 168
    max_size: -1
    enable_compression: false
  skywalking:
    service_name: APISIX
    service_instance_name: APISIX Instance Name
    endpoint_addr: http://127.0.0.1:12800
    report_interval: 3
  opentelemetry:
    trace_id_source: x-request-id
    resource:
      service.name: APISIX
    collector:
      address: 127.0.0.1:4318
      request_timeout: 3
      request_headers:
        Authorization: token
    batch_span_processor:
      drop_on_queue_full: false
      max_queue_size: 1024
      batch_timeout: 2
      inactive_timeout: 1
      max_export_batch_size: 16
    set_ngx_var: false
  prometheus:
    export_uri: /apisix/prometheus/metrics
    metric_prefix: apisix_
    enable_export_server: true
    export_addr:
      ip: "127.0.0.1"
      port: 9091
    refresh_interval: 15
  server-info:
    report_ttl: 60
  dubbo-proxy:
    upstream_multiplex_count: 32
  proxy-mirror:
    timeout:
      connect: 60s
      read: 60s
      send: 60s
  inspect:
    delay: 3
    hooks_file: /usr/local/apisix/plugin_inspect_hooks.lua
  zipkin:
    set_ngx_var: false
  ai-proxy:
    http_client: ngx_http_ffi_client

deployment:
  role: traditional
  role_traditional:
    config_provider: embedded
  admin:
    admin_key_required: true
    admin_key:
      - name: admin
        key: ""
        role: admin
    enable_admin_cors: true
    enable_admin_ui: true
    allow_admin:
      - 127.0.0.0/24
    admin_listen:
      ip: "0.0.0.0"
      port: 9180
    admin_api_version: v3
  etcd:
    host:
      - "http://127.0.0.1:2379"
    prefix: /apisix
    timeout: 30
    watch_timeout: 50
    startup_retry: 2
    health_check_timeout: 10
    tls:
      verify: true
)yaml";
  return kDefaults;
}

}  // namespace apisix::config
