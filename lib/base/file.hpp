#pragma once

#include <sys/types.h>

#include <cstdio>
#include <string>

namespace base {

// Opens the regular file `path` for appending (made with `mode` when it does not exist, less the
// umask), refusing a symbolic link as its last component (ELOOP) and anything but a regular
// file (EINVAL): a link planted where a log is written must not make the writer append to
// another file. Returns null with errno set when it cannot.
std::FILE* open_append(const std::string& path, mode_t mode);

} // namespace base
