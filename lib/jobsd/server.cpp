// The control socket's connections: accepting with the peer's credentials, reading request
// lines, writing replies and streams without ever blocking the loop, and dropping clients that
// send too much, too slowly, or read too slowly.
#include <base/duration.hpp>
#include <base/text.hpp>
#include <ipc/client.hpp>
#include <jobsd/daemon.hpp>

#include <grp.h>
#include <pwd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace jobsd {

namespace {

// At most this many clients at once; more are told so and closed. The last admin_reserve slots
// are for admins only, and a user who is not an admin holds at most max_connections_per_user:
// one user's idle connections cannot lock the others, nor the admins, out.
constexpr size_t max_connections = 1024;
constexpr size_t admin_reserve = 64;
constexpr size_t max_connections_per_user = 64;
// Refusals of one user (connections, reads) are told in jobsd.log at most once in this time,
// with their count.
constexpr std::int64_t refusal_report_ms = 60 * 1000;
// A client that lets this much output pile up unread is dropped when more is to be sent.
constexpr size_t max_unsent_bytes = 16 << 20;

std::int64_t steady_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::optional<gid_t> group_id(const std::string& name) {
  if (name.empty()) {
    return std::nullopt;
  }
  group g{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  if (getgrnam_r(name.c_str(), &g, buffer.data(), buffer.size(), &found) != 0 || !found) {
    return std::nullopt;
  }
  return g.gr_gid;
}

// Whether the user (with primary group `gid`) belongs to the group named `name`.
bool member_of(const std::string& user, gid_t gid, const std::string& name) {
  const auto wanted = group_id(name);
  if (!wanted) {
    return false;
  }
  if (gid == *wanted) {
    return true;
  }
  int count = 64;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  if (getgrouplist(user.c_str(), gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<size_t>(count));
    getgrouplist(user.c_str(), gid, groups.data(), &count);
  }
  groups.resize(static_cast<size_t>(std::max(count, 0)));
  return std::find(groups.begin(), groups.end(), *wanted) != groups.end();
}

std::string user_name(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) == 0 && found) {
    return pw.pw_name;
  }
  return std::to_string(uid);
}

} // namespace

std::string Daemon::no_slot_for(const Connection& c) const {
  // HTTP bridges are bounded by http.max_connections: they take none of the socket's slots.
  size_t clients = 0;
  size_t mine = 0;
  for (const auto& [fd, other] : connections_) {
    clients += !other.principal;
    mine += !other.principal && other.uid == c.uid;
  }
  if (clients >= max_connections) {
    return "too many clients (" + std::to_string(max_connections) + ")";
  }
  if (c.admin) {
    return "";
  }
  if (clients >= max_connections - admin_reserve) {
    return "too many clients: the last " + std::to_string(admin_reserve) + " of " +
           std::to_string(max_connections) + " connections are for admins";
  }
  if (mine >= max_connections_per_user) {
    return "user " + c.user + " has " + std::to_string(max_connections_per_user) +
           " connections already, the most a user who is not an admin may have";
  }
  return "";
}

void Daemon::refused(const Connection& c, const std::string& what, const std::string& why) {
  Refusals& r = refusals_[{c.uid, what}];
  ++r.count;
  r.why = why;
  report_refusals(false);
}

void Daemon::report_refusals(bool all) {
  const std::int64_t now = steady_now();
  for (auto& [key, r] : refusals_) {
    if (r.count == 0 || (!all && r.reported_ms != 0 && now - r.reported_ms < refusal_report_ms)) {
      continue;
    }
    logs_->daemon().warn("refused {}{} {}{} of {} (uid {}): {}", r.count,
                         r.reported_ms == 0 ? "" : " more", key.second, r.count == 1 ? "" : "s",
                         user_name(key.first), key.first, r.why);
    r.count = 0;
    r.reported_ms = now;
  }
  // A user refused nothing for a minute is forgotten: the map stays as small as the abuse.
  std::erase_if(refusals_, [&](const auto& entry) {
    return entry.second.count == 0 && now - entry.second.reported_ms >= refusal_report_ms;
  });
}

base::Result<bool> Daemon::listen_socket() {
  const std::string& path = config_.socket;
  const auto fail = [&](const std::string& what) {
    base::Error e;
    e.message = what + " " + path + ": " + std::strerror(errno);
    return e;
  };
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    base::Error e;
    e.message = "the socket path " + path + " is too long (at most " +
                std::to_string(sizeof address.sun_path - 1) + " bytes); set socket: in the config";
    return e;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  // A folder made for it holds only the socket: the socket's group must traverse it, whatever
  // the umask (027).
  const std::string folder = std::filesystem::path(path).parent_path().string();
  std::error_code ec;
  if (std::filesystem::create_directories(folder, ec)) {
    chmod(folder.c_str(), 0755);
  }
  // A socket that answers belongs to another daemon (with another state folder); one that
  // does not is left from a daemon that died.
  if (ipc::Client::connect(path, std::chrono::milliseconds(500))) {
    base::Error e;
    e.message = "another jobsd listens on " + path;
    return e;
  }
  ::unlink(path.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    return fail("cannot make the socket");
  }
  // Created with mode 0660 from the start: no moment in which others could connect.
  const mode_t old_mask = umask(0117);
  const int bound = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
  umask(old_mask);
  if (bound != 0) {
    return fail("cannot bind the socket");
  }
  if (!config_.access.socket_group.empty()) {
    const auto gid = group_id(config_.access.socket_group);
    if (!gid || chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
      return fail("cannot give the group " + config_.access.socket_group + " to the socket");
    }
  }
  if (::listen(listen_fd_, 512) != 0) {
    return fail("cannot listen on the socket");
  }
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.fd = listen_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &e);
  return true;
}

Daemon::Connection* Daemon::connection(int fd) {
  const auto it = connections_.find(fd);
  return it == connections_.end() ? nullptr : &it->second;
}

void Daemon::accept_clients() {
  while (true) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        logs_->daemon().error("accept: {}", std::strerror(errno));
      }
      return;
    }
    Connection c;
    c.fd = fd;
    c.serial = next_serial_++;
    ucred cred{};
    socklen_t length = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
      ::close(fd);
      continue;
    }
    c.uid = cred.uid;
    c.gid = cred.gid;
    c.pid = cred.pid;
    c.user = user_name(cred.uid);
    const Access& a = config_.access;
    c.admin = cred.uid == 0 || cred.uid == geteuid() ||
              (!a.admin_group.empty() && member_of(c.user, cred.gid, a.admin_group));
    c.reader = c.admin || a.readers == Access::Readers::all ||
               (a.readers == Access::Readers::group && member_of(c.user, cred.gid, a.reader_group));
    if (const std::string full = no_slot_for(c); !full.empty()) {
      const std::string line =
          ipc::encode(ipc::error_reply(std::nullopt, ipc::code::denied, full + "; try again"));
      (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      refused(c, "connection", full);
      continue;
    }
    c.active_ms = steady_now();
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &e);
    auto& stored = connections_.emplace(fd, std::move(c)).first->second;
    send(stored, hello(stored));
  }
}

void Daemon::on_readable(Connection& c) {
  const int fd = c.fd;
  // A bounded read per turn: a client that sends without pause cannot hold up the loop (epoll
  // reports it again next turn).
  bool ended = false;
  char chunk[65536];
  for (int reads = 0; reads < 4 && c.in.size() <= ipc::max_request_bytes * 4; ++reads) {
    const ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got > 0) {
      c.in.append(chunk, static_cast<size_t>(got));
      c.active_ms = steady_now();
      continue;
    }
    if (got < 0 && errno == EINTR) {
      continue;
    }
    // The end of its input (or an error): what it sent before is still answered.
    ended = got == 0 || errno != EAGAIN;
    break;
  }
  // Each complete line is one request; the connection may close while they are handled.
  size_t start = 0;
  for (size_t nl; (nl = c.in.find('\n', start)) != std::string::npos;) {
    const std::string line = c.in.substr(start, nl - start);
    start = nl + 1;
    if (line.size() > ipc::max_request_bytes) {
      c.closing = true; // once the error is sent
    }
    auto decoded = ipc::decode_request(line);
    if (!decoded.request) {
      send(c, decoded.error_reply);
    } else {
      handle_request(c, *decoded.request);
    }
    if (connection(fd) == nullptr || c.closing) {
      return;
    }
  }
  if (start > 0) {
    c.in.erase(0, start);
    c.partial_since = 0; // a new request line begins
  }
  if (c.in.size() > ipc::max_request_bytes) {
    c.in.clear();
    c.closing = true; // once the error is sent
    send(c, ipc::error_reply(std::nullopt, ipc::code::too_large,
                             "request longer than " + std::to_string(ipc::max_request_bytes) +
                                 " bytes; closing"));
    return;
  }
  if (ended) {
    // Its replies still go out, deferred ones too (close_finished() closes it then).
    c.in.clear();
    c.closing = true;
    on_writable(c);
    return;
  }
  c.partial_since = c.in.empty() ? 0 : (c.partial_since != 0 ? c.partial_since : steady_now());
}

void Daemon::send(Connection& c, const ipc::Json& message) {
  // Checked before the message is added: one large reply (a list of 100,000 jobs, the metrics)
  // is fine, replies piling up unread are not.
  if (c.out.size() > max_unsent_bytes) {
    logs_->daemon().warn("client {} (pid {}) reads too slowly: {} bytes unsent; closing", c.user,
                         c.pid, c.out.size());
    close_connection(c.fd);
    return;
  }
  c.out += ipc::encode(message);
  on_writable(c);
}

void Daemon::on_writable(Connection& c) {
  const int fd = c.fd;
  while (!c.out.empty()) {
    const ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
      c.active_ms = steady_now();
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      break;
    }
    close_connection(fd);
    return;
  }
  const bool following = std::any_of(followers_.begin(), followers_.end(),
                                     [&](const Follower& f) { return f.fd == fd; });
  if (c.out.empty() && c.closing && !following) {
    close_connection(fd);
    return;
  }
  epoll_event e{};
  // Closing, only what remains to be sent matters: its input ended, or is refused.
  e.events = (c.closing ? 0u : static_cast<unsigned>(EPOLLIN)) |
             (c.out.empty() ? 0u : static_cast<unsigned>(EPOLLOUT));
  e.data.fd = fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &e);
  // Follow streams read more of their logs as the client takes what it was sent.
  if (c.out.empty() && following) {
    pending_pumps_.insert(fd);
  }
}

void Daemon::close_finished() {
  std::vector<int> done;
  for (const auto& [fd, c] : connections_) {
    if (c.closing && c.out.empty() &&
        std::none_of(followers_.begin(), followers_.end(),
                     [&](const Follower& f) { return f.fd == fd && f.serial == c.serial; })) {
      done.push_back(fd);
    }
  }
  for (int fd : done) {
    close_connection(fd);
  }
}

void Daemon::close_connection(int fd) {
  const auto it = connections_.find(fd);
  if (it == connections_.end()) {
    return;
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  connections_.erase(it);
  // Followers are dropped later: this may run while they are being pumped.
  followers_dirty_ = true;
}

int Daemon::open_bridge(const Principal& who, const ipc::Request& request) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ends) != 0) {
    logs_->daemon().error("socketpair: {}", std::strerror(errno));
    return -1;
  }
  Connection c;
  c.fd = ends[0];
  c.serial = next_serial_++;
  c.uid = geteuid();
  c.pid = getpid();
  c.user = "token:" + who.token;
  c.admin = who.role == Role::admin;
  c.reader = true;
  c.principal = who;
  c.active_ms = steady_now();
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.fd = c.fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &e);
  auto& stored = connections_.emplace(c.fd, std::move(c)).first->second;
  handle_request(stored, request);
  return ends[1];
}

void Daemon::end_bridges(const std::string& token, const std::string& why, int except) {
  std::vector<int> ending;
  for (const auto& [fd, c] : connections_) {
    if (c.principal && c.principal->token == token && fd != except) {
      ending.push_back(fd);
    }
  }
  for (int fd : ending) {
    // Told if the bridge has room for it (a stream then ends with an error event), then closed:
    // the HTTP side sees the end of its bridge and ends the response.
    if (Connection* c = connection(fd)) {
      send(*c, ipc::error_reply(std::nullopt, ipc::code::denied, why));
    }
    close_connection(fd);
  }
}

base::Result<bool> Daemon::start_http() {
  HttpHooks hooks;
  hooks.call = [this](const Principal& who, const ipc::Request& request) {
    return open_bridge(who, request);
  };
  hooks.watch = [this](int fd, bool add) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = fd;
    epoll_ctl(epoll_fd_, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, add ? &e : nullptr);
  };
  hooks.audit = [this](const Principal& who, const std::string& action, const std::string& target,
                       const std::string& outcome) {
    audit("token:" + who.token, std::nullopt, "address=" + base::escaped(who.address), action,
          target, "{}", outcome);
  };
  hooks.token = [this](std::string_view text) { return tokens_->find(text); };
  hooks.log = &logs_->daemon();
  hooks.version = options_.version;
  http_ = std::make_unique<HttpServer>(*config_.http, std::move(hooks));
  return http_->start();
}

Daemon::Connection* Daemon::client(const Follower& f) {
  Connection* c = connection(f.fd);
  return c != nullptr && c->serial == f.serial ? c : nullptr;
}

void Daemon::sweep_followers() {
  if (!followers_dirty_) {
    return;
  }
  followers_dirty_ = false;
  std::erase_if(followers_, [&](const Follower& f) { return client(f) == nullptr; });
  for (auto& [id, x] : running_) {
    x->watched = std::any_of(followers_.begin(), followers_.end(),
                             [&](const Follower& f) { return f.execution_id == id && f.send_log; });
  }
}

bool Daemon::idle(const Connection& c) const {
  return c.in.empty() && std::none_of(followers_.begin(), followers_.end(), [&](const Follower& f) {
           return f.fd == c.fd && f.serial == c.serial;
         });
}

std::optional<std::int64_t> Daemon::next_client_deadline() const {
  std::optional<std::int64_t> next;
  const auto consider = [&](std::int64_t at) { next = next ? std::min(*next, at) : at; };
  for (const auto& [fd, c] : connections_) {
    if (c.partial_since > 0) {
      consider(c.partial_since + client_request_timeout_ms);
    } else if (idle(c)) {
      consider(c.active_ms + idle_timeout_ms());
    }
  }
  for (const auto& [key, r] : refusals_) {
    // Counts to tell, and entries to forget.
    consider(r.reported_ms + refusal_report_ms);
  }
  return next;
}

std::int64_t Daemon::idle_timeout_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(config_.client_idle_timeout).count();
}

void Daemon::expire_slow_clients() {
  const std::int64_t now = steady_now();
  std::vector<int> late, unused;
  for (const auto& [fd, c] : connections_) {
    if (c.partial_since > 0 && now - c.partial_since >= client_request_timeout_ms) {
      late.push_back(fd);
    } else if (idle(c) && now - c.active_ms >= idle_timeout_ms()) {
      unused.push_back(fd);
    }
  }
  // Told why, in case it was about to ask something; one that does not even take its replies
  // is closed at once.
  for (int fd : unused) {
    Connection& c = connections_.at(fd);
    if (!c.out.empty()) {
      close_connection(fd);
      continue;
    }
    c.closing = true;
    send(c, ipc::error_reply(std::nullopt, ipc::code::bad_request,
                             "no request for " + base::format_duration(idle_timeout_ms() / 1000) +
                                 " (client_idle_timeout); closing"));
  }
  report_refusals(false);
  for (int fd : late) {
    Connection& c = connections_.at(fd);
    c.in.clear();
    c.partial_since = 0;
    c.closing = true; // once the error is sent
    send(c, ipc::error_reply(std::nullopt, ipc::code::bad_request,
                             "request not completed within " +
                                 std::to_string(client_request_timeout_ms / 1000) + "s; closing"));
  }
}

} // namespace jobsd
