# Admin API targets (src/admin): request handling, bodies and paths.
apisix_fuzz(admin_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/admin_request_fuzz.cc LIBS apisix_admin)
