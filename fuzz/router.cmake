# Route matching targets (src/router): `vars` expressions and the variable helpers.
apisix_fuzz(vars_expr SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/vars_expr_fuzz.cc LIBS apisix_router)
apisix_fuzz(uri_pattern SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/uri_pattern_fuzz.cc LIBS apisix_router)
