# Runs the trace reader fuzzer for a bounded number of inputs. New inputs go to CORPUS (in the
# build tree), never into the seed directory. A crash leaves its input in CORPUS/../crash-*.
file(MAKE_DIRECTORY ${CORPUS})
get_filename_component(work ${CORPUS} DIRECTORY)
execute_process(
  COMMAND ${FUZZER} -runs=20000 -max_total_time=60 -timeout=10 -max_len=8192 -rss_limit_mb=2048
          -print_final_stats=1 -dict=${DICT} -artifact_prefix=${work}/ ${CORPUS} ${SEEDS}
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "trace_reader_fuzzer failed (exit ${result}); the input that broke it is in ${work}")
endif()
