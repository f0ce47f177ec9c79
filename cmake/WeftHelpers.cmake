# weft_add_test(<name> SOURCES <files...> LABELS <labels...> [LIBS <libs...>] [TIMEOUT <s>])
# One Qt Test executable per suite, registered with CTest under its labels.
function(weft_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LABELS;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES AUTOMOC ON WEFT_TEST_SOURCES ON)
  target_link_libraries(${name} PRIVATE weft_build_flags Qt6::Test ${ARG_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE
      WEFT_WORKER_PATH="$<TARGET_FILE:weft-worker>"
      WEFT_CLASSROOM_PATH="$<TARGET_FILE:classroom>")
  add_dependencies(${name} weft-worker classroom)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
      ENVIRONMENT "QT_QPA_PLATFORM=offscreen")
endfunction()
