// Bearer tokens: made from 32 random bytes, kept as SHA-256 hashes (GnuTLS), compared in
// constant time.
#include <jobs/edit.hpp>
#include <jobsd/tokens.hpp>

#include <fcntl.h>
#include <fnmatch.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace jobsd {

namespace {

using Json = nlohmann::ordered_json;

constexpr size_t max_tokens_file = 4 << 20;
constexpr size_t max_name = 64;

base::Error error(const std::string& message) {
  base::Error e;
  e.message = message;
  return e;
}

std::string sha256_hex(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  gnutls_hash_fast(GNUTLS_DIG_SHA256, text.data(), text.size(), digest.data());
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string base64url(const unsigned char* data, size_t size) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (size_t i = 0; i < size; ++i) {
    bits = (bits << 8) | data[i];
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += alphabet[(bits >> count) & 63];
    }
  }
  if (count > 0) {
    out += alphabet[(bits << (6 - count)) & 63];
  }
  return out;
}

// Equal strings of equal length, in a time that depends on the length only.
bool same(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= max_name && name[0] != '-' &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
         });
}

} // namespace

std::optional<Role> parse_role(std::string_view text) {
  if (text == "viewer") {
    return Role::viewer;
  }
  if (text == "operator") {
    return Role::operator_;
  }
  if (text == "admin") {
    return Role::admin;
  }
  return std::nullopt;
}

const char* to_string(Role role) {
  switch (role) {
  case Role::viewer:
    return "viewer";
  case Role::operator_:
    return "operator";
  case Role::admin:
    return "admin";
  }
  return "viewer";
}

bool role_allows(Role role, const std::string& jobs, const std::string& cmd, bool privileged,
                 const std::string& job_id) {
  if (role == Role::admin || !privileged) {
    return true;
  }
  static const std::vector<std::string> operator_commands = {
      "trigger", "cancel", "enable", "disable", "pause", "resume", "schedule"};
  return role == Role::operator_ &&
         std::find(operator_commands.begin(), operator_commands.end(), cmd) !=
             operator_commands.end() &&
         !job_id.empty() && fnmatch(jobs.c_str(), job_id.c_str(), 0) == 0;
}

Tokens::Tokens(std::string path) : path_(std::move(path)) {}

base::Result<bool> Tokens::load() {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) {
      tokens_.clear();
      return true;
    }
    return error("cannot read " + path_ + ": " + std::strerror(errno));
  }
  struct stat st {};
  std::string text;
  std::string problem;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    problem = "is not a regular file";
  } else if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
    problem = "must be owned by uid " + std::to_string(geteuid()) + " with mode 0600";
  } else if (static_cast<size_t>(st.st_size) > max_tokens_file) {
    problem = "is larger than 4 MiB";
  } else {
    text.resize(static_cast<size_t>(st.st_size));
    if (::read(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      problem = std::string("cannot be read: ") + std::strerror(errno);
    }
  }
  ::close(fd);
  if (!problem.empty()) {
    return error(path_ + " " + problem);
  }
  const Json doc = Json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.value("tokens", Json()).is_array()) {
    return error(path_ + " is not a JSON object with a \"tokens\" list");
  }
  std::vector<Token> read;
  for (const auto& item : doc["tokens"]) {
    Token t;
    const auto role = item.is_object() ? parse_role(item.value("role", "")) : std::nullopt;
    if (!role || !item.value("name", Json()).is_string() ||
        !item.value("hash", Json()).is_string() || !item.value("jobs", Json()).is_string()) {
      return error(path_ + ": a token without a valid name, role, jobs and hash");
    }
    t.name = item["name"].get<std::string>();
    t.role = *role;
    t.jobs = item["jobs"].get<std::string>();
    t.hash = item["hash"].get<std::string>();
    t.created_ms = item.value("created_ms", std::int64_t{0});
    read.push_back(std::move(t));
  }
  tokens_ = std::move(read);
  return true;
}

base::Result<bool> Tokens::save() const {
  Json list = Json::array();
  for (const auto& t : tokens_) {
    list.push_back({{"name", t.name},
                    {"role", to_string(t.role)},
                    {"jobs", t.jobs},
                    {"hash", t.hash},
                    {"created_ms", t.created_ms}});
  }
  // Made 0600 before anything is written: the atomic replacement keeps the original's mode.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  }
  return jobs::write_file_atomically(path_, Json{{"tokens", list}}.dump(2) + "\n");
}

base::Result<std::string> Tokens::create(const std::string& name, Role role,
                                         const std::string& jobs, std::int64_t now_ms) {
  if (!valid_name(name)) {
    return error("invalid token name \"" + name +
                 "\": letters, digits, '.', '_' and '-', at most 64, not starting with '-'");
  }
  if (std::any_of(tokens_.begin(), tokens_.end(), [&](const Token& t) { return t.name == name; })) {
    return error("a token named " + name + " exists already; revoke it first");
  }
  if (jobs.empty() || jobs.size() > 256) {
    return error("the jobs glob must have 1 to 256 characters");
  }
  std::array<unsigned char, 32> random{};
  if (gnutls_rnd(GNUTLS_RND_KEY, random.data(), random.size()) != 0) {
    return error("cannot make a random token");
  }
  const std::string text = "jobs_" + base64url(random.data(), random.size());
  tokens_.push_back({name, role, jobs, sha256_hex(text), now_ms});
  if (auto saved = save(); !saved) {
    tokens_.pop_back();
    return saved.error();
  }
  return text;
}

base::Result<bool> Tokens::revoke(const std::string& name) {
  const auto it =
      std::find_if(tokens_.begin(), tokens_.end(), [&](const Token& t) { return t.name == name; });
  if (it == tokens_.end()) {
    return false;
  }
  const Token removed = *it;
  tokens_.erase(it);
  if (auto saved = save(); !saved) {
    tokens_.push_back(removed);
    return saved.error();
  }
  return true;
}

const Token* Tokens::find(std::string_view text) const {
  const std::string hash = sha256_hex(text);
  const Token* found = nullptr;
  for (const auto& t : tokens_) {
    if (same(t.hash, hash)) {
      found = &t;
    }
  }
  return found;
}

} // namespace jobsd
