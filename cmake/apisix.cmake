# Helpers shared by every folder.

# apisix_library(<name> SOURCES ... DEPS ...): one library per src/ folder.
function(apisix_library name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${L_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${L_DEPS})
  if(APISIX_FUZZ)
    # Coverage feedback for libFuzzer from the code under test, not only the target file.
    # clang 14 cannot emit coverage or UBSan checks in coroutine bodies ("Cannot represent a
    # difference across sections"), so files with coroutines (socket and store code, never
    # what a fuzz target exercises) get ASan only.
    foreach(src ${L_SOURCES})
      if(IS_ABSOLUTE ${src})
        set(path ${src})  # generated sources (embedded schema texts)
      else()
        set(path ${CMAKE_CURRENT_SOURCE_DIR}/${src})
      endif()
      if(NOT EXISTS ${path})
        continue()  # generated at build time: data only, no coroutines
      endif()
      file(READ ${path} text)
      if(text MATCHES "co_await|co_return|co_yield")
        set_property(SOURCE ${src} APPEND PROPERTY COMPILE_OPTIONS -fno-sanitize=undefined)
      else()
        set_property(SOURCE ${src} APPEND PROPERTY COMPILE_OPTIONS -fsanitize=fuzzer-no-link)
      endif()
    endforeach()
  endif()
endfunction()

# apisix_test(<name> SOURCES ... LIBS ... [LABELS ...]): a GoogleTest executable whose
# cases are discovered when ctest runs, so each case is its own (parallel) CTest test.
function(apisix_test name)
  if(NOT APISIX_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main Threads::Threads)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT 300
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
endfunction()

# apisix_fuzz(<name> SOURCES ... LIBS ...): a libFuzzer target when APISIX_FUZZ is on; always
# a corpus-replay test (the same entry point driven by fuzz/replay_main.cc) under CTest.
function(apisix_fuzz name)
  cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
  if(APISIX_FUZZ)
    add_executable(${name}_fuzz ${F_SOURCES})
    target_compile_options(${name}_fuzz PRIVATE -fsanitize=fuzzer)
    target_link_options(${name}_fuzz PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name}_fuzz PRIVATE ${F_LIBS})
    target_include_directories(${name}_fuzz PRIVATE ${PROJECT_SOURCE_DIR})
  endif()
  add_executable(${name}_replay ${F_SOURCES} ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cc)
  target_link_libraries(${name}_replay PRIVATE ${F_LIBS})
  target_include_directories(${name}_replay PRIVATE ${PROJECT_SOURCE_DIR})
  add_test(NAME fuzz_replay.${name}
    COMMAND ${name}_replay ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  set_tests_properties(fuzz_replay.${name} PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()
