#define DOCTEST_CONFIG_IMPLEMENT
#include <exec/shim.hpp>

#include <doctest/doctest.h>

int main(int argc, char** argv) {
  // The steps the tests run without a cgroup run under a shim: this program, started again.
  exec::run_shim_if_asked(argc, argv);
  return doctest::Context(argc, argv).run();
}
