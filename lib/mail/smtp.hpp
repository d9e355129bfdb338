#pragma once

// Sending one mail through an SMTP server (libcurl), and rendering it as RFC 5322 text with
// the header-injection guard.

#include <base/error.hpp>
#include <exec/process.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace mail {

// How the connection is protected.
// none: plain smtp://; starttls: smtp:// and STARTTLS required (the send fails when the server
// does not offer it); tls: smtps:// (TLS from the first byte).
enum class Security { none, starttls, tls };

// Where and how to send.
struct Server {
  std::string host = "localhost";
  int port = 25;
  Security security = Security::starttls;
  std::string username; // empty: no AUTH
  std::optional<std::string> password;
  bool verify_tls = true; // false: neither the certificate nor the host name is checked
  std::string ca_file;    // empty: the system's trust store
  std::chrono::milliseconds timeout{30000}; // the whole exchange
};

// One mail. Addresses are bare addr-specs ("ops@example.com"), without display names.
struct Message {
  std::string from;
  std::vector<std::string> to, cc, bcc;
  std::string subject;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8"; // or text/html
};

// The message as sent: Date (RFC 5322, from `now`, in UTC), Message-ID, From, To, Cc (Bcc
// never in the headers), Subject (RFC 2047 encoded-words when not ASCII), MIME-Version,
// Content-Type, Content-Transfer-Encoding (quoted-printable when a line is longer than 78
// bytes or the body is not ASCII, else 7bit), CRLF line ends, the body ending with one.
// Refuses a header value (address, subject or content type) holding CR, LF or NUL
// ("subject: a header cannot contain a line break"), an address that is not addr-spec-like
// (one @, ASCII, no spaces, <>, commas...), an empty From and a subject that is not UTF-8.
base::Result<std::string> render(const Message& message, std::chrono::system_clock::time_point now);

// Sends through libcurl: MAIL FROM, RCPT TO each of to + cc + bcc (each address once), the
// rendered message. Errors carry the server's reply when it refused something ("SMTP 550 from
// localhost:2525: 5.1.1 <x@example.com>: no such user (RCPT failed: 550)"), else curl's message
// ("SMTP to localhost:1: Couldn't connect to server: ..."), never the password. Ends early, with
// "SMTP to HOST:PORT: cancelled", when `cancel` (may be null) is cancelled. nullopt: accepted.
std::optional<base::Error> send(const Server& server, const Message& message,
                                exec::CancelToken* cancel);

} // namespace mail
