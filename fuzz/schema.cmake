# Schema engine targets (src/schema): compiling schema documents and validating values.
apisix_fuzz(json_schema SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/schema_fuzz.cc LIBS apisix_schema)
