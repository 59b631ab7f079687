# The metrics library (src/metrics) scraped by a real Prometheus. Included by
# tests/CMakeLists.txt.

# The prometheus harness piece, for any test that needs a real Prometheus.
add_library(apisix_test_prometheus STATIC harness/prometheus_server.cc)
target_link_libraries(apisix_test_prometheus PUBLIC apisix_test_harness)

apisix_test(metrics_integration_test
  SOURCES metrics/prometheus_scrape_test.cc
  LIBS apisix_metrics apisix_test_prometheus
  LABELS integration)
