# parley_library(NAME SRCS ... DEPS ...): one layer of the hexagon, one static library.
# parley_test(NAME SRCS ... DEPS ... LABELS ...): a GoogleTest binary registered with CTest.
set(PARLEY_WARNINGS -Wall -Wextra -Wpedantic -Werror)

if(PARLEY_SANITIZE AND PARLEY_TSAN)
  message(FATAL_ERROR "PARLEY_SANITIZE and PARLEY_TSAN are two builds: pick one")
endif()
# ThreadSanitizer, for the threaded parts (the gateway's workers, the cluster's tail, events and
# sweeper threads): make build-tsan builds their unit tests only (scripts/run-tests).
if(PARLEY_TSAN)
  # -Wno-tsan: GCC warns that Asio's atomic_thread_fence is not instrumented; TSan still sees the
  # locks and atomics around it.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
endif()

if(PARLEY_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# The sanitizer builds compile at -O1 with line tables only (-g1), after the build type's -O2 -g:
# -O1 is what ASan's authors advise, the line tables are all a sanitizer's stack trace needs, and
# the two together halve the time GCC takes on the Asio coroutine files (3 min to 1.5 min each
# for src/client/connection.cpp), which is most of `make test` on a fresh machine.
if(PARLEY_SANITIZE OR PARLEY_TSAN)
  add_compile_options(-O1 -g1)
endif()

function(parley_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(${name} PRIVATE ${PARLEY_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

function(parley_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  # -Wno-restrict: GCC 12 reports a false positive inside libstdc++'s string concatenation at -O2
  # (GCC bug 105329); the tests build strings that way a lot.
  target_compile_options(${name} PRIVATE ${PARLEY_WARNINGS} -Wno-restrict)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
