# DNS resolution and discovery (src/upstream/dns_*) against a real dnsmasq started by the
# harness (harness/dns_server.h). Included from tests/CMakeLists.txt.
apisix_test(dns_test
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/dns/dns_test_support.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/dns/resolver_test.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/dns/cache_test.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/dns/discovery_test.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/harness/dns_server.cc
  LIBS apisix_upstream apisix_test_harness
  LABELS integration)
