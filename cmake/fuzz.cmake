# PARLEY_FUZZ: the libFuzzer targets of tests/fuzz/, built with clang (`make build-fuzz`, run by
# scripts/run-fuzz). In that build every library is compiled with coverage instrumentation for the
# fuzzer (-fsanitize=fuzzer-no-link) and checked by ASan and UBSan (an undefined behaviour aborts,
# so libFuzzer reports it as a crash); only the fuzz executables link libFuzzer's main. Build only
# the `fuzzers` target in it: the rest of the tree is configured but need not be compiled.
if(PARLEY_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PARLEY_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(PARLEY_SANITIZE)
    message(FATAL_ERROR "PARLEY_FUZZ brings its own sanitizers: leave PARLEY_SANITIZE off")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  add_custom_target(fuzzers)
endif()

# parley_fuzzer(NAME SRCS ... DEPS ...): one libFuzzer executable, part of the `fuzzers` target.
function(parley_fuzzer name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(${name} PRIVATE ${PARLEY_WARNINGS} -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  add_dependencies(fuzzers ${name})
endfunction()
