// Fuzzes the control protocol's request decoder the way jobsd's server uses it: the input is
// what a client sent, cut into lines at '\n'. Decoding may not crash. Each line gives either a
// request (a command name, an integer id, object args) or an error reply with a known code and
// the request's id when it had an integer one; every message encodes as exactly one line that
// parses back to itself; and a decoded request, encoded again, decodes to the same request.
#include <ipc/protocol.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check_at(bool ok, int line) {
  if (!ok) {
    std::fprintf(stderr, "check failed: fuzz_protocol.cpp:%d\n", line);
    std::abort();
  }
}
#define check(ok) check_at((ok), __LINE__)

// The message as the one line the daemon would send, parsed back.
ipc::Json sent(const ipc::Json& message) {
  const std::string line = ipc::encode(message);
  check(!line.empty() && line.back() == '\n');
  check(line.find('\n') == line.size() - 1);
  const auto back = ipc::Json::parse(line, nullptr, false);
  check(!back.is_discarded());
  return back;
}

void check_line(std::string_view line) {
  const auto decoded = ipc::decode_request(line);
  if (!decoded.request) {
    const auto& e = decoded.error_reply;
    check(e.is_object() && e.contains("id") && e.contains("error"));
    check(e["id"].is_null() || e["id"].is_number_integer());
    const std::string code = e["error"]["code"];
    check(code == ipc::code::bad_request || code == ipc::code::too_large);
    check(!e["error"]["message"].get<std::string>().empty());
    check(sent(e) == e);
    return;
  }
  const auto& r = *decoded.request;
  check(!r.cmd.empty() && r.args.is_object());
  const ipc::Json again = {
      {"v", ipc::protocol_version}, {"id", r.id}, {"cmd", r.cmd}, {"args", r.args}};
  // (Strings with invalid UTF-8 cannot come out of the parser, so encoding keeps every byte.)
  std::string encoded = ipc::encode(again);
  encoded.pop_back();
  const auto redecoded = ipc::decode_request(encoded);
  check(redecoded.request.has_value());
  check(redecoded.request->id == r.id && redecoded.request->cmd == r.cmd &&
        redecoded.request->args == r.args);
  check(sent(ipc::reply(r.id, r.args))["result"] == r.args);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  for (size_t nl; (nl = input.find('\n', start)) != std::string_view::npos; start = nl + 1) {
    check_line(input.substr(start, nl - start));
  }
  if (start < input.size()) {
    // The server drops an unterminated last line; decoding it too only adds inputs.
    check_line(input.substr(start));
  }
  return 0;
}
