# Config providers through the real binary: etcd (a real etcd per test, see store.cmake for the
# harness piece).
apisix_integration_test(provider_integration_test SOURCES config/etcd_provider_test.cc)
target_link_libraries(provider_integration_test PRIVATE apisix_test_etcd)
# The Control API's configuration endpoints (core.md §8.1).
apisix_integration_test(control_integration_test SOURCES config/control_api_test.cc)
target_link_libraries(control_integration_test PRIVATE Boost::json)
apisix_integration_test(etcd_tls_integration_test SOURCES config/etcd_tls_test.cc)
target_link_libraries(etcd_tls_integration_test PRIVATE apisix_test_etcd)
