#include <base/utf8.hpp>
#include <mail/smtp.hpp>

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>

namespace mail {

namespace {

using namespace std::string_view_literals;

constexpr std::string_view crlf = "\r\n";

// RFC 5322 asks for lines of at most 78 characters (998 is the hard limit).
constexpr size_t line_limit = 78;

base::Error error(std::string message) {
  return base::Error{std::move(message), {}, {}, 1};
}

// The injection guard: a header value with a line break would end the header and start
// another one (a "Bcc:" of the attacker's choice, or the body).
std::optional<base::Error> check_header_value(std::string_view field, std::string_view value) {
  for (const char c : value) {
    if (c == '\r' || c == '\n') {
      return error(std::string(field) + ": a header cannot contain a line break");
    }
    if (c == '\0') {
      return error(std::string(field) + ": a header cannot contain a NUL character");
    }
  }
  return std::nullopt;
}

// A bare addr-spec, and nothing that could turn it into a list, a display name or a group.
std::optional<base::Error> check_address(std::string_view field, const std::string& address) {
  if (auto e = check_header_value(field, address)) {
    return e;
  }
  const size_t at = address.find('@');
  bool ok = at != std::string::npos && at > 0 && at + 1 < address.size() &&
            address.find('@', at + 1) == std::string::npos;
  for (size_t i = 0; ok && i < address.size(); ++i) {
    const auto c = static_cast<unsigned char>(address[i]);
    if (c <= 0x20 || c >= 0x7f || "<>,;\"()\\"sv.find(address[i]) != std::string_view::npos ||
        (c == ':' && i < at)) {
      ok = false;
    }
  }
  if (!ok) {
    return error(std::string(field) + ": " + base::utf8::quote(address) +
                 " is not an address (expected local@domain, in ASCII, without spaces, <>, or "
                 "commas)");
  }
  return std::nullopt;
}

std::string format_date(std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  static constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto second = floor<seconds>(now);
  const auto day = floor<days>(second);
  const year_month_day date{day};
  const hh_mm_ss time{second - day};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02u %s %04d %02d:%02d:%02d +0000",
                day_names[weekday{day}.c_encoding()], static_cast<unsigned>(date.day()),
                month_names[static_cast<unsigned>(date.month()) - 1], static_cast<int>(date.year()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return buffer;
}

std::string message_id(std::chrono::system_clock::time_point now, std::string_view domain) {
  using namespace std::chrono;
  // Unique without coordination: the time, 64 random bits and a process-wide counter.
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 random{std::random_device{}()};
  const auto second = floor<seconds>(now);
  const auto day = floor<days>(second);
  const year_month_day date{day};
  const hh_mm_ss time{second - day};
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04d%02u%02u%02d%02d%02d.%016llx.%llu",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()),
                static_cast<unsigned long long>(random()),
                static_cast<unsigned long long>(counter.fetch_add(1) + 1));
  return "<" + std::string(buffer) + "@" + std::string(domain) + ">";
}

// "To: a@example.com, b@example.com", folded after a comma when a line grows too long.
std::string address_header(std::string_view name, const std::vector<std::string>& addresses) {
  std::string out = std::string(name) + ": ";
  size_t column = out.size();
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (i > 0) {
      if (column + 2 + addresses[i].size() > line_limit) {
        out += ",\r\n ";
        column = 1;
      } else {
        out += ", ";
        column += 2;
      }
    }
    out += addresses[i];
    column += addresses[i].size();
  }
  out += crlf;
  return out;
}

std::string base64(std::string_view data) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < data.size(); i += 3) {
    std::uint32_t group = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (i + 1 < data.size()) {
      group |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    }
    if (i + 2 < data.size()) {
      group |= static_cast<unsigned char>(data[i + 2]);
    }
    out += alphabet[(group >> 18) & 63];
    out += alphabet[(group >> 12) & 63];
    out += i + 1 < data.size() ? alphabet[(group >> 6) & 63] : '=';
    out += i + 2 < data.size() ? alphabet[group & 63] : '=';
  }
  return out;
}

// Plain ASCII that no reader could take for an encoded-word.
bool is_plain_text(std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u >= 0x7f) {
      return false;
    }
  }
  return text.find("=?") == std::string_view::npos;
}

base::Result<std::string> subject_header(std::string_view subject) {
  const std::string_view name = "Subject: ";
  if (is_plain_text(subject)) {
    // Folded before a space when a line grows too long; a word too long for a line (998) goes
    // the encoded way below.
    std::string out(name);
    size_t column = out.size();
    bool fits = true;
    size_t start = 0;
    while (start <= subject.size()) {
      size_t end = subject.find(' ', start + 1);
      if (end == std::string_view::npos) {
        end = subject.size();
      }
      const std::string_view piece = subject.substr(start, end - start);
      if (column + piece.size() > line_limit && column > 1 && piece.size() > 1 &&
          piece.front() == ' ') {
        out += crlf;
        column = 0;
      }
      out += piece;
      column += piece.size();
      fits = fits && column <= 998;
      if (end == subject.size()) {
        break;
      }
      start = end;
    }
    if (fits) {
      out += crlf;
      return out;
    }
  }
  // RFC 2047 encoded-words of whole UTF-8 characters, 42 bytes each (68 characters encoded),
  // one per line: the space between two encoded-words is not part of the text.
  std::vector<std::string_view> chunks;
  size_t start = 0;
  size_t i = 0;
  while (i < subject.size()) {
    const size_t length = base::utf8::utf8_length(subject, i);
    if (length == 0) {
      return error("subject: not valid UTF-8");
    }
    if (i + length - start > 42) {
      chunks.push_back(subject.substr(start, i - start));
      start = i;
    }
    i += length;
  }
  chunks.push_back(subject.substr(start));
  std::string out(name);
  for (size_t k = 0; k < chunks.size(); ++k) {
    if (k > 0) {
      out += "\r\n ";
    }
    out += "=?UTF-8?B?" + base64(chunks[k]) + "?=";
  }
  out += crlf;
  return out;
}

// The body's lines without their line ends ("\n" or "\r\n").
std::vector<std::string_view> body_lines(std::string_view body) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) {
      end = body.size();
    }
    std::string_view line = body.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

bool needs_quoted_printable(const std::vector<std::string_view>& lines) {
  for (const auto line : lines) {
    if (line.size() > line_limit) {
      return true;
    }
    for (const char c : line) {
      if (c == '\0' || c == '\r' || static_cast<unsigned char>(c) >= 0x80) {
        return true;
      }
    }
  }
  return false;
}

// RFC 2045 6.7: encoded lines of at most 76 characters, soft breaks "=" CRLF, a space or tab
// at the end of a line encoded so that no transport strips it.
void append_quoted_printable(std::string& out, std::string_view line) {
  static constexpr char hex[] = "0123456789ABCDEF";
  size_t column = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    const bool last = i + 1 == line.size();
    char token[3];
    size_t length = 1;
    if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
      token[0] = static_cast<char>(c);
    } else {
      token[0] = '=';
      token[1] = hex[c >> 4];
      token[2] = hex[c & 15];
      length = 3;
    }
    if (column + length > 75) {
      out += "=\r\n";
      column = 0;
    }
    out.append(token, length);
    column += length;
  }
  out += crlf;
}

// The envelope's recipients: to, cc and bcc, each address once.
std::vector<std::string> recipients_of(const Message& message) {
  std::vector<std::string> all;
  for (const auto* list : {&message.to, &message.cc, &message.bcc}) {
    for (const auto& address : *list) {
      if (std::find(all.begin(), all.end(), address) == all.end()) {
        all.push_back(address);
      }
    }
  }
  return all;
}

// --- sending --------------------------------------------------------------------------------

struct Reader {
  std::string_view data;
  size_t offset = 0;
};

size_t read_callback(char* buffer, size_t size, size_t count, void* user) {
  auto* reader = static_cast<Reader*>(user);
  const size_t n = std::min(size * count, reader->data.size() - reader->offset);
  std::memcpy(buffer, reader->data.data() + reader->offset, n);
  reader->offset += n;
  return n;
}

// The server's replies, as libcurl hands them over as "headers", one line a call.
struct Replies {
  std::string pending;  // the lines so far of a multi-line reply
  int failure_code = 0; // the last refusal (4xx, 5xx) not followed by an accepted command
  std::string failure_text;
};

size_t header_callback(char* buffer, size_t size, size_t count, void* user) {
  auto* replies = static_cast<Replies*>(user);
  std::string_view line(buffer, size * count);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  if (line.size() < 3 ||
      !std::all_of(line.begin(), line.begin() + 3, [](char c) { return c >= '0' && c <= '9'; })) {
    return size * count;
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  const std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  if (!replies->pending.empty()) {
    replies->pending += ' ';
  }
  replies->pending += text;
  if (line.size() > 3 && line[3] == '-') {
    return size * count;
  }
  if (code >= 400) {
    replies->failure_code = code;
    replies->failure_text = std::move(replies->pending);
  } else if (code != 221) {
    // Accepted: an earlier refusal libcurl got past (one AUTH mechanism of several) is not the
    // reason of a later failure. 221 is the goodbye libcurl sends after a refusal.
    replies->failure_code = 0;
    replies->failure_text.clear();
  }
  replies->pending.clear();
  return size * count;
}

// The connection's sockets, opened and closed through these callbacks so that a cancel can shut
// them down: libcurl then skips its wait for the reply to QUIT instead of sitting in it.
struct Sockets {
  std::vector<curl_socket_t> open;

  void shut_down() const {
    for (const auto fd : open) {
      ::shutdown(fd, SHUT_RDWR);
    }
  }
};

curl_socket_t open_socket_callback(void* user, curlsocktype, curl_sockaddr* address) {
  const curl_socket_t fd =
      ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd != CURL_SOCKET_BAD) {
    static_cast<Sockets*>(user)->open.push_back(fd);
  }
  return fd;
}

int close_socket_callback(void* user, curl_socket_t fd) {
  auto& open = static_cast<Sockets*>(user)->open;
  open.erase(std::remove(open.begin(), open.end(), fd), open.end());
  return ::close(fd);
}

int progress_callback(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<exec::CancelToken*>(user);
  return cancel != nullptr && cancel->cancelled() ? 1 : 0;
}

std::optional<base::Error> global_init() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    return error(std::string("SMTP: libcurl failed to start: ") + curl_easy_strerror(result));
  }
  return std::nullopt;
}

bool is_host_name(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == ':';
  });
}

// The name this machine greets the server with (EHLO), when it is a plain host name.
std::string ehlo_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) == 0 && is_host_name(buffer) &&
      std::strchr(buffer, ':') == nullptr) {
    return buffer;
  }
  return "localhost";
}

// libcurl never puts the password in its messages, but a server's reply could echo it. A
// password of a few characters is left alone: masking it would garble the text, not protect it.
void erase_secret(std::string& text, const std::optional<std::string>& secret) {
  if (!secret || secret->size() < 4) {
    return;
  }
  for (size_t at = text.find(*secret); at != std::string::npos; at = text.find(*secret, at + 3)) {
    text.replace(at, secret->size(), "***");
  }
}

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

} // namespace

base::Result<std::string> render(const Message& message,
                                 std::chrono::system_clock::time_point now) {
  if (message.from.empty()) {
    return error("from: an address is required");
  }
  if (auto e = check_address("from", message.from)) {
    return *e;
  }
  const std::pair<const char*, const std::vector<std::string>*> lists[] = {
      {"to", &message.to}, {"cc", &message.cc}, {"bcc", &message.bcc}};
  for (const auto& [field, addresses] : lists) {
    for (const auto& address : *addresses) {
      if (auto e = check_address(field, address)) {
        return *e;
      }
    }
  }
  if (auto e = check_header_value("subject", message.subject)) {
    return *e;
  }
  if (auto e = check_header_value("content_type", message.content_type)) {
    return *e;
  }
  if (message.content_type.empty() || !is_plain_text(message.content_type)) {
    return error("content_type: " + base::utf8::quote(message.content_type) +
                 " is not a MIME type");
  }
  auto subject = subject_header(message.subject);
  if (!subject) {
    return subject.error();
  }

  std::string out;
  out += "Date: " + format_date(now) + std::string(crlf);
  out += "Message-ID: " + message_id(now, message.from.substr(message.from.find('@') + 1)) +
         std::string(crlf);
  out += "From: " + message.from + std::string(crlf);
  if (!message.to.empty()) {
    out += address_header("To", message.to);
  }
  if (!message.cc.empty()) {
    out += address_header("Cc", message.cc);
  }
  out += *subject;
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: " + message.content_type + std::string(crlf);
  const auto lines = body_lines(message.body);
  const bool quoted_printable = needs_quoted_printable(lines);
  out += quoted_printable ? "Content-Transfer-Encoding: quoted-printable\r\n"
                          : "Content-Transfer-Encoding: 7bit\r\n";
  out += crlf;
  for (const auto line : lines) {
    if (quoted_printable) {
      append_quoted_printable(out, line);
    } else {
      out += line;
      out += crlf;
    }
  }
  return out;
}

std::optional<base::Error> send(const Server& server, const Message& message,
                                exec::CancelToken* cancel) {
  const std::string place = server.host + ":" + std::to_string(server.port);
  const auto fail = [&](std::string text) {
    erase_secret(text, server.password);
    return error("SMTP to " + place + ": " + text);
  };
  if (!is_host_name(server.host)) {
    return error("SMTP: " + base::utf8::quote(server.host) + " is not a host name");
  }
  if (server.port < 1 || server.port > 65535) {
    return error("SMTP: port " + std::to_string(server.port) + " is out of range 1-65535");
  }
  auto rendered = render(message, std::chrono::system_clock::now());
  if (!rendered) {
    return rendered.error();
  }
  const auto recipients = recipients_of(message);
  if (recipients.empty()) {
    return error("to: a mail needs at least one recipient (to, cc or bcc)");
  }
  if (auto e = global_init()) {
    return e;
  }

  // Declared before the handle that points at them, so that they outlive it.
  Reader reader{*rendered};
  Replies replies;
  Sockets sockets;
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::unique_ptr<curl_slist, ListDeleter> rcpt;
  for (const auto& address : recipients) {
    curl_slist* next = curl_slist_append(rcpt.get(), ("<" + address + ">").c_str());
    if (next == nullptr) {
      return fail("out of memory");
    }
    (void)rcpt.release();
    rcpt.reset(next);
  }
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (!easy) {
    return fail("libcurl could not make a handle");
  }

  const bool ipv6 = server.host.find(':') != std::string::npos;
  const std::string url = std::string(server.security == Security::tls ? "smtps://" : "smtp://") +
                          (ipv6 ? "[" + server.host + "]" : server.host) + ":" +
                          std::to_string(server.port) + "/" + ehlo_name();
  const std::string mail_from = "<" + message.from + ">";

  CURLcode set = CURLE_OK;
  const auto option = [&](CURLoption name, auto value) {
    if (set == CURLE_OK) {
      set = curl_easy_setopt(easy.get(), name, value);
    }
  };
  option(CURLOPT_ERRORBUFFER, error_buffer);
  option(CURLOPT_URL, url.c_str());
  option(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  option(CURLOPT_NOSIGNAL, 1L);
  option(CURLOPT_MAIL_FROM, mail_from.c_str());
  option(CURLOPT_MAIL_RCPT, rcpt.get());
  option(CURLOPT_UPLOAD, 1L);
  option(CURLOPT_READFUNCTION, &read_callback);
  option(CURLOPT_READDATA, &reader);
  option(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(rendered->size()));
  option(CURLOPT_HEADERFUNCTION, &header_callback);
  option(CURLOPT_HEADERDATA, &replies);
  option(CURLOPT_OPENSOCKETFUNCTION, &open_socket_callback);
  option(CURLOPT_OPENSOCKETDATA, &sockets);
  option(CURLOPT_CLOSESOCKETFUNCTION, &close_socket_callback);
  option(CURLOPT_CLOSESOCKETDATA, &sockets);
  option(CURLOPT_NOPROGRESS, 0L);
  option(CURLOPT_XFERINFOFUNCTION, &progress_callback);
  option(CURLOPT_XFERINFODATA, cancel);
  if (server.timeout.count() > 0) {
    option(CURLOPT_TIMEOUT_MS, static_cast<long>(server.timeout.count()));
    // Also bounds each reply, that to QUIT too, which the overall timeout leaves out.
    option(CURLOPT_SERVER_RESPONSE_TIMEOUT,
           static_cast<long>((server.timeout.count() + 999) / 1000));
  }
  option(CURLOPT_USE_SSL,
         static_cast<long>(server.security == Security::none ? CURLUSESSL_NONE : CURLUSESSL_ALL));
  if (!server.verify_tls) {
    option(CURLOPT_SSL_VERIFYPEER, 0L);
    option(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!server.ca_file.empty()) {
    option(CURLOPT_CAINFO, server.ca_file.c_str());
  }
  if (!server.username.empty()) {
    option(CURLOPT_USERNAME, server.username.c_str());
    option(CURLOPT_PASSWORD, server.password ? server.password->c_str() : "");
  }
  if (set != CURLE_OK) {
    return fail(std::string("libcurl refused an option: ") + curl_easy_strerror(set));
  }

  // The multi interface, so that the wait for the server also wakes up on the cancel token's
  // eventfd: a cancel ends the send at once, not at the next progress call.
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!multi) {
    return fail("libcurl could not make a handle");
  }
  if (const CURLMcode added = curl_multi_add_handle(multi.get(), easy.get()); added != CURLM_OK) {
    return fail(curl_multi_strerror(added));
  }
  // Removed before either handle goes: curl_multi_cleanup() does not detach its handles.
  const auto detach = [&] { curl_multi_remove_handle(multi.get(), easy.get()); };
  curl_waitfd wake{};
  wake.fd = cancel != nullptr ? cancel->fd() : -1;
  wake.events = CURL_WAIT_POLLIN;
  const auto cancelled = [&] { return cancel != nullptr && cancel->cancelled(); };

  int running = 0;
  CURLMcode state = cancelled() ? CURLM_OK : curl_multi_perform(multi.get(), &running);
  while (state == CURLM_OK && running > 0 && !cancelled()) {
    state = curl_multi_poll(multi.get(), cancel != nullptr ? &wake : nullptr,
                            cancel != nullptr ? 1u : 0u, 1000, nullptr);
    if (state == CURLM_OK && !cancelled()) {
      state = curl_multi_perform(multi.get(), &running);
    }
  }
  if (cancelled()) {
    sockets.shut_down();
    detach();
    return fail("cancelled");
  }
  if (state != CURLM_OK) {
    detach();
    return fail(curl_multi_strerror(state));
  }
  CURLcode result = CURLE_OK;
  int queued = 0;
  while (CURLMsg* done = curl_multi_info_read(multi.get(), &queued)) {
    if (done->msg == CURLMSG_DONE && done->easy_handle == easy.get()) {
      result = done->data.result;
    }
  }
  detach();
  if (result == CURLE_OK) {
    return std::nullopt;
  }
  if (result == CURLE_ABORTED_BY_CALLBACK) {
    return fail("cancelled");
  }
  std::string detail = error_buffer;
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) {
    detail.pop_back();
  }
  if (replies.failure_code != 0) {
    std::string text = "SMTP " + std::to_string(replies.failure_code) + " from " + place + ": " +
                       replies.failure_text + " (" +
                       (detail.empty() ? std::string(curl_easy_strerror(result)) : detail) + ")";
    erase_secret(text, server.password);
    return error(std::move(text));
  }
  std::string text = curl_easy_strerror(result);
  if (!detail.empty() && detail != text) {
    text += ": " + detail;
  }
  return fail(std::move(text));
}

} // namespace mail
