# Generated sources that embed core/*.json into the library (filled in with core_schemas.cc).
set(APISIX_CORE_SCHEMA_SOURCES "")
