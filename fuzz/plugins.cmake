# Plugin configuration targets (src/plugins): every built-in plugin's compile() and the
# variable templates.
apisix_fuzz(plugin_conf SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/plugin_conf_fuzz.cc LIBS apisix_plugins)
