#include <base/file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace base {

std::FILE* open_append(const std::string& path, mode_t mode) {
  // O_NONBLOCK: a FIFO put in its place must not block the writer (regular files ignore it).
  const int fd = ::open(path.c_str(),
                        O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode);
  if (fd < 0) {
    return nullptr;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    errno = EINVAL;
    return nullptr;
  }
  std::FILE* f = fdopen(fd, "a");
  if (f == nullptr) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
  }
  return f;
}

} // namespace base
