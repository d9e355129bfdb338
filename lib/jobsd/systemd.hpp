#pragma once

// Readiness and the watchdog for systemd (sd_notify(3)'s protocol, without libsystemd): a
// datagram to $NOTIFY_SOCKET. Outside systemd, nothing happens.

#include <cstdint>
#include <string>

namespace jobsd {

// Sends `state` ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...") when $NOTIFY_SOCKET is
// set.
void notify_systemd(const std::string& state);

// The watchdog period systemd asks for ($WATCHDOG_USEC, when $WATCHDOG_PID is unset or this
// process), in milliseconds; 0 when none.
std::int64_t watchdog_period_ms();

} // namespace jobsd
