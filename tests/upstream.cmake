# Load balancing, health checks and the Control API's health report through the real binary
# (core.md §7.5-§7.7, §8.1). Included from tests/CMakeLists.txt.
apisix_integration_test(upstream_integration_test
  SOURCES
    upstream/balancing_test.cc
    upstream/dns_test.cc
    upstream/https_test.cc
    harness/dns_server.cc
    upstream/health_test.cc
    upstream/upstream_test_support.cc
)
target_link_libraries(upstream_integration_test PRIVATE Boost::json)
