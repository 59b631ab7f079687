# Admin API resources through the real binary (compat §3.3-§3.12). Included by
# tests/CMakeLists.txt; test_certs.cc comes with tests/tls.cmake.
apisix_integration_test(admin_integration_test SOURCES config/admin_resources_test.cc)
target_link_libraries(admin_integration_test PRIVATE Boost::json)
