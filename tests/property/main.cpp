// The property tests run as plain checks; RC_PARAMS (set by ctest) raises the case count.
bool run_cron_properties();
bool run_jobs_properties();

int main() {
  const bool cron = run_cron_properties();
  const bool jobs = run_jobs_properties();
  return cron && jobs ? 0 : 1;
}
