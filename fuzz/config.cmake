# Configuration parsers: config.yaml loading and the standalone apisix.yaml.
apisix_fuzz(config_yaml SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/config_yaml_fuzz.cc LIBS apisix_config)
apisix_fuzz(standalone_yaml SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/standalone_yaml_fuzz.cc
  LIBS apisix_config)
