#include "support/temp_dir.hpp"

#include <mail/smtp.hpp>

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string server_script() {
  if (const char* path = std::getenv("JOBS_TEST_SMTP_SERVER")) {
    return path;
  }
  return (fs::path(__FILE__).parent_path().parent_path() / "support" / "smtp_server.py").string();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// tests/support/smtp_server.py as a child process, serving `maildir` until the end of the
// scope. Ready once it printed "listening on PORT".
class SmtpServer {
public:
  SmtpServer(const fs::path& maildir, const std::vector<std::string>& options) {
    std::vector<std::string> args = {"python3", server_script(), "--maildir", maildir.string()};
    args.insert(args.end(), options.begin(), options.end());
    std::vector<char*> argv;
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    const int spawned = posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
    if (spawned != 0) {
      pid_ = -1;
      throw std::runtime_error("cannot start python3");
    }
    // Wait for the line that says the port is open; a generous bound only against a hang.
    std::string line;
    while (line.find('\n') == std::string::npos) {
      pollfd ready{out_, POLLIN, 0};
      if (::poll(&ready, 1, 30000) != 1) {
        throw std::runtime_error("smtp_server.py did not start");
      }
      char buffer[256];
      const ssize_t n = ::read(out_, buffer, sizeof buffer);
      if (n <= 0) {
        throw std::runtime_error("smtp_server.py exited: " + line);
      }
      line.append(buffer, static_cast<size_t>(n));
    }
    if (line.rfind("listening on ", 0) != 0) {
      throw std::runtime_error("smtp_server.py said: " + line);
    }
    port_ = std::stoi(line.substr(13));
  }
  ~SmtpServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) {
      ::close(out_);
    }
  }
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  int port() const { return port_; }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  int port_ = 0;
};

// A self-signed certificate for CN=localhost: dir/cert.pem and dir/key.pem.
void make_certificate(const fs::path& dir) {
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
                              "-days 1 -keyout '" +
                              (dir / "key.pem").string() + "' -out '" +
                              (dir / "cert.pem").string() + "' 2>/dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
}

// A TCP socket on 127.0.0.1 that listens (connections complete) but never speaks.
struct SilentListener {
  int fd = -1;
  int port = 0;

  SilentListener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd, 8) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port = ntohs(address.sin_port);
  }
  ~SilentListener() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
};

std::chrono::system_clock::time_point fixed_now() {
  using namespace std::chrono;
  return sys_days{2026y / March / 1} + 9h + 5min + 7s;
}

mail::Message simple_message() {
  mail::Message message;
  message.from = "jobs@example.com";
  message.to = {"ops@example.com"};
  message.subject = "backup failed";
  message.body = "exit code 1\n";
  return message;
}

mail::Server plain_server(int port) {
  mail::Server server;
  server.host = "127.0.0.1";
  server.port = port;
  server.security = mail::Security::none;
  server.timeout = 20s;
  return server;
}

// The rendered text with its Message-ID replaced by "<ID>", after checking its form.
std::string without_message_id(const std::string& text) {
  const std::string name = "\r\nMessage-ID: <";
  const size_t start = text.find(name);
  REQUIRE(start != std::string::npos);
  const size_t end = text.find(">\r\n", start);
  REQUIRE(end != std::string::npos);
  const std::string id = text.substr(start + name.size(), end - start - name.size());
  CHECK(id.rfind("20260301090507.", 0) == 0);
  CHECK(id.size() > std::string("20260301090507.@example.com").size());
  CHECK(id.find('@') != std::string::npos);
  return text.substr(0, start + name.size() - 1) + "<ID>" + text.substr(end + 1);
}

// The body of a rendered message: what follows the blank line.
std::string body_of(const std::string& text) {
  const size_t blank = text.find("\r\n\r\n");
  REQUIRE(blank != std::string::npos);
  return text.substr(blank + 4);
}

} // namespace

TEST_SUITE("mail") {
  TEST_CASE("render: the exact header set, CRLF line ends, no Bcc") {
    mail::Message message;
    message.from = "jobs@example.com";
    message.to = {"ops@example.com", "dev@example.com"};
    message.cc = {"lead@example.com"};
    message.bcc = {"audit@example.com"};
    message.subject = "backup failed";
    message.body = "line 1\nline 2\r\nline 3";
    auto text = mail::render(message, fixed_now());
    REQUIRE(text.ok());
    CHECK(without_message_id(*text) == "Date: Sun, 01 Mar 2026 09:05:07 +0000\r\n"
                                       "Message-ID: <ID>\r\n"
                                       "From: jobs@example.com\r\n"
                                       "To: ops@example.com, dev@example.com\r\n"
                                       "Cc: lead@example.com\r\n"
                                       "Subject: backup failed\r\n"
                                       "MIME-Version: 1.0\r\n"
                                       "Content-Type: text/plain; charset=utf-8\r\n"
                                       "Content-Transfer-Encoding: 7bit\r\n"
                                       "\r\n"
                                       "line 1\r\nline 2\r\nline 3\r\n");
    CHECK(text->find("audit@example.com") == std::string::npos);
    CHECK(text->find("Bcc") == std::string::npos);

    auto again = mail::render(message, fixed_now());
    REQUIRE(again.ok());
    CHECK(*again != *text); // a new Message-ID each time

    message.content_type = "text/html; charset=utf-8";
    message.cc.clear();
    auto html = mail::render(message, fixed_now());
    REQUIRE(html.ok());
    CHECK(html->find("\r\nContent-Type: text/html; charset=utf-8\r\n") != std::string::npos);
    CHECK(html->find("Cc:") == std::string::npos);
  }

  TEST_CASE("render: long address lists and subjects are folded") {
    mail::Message message = simple_message();
    message.to = {"first.person@example.com", "second.person@example.com",
                  "third.person@example.com", "fourth.person@example.com"};
    message.subject = "word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 "
                      "word11 word12";
    auto text = mail::render(message, fixed_now());
    REQUIRE(text.ok());
    CHECK(text->find("\r\nTo: first.person@example.com, second.person@example.com,\r\n"
                     " third.person@example.com, fourth.person@example.com\r\n") !=
          std::string::npos);
    CHECK(text->find("\r\nSubject: word01 word02 word03 word04 word05 word06 word07 word08 "
                     "word09 word10\r\n word11 word12\r\n") != std::string::npos);
  }

  TEST_CASE("render: a subject that is not ASCII becomes encoded-words") {
    mail::Message message = simple_message();
    message.subject = "Sicherung fehlgeschlagen: Größe";
    auto text = mail::render(message, fixed_now());
    REQUIRE(text.ok());
    CHECK(text->find("\r\nSubject: =?UTF-8?B?U2ljaGVydW5nIGZlaGxnZXNjaGxhZ2VuOiBHcsO2w59l?=\r\n") !=
          std::string::npos);

    // Split into words of whole characters (42 bytes at most), one per folded line.
    std::string thirty;
    for (int i = 0; i < 30; ++i) {
      thirty += "ä";
    }
    message.subject = thirty;
    text = mail::render(message, fixed_now());
    REQUIRE(text.ok());
    CHECK(text->find(
              "\r\nSubject: =?UTF-8?B?w6TDpMOkw6TDpMOkw6TDpMOkw6TDpMOkw6TDpMOkw6TDpMOkw6TDpMOk?="
              "\r\n =?UTF-8?B?w6TDpMOkw6TDpMOkw6TDpMOk?=\r\n") != std::string::npos);

    // ASCII that a reader would take for an encoded-word is encoded too.
    message.subject = "=?x?= hi";
    text = mail::render(message, fixed_now());
    REQUIRE(text.ok());
    CHECK(text->find("\r\nSubject: =?UTF-8?B?PT94Pz0gaGk=?=\r\n") != std::string::npos);

    message.subject = "bad \xff byte";
    text = mail::render(message, fixed_now());
    REQUIRE_FALSE(text.ok());
    CHECK(text.error().message == "subject: not valid UTF-8");
  }

  TEST_CASE("render: quoted-printable for a long line or a body that is not ASCII") {
    mail::Message message = simple_message();
    message.body = "Grüße\n" + std::string(100, 'x') + "\ntrailing space \na=b\n";
    auto text = mail::render(message, fixed_now());
    REQUIRE(text.ok());
    CHECK(text->find("\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n") !=
          std::string::npos);
    CHECK(body_of(*text) == "Gr=C3=BC=C3=9Fe\r\n" + std::string(75, 'x') + "=\r\n" +
                                std::string(25, 'x') + "\r\ntrailing space=20\r\na=3Db\r\n");

    message.body = std::string(79, 'y') + "\n";
    text = mail::render(message, fixed_now());
    REQUIRE(text.ok());
    CHECK(text->find("Content-Transfer-Encoding: quoted-printable") != std::string::npos);

    message.body = std::string(78, 'y') + "\n";
    text = mail::render(message, fixed_now());
    REQUIRE(text.ok());
    CHECK(text->find("Content-Transfer-Encoding: 7bit") != std::string::npos);
    CHECK(body_of(*text) == std::string(78, 'y') + "\r\n");
  }

  TEST_CASE("render: header injection and addresses that are not addr-specs are refused") {
    const std::tuple<const char*, std::string, const char*> cases[] = {
        {"subject", "hi\r\nBcc: evil@example.com", "subject: a header cannot contain a line break"},
        {"subject", "hi\nthere", "subject: a header cannot contain a line break"},
        {"subject", std::string("nul\0here", 8),
         "subject: a header cannot contain a NUL character"},
        {"to", "ops@example.com\r\nBcc: evil@example.com",
         "to: a header cannot contain a line break"},
        {"cc", "ops@example.com\n", "cc: a header cannot contain a line break"},
        {"bcc", "ops@example.com\r", "bcc: a header cannot contain a line break"},
        {"from", "jobs@example.com\r\nX-Evil: 1", "from: a header cannot contain a line break"},
        {"content_type", "text/plain\r\nBcc: evil@example.com",
         "content_type: a header cannot contain a line break"},
        {"to", "a@example.com, b@example.com",
         "to: \"a@example.com, b@example.com\" is not an address (expected local@domain, in ASCII, "
         "without spaces, <>, or commas)"},
        {"to", "Ops <ops@example.com>",
         "to: \"Ops <ops@example.com>\" is not an address (expected local@domain, in ASCII, "
         "without spaces, <>, or commas)"},
        {"to", "<ops@example.com>",
         "to: \"<ops@example.com>\" is not an address (expected local@domain, in ASCII, without "
         "spaces, <>, or commas)"},
        {"to", "ops",
         "to: \"ops\" is not an address (expected local@domain, in ASCII, without "
         "spaces, <>, or commas)"},
        {"to", "a@b@example.com",
         "to: \"a@b@example.com\" is not an address (expected "
         "local@domain, in ASCII, without spaces, <>, or commas)"},
        {"to", "@example.com",
         "to: \"@example.com\" is not an address (expected local@domain, in "
         "ASCII, without spaces, <>, or commas)"},
        {"to", "ops@",
         "to: \"ops@\" is not an address (expected local@domain, in ASCII, without "
         "spaces, <>, or commas)"},
        {"to", "o ps@example.com",
         "to: \"o ps@example.com\" is not an address (expected "
         "local@domain, in ASCII, without spaces, <>, or commas)"},
        {"to", "jörg@example.com",
         "to: \"jörg@example.com\" is not an address (expected "
         "local@domain, in ASCII, without spaces, <>, or commas)"},
        {"from", "", "from: an address is required"},
    };
    for (const auto& [field, value, expected] : cases) {
      const std::string input = std::string(field) + " = " + value;
      CAPTURE(input);
      mail::Message message = simple_message();
      const std::string name = field;
      if (name == "subject") {
        message.subject = value;
      } else if (name == "to") {
        message.to = {value};
      } else if (name == "cc") {
        message.cc = {value};
      } else if (name == "bcc") {
        message.bcc = {value};
      } else if (name == "from") {
        message.from = value;
      } else {
        message.content_type = value;
      }
      auto text = mail::render(message, fixed_now());
      REQUIRE_FALSE(text.ok());
      CHECK(text.error().message == expected);
      // send() refuses the same, before connecting anywhere.
      auto sent = mail::send(plain_server(1), message, nullptr);
      REQUIRE(sent.has_value());
      CHECK(sent->message == expected);
    }
  }

  TEST_CASE("send: plain; the envelope has to, cc and bcc, the headers no Bcc") {
    test::TempDir dir("jobs-mail");
    SmtpServer smtp(dir.path / "mail", {});
    mail::Message message = simple_message();
    message.to = {"ops@example.com", "dev@example.com"};
    message.cc = {"lead@example.com", "ops@example.com"};
    message.bcc = {"audit@example.com"};
    auto error = mail::send(plain_server(smtp.port()), message, nullptr);
    REQUIRE_MESSAGE(!error, (error ? error->message : ""));
    CHECK(read_file(dir.path / "mail" / "1.json") ==
          "{\"from\": \"jobs@example.com\", \"rcpt\": [\"ops@example.com\", \"dev@example.com\", "
          "\"lead@example.com\", \"audit@example.com\"], \"user\": null, \"tls\": false}\n");
    const std::string eml = read_file(dir.path / "mail" / "1.eml");
    CHECK(eml.find("\r\nTo: ops@example.com, dev@example.com\r\n") != std::string::npos);
    CHECK(eml.find("\r\nCc: lead@example.com, ops@example.com\r\n") != std::string::npos);
    CHECK(eml.find("audit@example.com") == std::string::npos);
    CHECK(eml.find("Bcc") == std::string::npos);
    CHECK(body_of(eml) == "exit code 1\r\n");
  }

  TEST_CASE("send: dot-stuffing keeps lines that start with a dot intact") {
    test::TempDir dir("jobs-mail");
    SmtpServer smtp(dir.path / "mail", {});
    mail::Message message = simple_message();
    message.body = ".hidden\n.\n..two\nend";
    auto error = mail::send(plain_server(smtp.port()), message, nullptr);
    REQUIRE_MESSAGE(!error, (error ? error->message : ""));
    CHECK(body_of(read_file(dir.path / "mail" / "1.eml")) == ".hidden\r\n.\r\n..two\r\nend\r\n");
  }

  TEST_CASE("send: STARTTLS verifies the certificate") {
    test::TempDir dir("jobs-mail");
    make_certificate(dir.path);
    SmtpServer smtp(dir.path / "mail", {"--cert", (dir.path / "cert.pem").string(), "--key",
                                        (dir.path / "key.pem").string()});
    mail::Server server = plain_server(smtp.port());
    server.host = "localhost";
    server.security = mail::Security::starttls;
    const std::string place = "localhost:" + std::to_string(smtp.port());

    auto error = mail::send(server, simple_message(), nullptr);
    REQUIRE(error.has_value());
    CHECK(error->message.rfind("SMTP to " + place + ": ", 0) == 0);
    CHECK(error->message.find("certificate") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.path / "mail" / "1.json"));

    server.ca_file = (dir.path / "cert.pem").string();
    error = mail::send(server, simple_message(), nullptr);
    REQUIRE_MESSAGE(!error, (error ? error->message : ""));
    CHECK(read_file(dir.path / "mail" / "1.json") ==
          "{\"from\": \"jobs@example.com\", \"rcpt\": [\"ops@example.com\"], \"user\": null, "
          "\"tls\": true}\n");

    server.ca_file.clear();
    server.verify_tls = false;
    error = mail::send(server, simple_message(), nullptr);
    REQUIRE_MESSAGE(!error, (error ? error->message : ""));
    CHECK(read_file(dir.path / "mail" / "2.json").find("\"tls\": true") != std::string::npos);
  }

  TEST_CASE("send: STARTTLS required but not offered fails") {
    test::TempDir dir("jobs-mail");
    SmtpServer smtp(dir.path / "mail", {});
    mail::Server server = plain_server(smtp.port());
    server.security = mail::Security::starttls;
    auto error = mail::send(server, simple_message(), nullptr);
    REQUIRE(error.has_value());
    CHECK(error->message.rfind("SMTP to 127.0.0.1:" + std::to_string(smtp.port()) + ": ", 0) == 0);
    CHECK_FALSE(fs::exists(dir.path / "mail" / "1.json"));
  }

  TEST_CASE("send: SMTPS (implicit TLS) verifies the certificate") {
    test::TempDir dir("jobs-mail");
    make_certificate(dir.path);
    SmtpServer smtp(dir.path / "mail", {"--cert", (dir.path / "cert.pem").string(), "--key",
                                        (dir.path / "key.pem").string(), "--smtps"});
    mail::Server server = plain_server(smtp.port());
    server.host = "localhost";
    server.security = mail::Security::tls;

    auto error = mail::send(server, simple_message(), nullptr);
    REQUIRE(error.has_value());
    CHECK(error->message.rfind("SMTP to localhost:" + std::to_string(smtp.port()) + ": ", 0) == 0);
    CHECK(error->message.find("certificate") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.path / "mail" / "1.json"));

    server.ca_file = (dir.path / "cert.pem").string();
    error = mail::send(server, simple_message(), nullptr);
    REQUIRE_MESSAGE(!error, (error ? error->message : ""));
    CHECK(read_file(dir.path / "mail" / "1.json") ==
          "{\"from\": \"jobs@example.com\", \"rcpt\": [\"ops@example.com\"], \"user\": null, "
          "\"tls\": true}\n");
  }

  TEST_CASE("send: AUTH with the right and the wrong credentials") {
    test::TempDir dir("jobs-mail");
    SmtpServer smtp(dir.path / "mail", {"--auth", "bob:s3cret-Pw"});
    mail::Server server = plain_server(smtp.port());
    const std::string place = "127.0.0.1:" + std::to_string(smtp.port());

    auto error = mail::send(server, simple_message(), nullptr);
    REQUIRE(error.has_value());
    CHECK(error->message ==
          "SMTP 530 from " + place + ": 5.7.0 authentication required (MAIL failed: 530)");

    server.username = "bob";
    server.password = "s3cret-Pw";
    error = mail::send(server, simple_message(), nullptr);
    REQUIRE_MESSAGE(!error, (error ? error->message : ""));
    CHECK(read_file(dir.path / "mail" / "1.json") ==
          "{\"from\": \"jobs@example.com\", \"rcpt\": [\"ops@example.com\"], \"user\": \"bob\", "
          "\"tls\": false}\n");

    server.password = "hunter2-wrong";
    error = mail::send(server, simple_message(), nullptr);
    REQUIRE(error.has_value());
    CHECK(error->message.find("535") != std::string::npos);
    CHECK(error->message.find("hunter2") == std::string::npos);
    CHECK(error->message.rfind("SMTP 535 from " + place + ": ", 0) == 0);
    CHECK_FALSE(fs::exists(dir.path / "mail" / "2.json"));
  }

  TEST_CASE("send: a server that requires STARTTLS refuses a plain MAIL with 530") {
    test::TempDir dir("jobs-mail");
    make_certificate(dir.path);
    SmtpServer smtp(dir.path / "mail", {"--cert", (dir.path / "cert.pem").string(), "--key",
                                        (dir.path / "key.pem").string(), "--require-starttls"});
    auto error = mail::send(plain_server(smtp.port()), simple_message(), nullptr);
    REQUIRE(error.has_value());
    CHECK(error->message == "SMTP 530 from 127.0.0.1:" + std::to_string(smtp.port()) +
                                ": 5.7.0 must issue a STARTTLS command first (MAIL failed: 530)");
    CHECK_FALSE(fs::exists(dir.path / "mail" / "1.json"));
  }

  TEST_CASE("send: a rejected recipient fails with the server's reply") {
    test::TempDir dir("jobs-mail");
    SmtpServer smtp(dir.path / "mail", {"--reject-rcpt", "nobody@example.com"});
    mail::Message message = simple_message();
    message.cc = {"nobody@example.com"};
    auto error = mail::send(plain_server(smtp.port()), message, nullptr);
    REQUIRE(error.has_value());
    CHECK(error->message == "SMTP 550 from 127.0.0.1:" + std::to_string(smtp.port()) +
                                ": 5.1.1 <nobody@example.com>: no such user (RCPT failed: 550)");
    CHECK_FALSE(fs::exists(dir.path / "mail" / "1.json"));
  }

  TEST_CASE("send: a closed port is an error naming the server") {
    int port = 0;
    {
      SilentListener closed;
      port = closed.port;
    }
    auto error = mail::send(plain_server(port), simple_message(), nullptr);
    REQUIRE(error.has_value());
    CHECK(error->message.rfind(
              "SMTP to 127.0.0.1:" + std::to_string(port) + ": Couldn't connect to server", 0) ==
          0);

    mail::Message nobody = simple_message();
    nobody.to.clear();
    error = mail::send(plain_server(port), nobody, nullptr);
    REQUIRE(error.has_value());
    CHECK(error->message == "to: a mail needs at least one recipient (to, cc or bcc)");
  }

  TEST_CASE("send: a cancel stops a send to a server that does not answer") {
    SilentListener silent;
    exec::CancelToken cancel;
    std::atomic<std::int64_t> cancelled_at{0};
    int accepted = -1;
    // Cancels once the connection is there and the send has had the time to settle into its
    // wait for the greeting (nothing tells when it has: hence the pause).
    std::thread canceller([&] {
      pollfd ready{silent.fd, POLLIN, 0};
      if (::poll(&ready, 1, 20000) == 1) {
        accepted = ::accept4(silent.fd, nullptr, nullptr, SOCK_CLOEXEC);
      }
      std::this_thread::sleep_for(200ms);
      cancelled_at = std::chrono::steady_clock::now().time_since_epoch().count();
      cancel.cancel();
    });
    mail::Server server = plain_server(silent.port);
    server.timeout = 60s;
    auto error = mail::send(server, simple_message(), &cancel);
    const auto returned = std::chrono::steady_clock::now();
    canceller.join();
    if (accepted >= 0) {
      ::close(accepted);
    }
    CHECK(accepted >= 0);
    REQUIRE(error.has_value());
    CHECK(error->message == "SMTP to 127.0.0.1:" + std::to_string(silent.port) + ": cancelled");
    const auto waited = returned - std::chrono::steady_clock::time_point(
                                       std::chrono::steady_clock::duration(cancelled_at.load()));
    CHECK(waited < 1s);

    // Cancelled before it starts: nothing is tried.
    error = mail::send(server, simple_message(), &cancel);
    REQUIRE(error.has_value());
    CHECK(error->message == "SMTP to 127.0.0.1:" + std::to_string(silent.port) + ": cancelled");
  }

  TEST_CASE("send: the timeout bounds a send to a server that does not answer") {
    SilentListener silent;
    mail::Server server = plain_server(silent.port);
    server.timeout = 300ms;
    const auto start = std::chrono::steady_clock::now();
    auto error = mail::send(server, simple_message(), nullptr);
    const auto waited = std::chrono::steady_clock::now() - start;
    REQUIRE(error.has_value());
    CHECK(error->message.rfind(
              "SMTP to 127.0.0.1:" + std::to_string(silent.port) + ": Timeout was reached", 0) ==
          0);
    CHECK(waited >= 250ms);
    CHECK(waited < 10s);
  }
}
