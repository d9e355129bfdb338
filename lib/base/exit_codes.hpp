#pragma once

// The exit codes of jobsctl and jobsd, documented in man/jobsctl.1 and man/jobsd.8.
namespace base::exit_code {

inline constexpr int ok = 0;
inline constexpr int job_failed = 1;      // the job (or a check) ran and failed
inline constexpr int usage = 2;           // bad command line, bad input, validation errors
inline constexpr int unreachable = 3;     // the daemon could not be reached
inline constexpr int partial_success = 4; // the job ran; a step failed with continue_on_failure
inline constexpr int timeout = 5;         // the job ran out of time
inline constexpr int internal = 70;       // a bug: an unexpected exception reached main
inline constexpr int denied = 77;         // the daemon refused: not an admin (or not a reader)
inline constexpr int interrupted = 130;   // SIGINT

} // namespace base::exit_code
