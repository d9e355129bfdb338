# The Debian package (make deb): CPack's DEB generator, which needs no debian/ folder and no
# debhelper, only what the build has (dpkg-shlibdeps of dpkg-dev, and `file`). The build folder
# must be configured with CMAKE_INSTALL_PREFIX=/usr; the Makefile does.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME jobs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "jobs maintainers <maintainers@users.noreply.b-seed-a4d1009f.example>")
# Installs with DESTDIR and the configured prefix, so that /etc/jobs/jobsd.yaml lands in /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # jobs_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: the shared libraries' packages (dpkg-shlibdeps), the zone files jobsd reads, and the
# unit's /bin/kill (ExecReload), which a minimal Debian 12 lacks without procps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "tzdata, procps")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/deb/conffiles ${CMAKE_CURRENT_SOURCE_DIR}/deb/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/deb/prerm ${CMAKE_CURRENT_SOURCE_DIR}/deb/postrm)

set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "cron replacement that runs each job in its own time zone")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION [[
jobsd runs the jobs of a folder of YAML or JSON files, one file per job, on
cron schedules (Vixie/cronie syntax with the Quartz extensions), each in its
own time zone and right at every DST change: no run lost or doubled. It
sleeps until the next fire, queues executions per time zone with limits and
priorities, applies each job's concurrency and missed-run policies, reloads
the folder when a file changes, and records every execution in a SQLite
history and in logs.

A job is a list of steps: shell commands and programs, SQL, HTTP requests and
webhooks, file operations, e-mail, database cleanups, exports, backups and
reports, with retries, timeouts and notifications.

jobsctl validates, lists and runs the jobs, shows when a schedule fires, and
drives the daemon over its Unix socket. A systemd unit is included.]])

# packaging/changelog is the package's /usr/share/doc/jobs/changelog.gz; its first entry must be
# this version, or lintian and dpkg-parsechangelog disagree with the package.
file(STRINGS changelog top LIMIT_COUNT 1)
if(NOT top MATCHES "^jobs \\(${PROJECT_VERSION}\\) ")
  message(WARNING "packaging/changelog: the first entry is not version ${PROJECT_VERSION}: ${top}")
endif()

include(CPack)
