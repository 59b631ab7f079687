# Plugins through the real binary: one file per plugin, reproducing the examples of its APISIX
# doc page with local upstreams, plus the runner's merge and phase-order tests. Included by
# tests/CMakeLists.txt.
file(GLOB _plugin_integration_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/plugins/*_test.cc)
if(_plugin_integration_tests)
  apisix_integration_test(plugins_integration_test SOURCES ${_plugin_integration_tests})
  target_link_libraries(plugins_integration_test PRIVATE apisix_test_redis apisix_test_prometheus
    apisix_test_etcd
    Boost::json)
endif()
