#include <exec/shim.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

// The bytes of jobs-step-shim (shim_image.cpp, made from the program by embed.cmake).
extern "C" const unsigned char jobs_shim_image[];
extern "C" const unsigned char jobs_shim_image_end[];

namespace exec {

namespace {

base::Result<int> make_program() {
  const auto failure = [](const std::string& what) {
    base::Error e;
    e.message = "cannot make the step shim's program: " + what + ": " + std::strerror(errno);
    return e;
  };
  const int fd = memfd_create("jobs-step-shim", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    return failure("memfd_create");
  }
  for (const unsigned char* at = jobs_shim_image; at < jobs_shim_image_end;) {
    const ssize_t n = ::write(fd, at, static_cast<size_t>(jobs_shim_image_end - at));
    if (n < 0 && errno != EINTR) {
      const auto e = failure("write");
      ::close(fd);
      return e;
    }
    at += n > 0 ? n : 0;
  }
  // Sealed: nothing can change the program every later step runs.
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    const auto e = failure("sealing");
    ::close(fd);
    return e;
  }
  return fd;
}

} // namespace

base::Result<int> shim_program() {
  static const base::Result<int> program = make_program();
  return program;
}

} // namespace exec
