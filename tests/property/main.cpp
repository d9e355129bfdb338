// The property tests run as plain checks; RC_PARAMS (set by ctest) raises the case count.
bool run_cron_properties();
bool run_jobs_properties();
bool run_exec_properties();
bool run_base_properties();

int main() {
  const bool cron = run_cron_properties();
  const bool jobs = run_jobs_properties();
  const bool exec = run_exec_properties();
  const bool base = run_base_properties();
  return cron && jobs && exec && base ? 0 : 1;
}
