// A shared library the symboliser tests load with dlopen after the symboliser has read the
// process's modules: its code must still get its function and line.
extern "C" [[gnu::noinline, gnu::visibility("default")]] int codeprof_late_library_function(int x) {
  int y = x * 7;
  for (int i = 0; i < x; ++i) y ^= i * 31;
  return y;
}
