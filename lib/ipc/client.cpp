#include <ipc/client.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ipc {

namespace {

constexpr std::string_view not_running_text = "jobsd is not running";

base::Error error(std::string message) {
  base::Error e;
  e.message = std::move(message);
  return e;
}

} // namespace

bool Client::not_running(const base::Error& e) {
  return e.message.starts_with(not_running_text);
}

Client::Client(Client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)), hello_(std::move(other.hello_)), next_id_(other.next_id_) {
}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    buffer_ = std::move(other.buffer_);
    hello_ = std::move(other.hello_);
    next_id_ = other.next_id_;
  }
  return *this;
}

Client::~Client() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

base::Result<Client> Client::connect(const std::string& socket_path,
                                     std::chrono::milliseconds timeout) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path) {
    return error("the socket path " + socket_path + " is too long (at most " +
                 std::to_string(sizeof address.sun_path - 1) + " bytes)");
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  Client c;
  c.path_ = socket_path;
  c.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd_ < 0) {
    return error(std::string("cannot make a socket: ") + std::strerror(errno));
  }
  if (::connect(c.fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return error(std::string(not_running_text) + " (no socket at " + socket_path + ")");
    }
    if (err == ECONNREFUSED) {
      return error(std::string(not_running_text) + " (nothing listens on " + socket_path + ")");
    }
    return error("cannot connect to jobsd at " + socket_path + ": " + std::strerror(err));
  }
  auto hello = c.read_message(timeout);
  if (!hello) {
    return hello.error();
  }
  if (hello->is_object() && hello->contains("error")) {
    // Refused at once (too many clients): the daemon says why.
    return error("jobsd at " + socket_path + ": " +
                 (*hello)["error"].value("message", std::string("refused the connection")));
  }
  if (!hello->is_object() || !hello->contains("hello")) {
    return error("jobsd at " + socket_path + " did not say hello: " + hello->dump());
  }
  c.hello_ = std::move(*hello);
  return c;
}

base::Result<Json> Client::read_message(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      Json message = Json::parse(std::string_view(buffer_).substr(0, nl), nullptr, false);
      buffer_.erase(0, nl + 1);
      if (message.is_discarded()) {
        return error("jobsd at " + path_ + " sent a line that is not JSON");
      }
      return message;
    }
    int wait = -1;
    if (timeout.count() > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return error("jobsd at " + path_ + " did not answer within " +
                     std::to_string(timeout.count() / 1000) + " s");
      }
      wait = static_cast<int>(left.count());
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, wait);
    if (ready < 0 && errno == EINTR && stop_ != nullptr && *stop_) {
      return error("interrupted");
    }
    if (ready < 0 && errno != EINTR) {
      return error(std::string("poll: ") + std::strerror(errno));
    }
    if (ready <= 0) {
      continue;
    }
    char chunk[65536];
    const ssize_t got = ::read(fd_, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      return error("jobsd at " + path_ + " closed the connection" +
                   (got < 0 ? std::string(": ") + std::strerror(errno) : std::string()));
    }
    buffer_.append(chunk, static_cast<size_t>(got));
  }
}

base::Result<Reply> Client::call(const std::string& cmd, const Json& args,
                                 const std::function<void(const Json&)>& on_event,
                                 std::chrono::milliseconds timeout) {
  const std::int64_t id = next_id_++;
  const std::string line =
      encode({{"v", protocol_version}, {"id", id}, {"cmd", cmd}, {"args", args}});
  for (size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return error("cannot send to jobsd at " + path_ + ": " + std::strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }
  while (true) {
    auto message = read_message(timeout);
    if (!message) {
      return message.error();
    }
    const Json& m = *message;
    if (!m.is_object() || m.value("id", Json()) != id) {
      continue; // not ours (an event of an earlier request)
    }
    if (const auto e = m.find("event"); e != m.end()) {
      if (on_event) {
        on_event(*e);
      }
      continue;
    }
    Reply r;
    if (const auto e = m.find("error"); e != m.end()) {
      r.code = e->value("code", std::string(code::internal));
      r.message = e->value("message", std::string());
    } else {
      r.result = m.value("result", Json());
    }
    return r;
  }
}

} // namespace ipc
