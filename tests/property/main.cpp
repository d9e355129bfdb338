// The property tests run as plain checks; RC_PARAMS (set by ctest) raises the case count.
#include <cstdio>

bool run_cron_properties();

int main() {
  return run_cron_properties() ? 0 : 1;
}
