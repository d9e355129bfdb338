// Fuzzes the HTTP API's request handling after libmicrohttpd has parsed the request: the route
// of a method and path, and the command's arguments built from the path's id, the query and the
// body, as jobsd's listener does. The input's first line is "METHOD PATH?QUERY" (the query's
// pairs as MHD gives them, already decoded), the rest is the body. Nothing may crash or throw; a
// route's arguments are an object that keeps the path's id under the route's argument and holds
// only arguments the route declares (its id, its query and body fields, its fixed ones), so that
// no request can smuggle another argument into a command; a refusal says why.
#include <jobsd/api.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

namespace {

void check_at(bool ok, int line) {
  if (!ok) {
    std::fprintf(stderr, "check failed: fuzz_api.cpp:%d\n", line);
    std::abort();
  }
}
#define check(ok) check_at((ok), __LINE__)

std::map<std::string, std::string> query_of(std::string_view text) {
  std::map<std::string, std::string> out;
  while (!text.empty()) {
    const auto amp = text.find('&');
    const auto pair = text.substr(0, amp);
    const auto eq = pair.find('=');
    out.emplace(std::string(pair.substr(0, eq)),
                eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const auto head = input.substr(0, nl);
  const std::string_view body_text =
      nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  const auto space = head.find(' ');
  if (space == std::string_view::npos) {
    return 0;
  }
  const auto method = head.substr(0, space);
  auto target = head.substr(space + 1);
  const auto mark = target.find('?');
  const auto path = target.substr(0, mark);
  const auto query = query_of(mark == std::string_view::npos ? "" : target.substr(mark + 1));

  const auto m = jobsd::api::match(method, path);
  if (m.route == nullptr) {
    return 0;
  }
  const auto& r = *m.route;
  check(method == r.method);
  const auto body = body_text.empty() || r.text_body ? ipc::Json(nullptr)
                                                     : ipc::Json::parse(body_text, nullptr, false);
  if (body.is_discarded()) {
    return 0; // the listener answers 400 before building anything
  }
  const auto args = jobsd::api::build_args(r, m.id, query, body);
  if (!args) {
    check(!args.error().message.empty());
    return 0;
  }
  check(args->is_object());
  std::set<std::string> allowed;
  const auto fixed = ipc::Json::parse(r.fixed);
  for (const auto& item : fixed.items()) {
    allowed.insert(item.key());
  }
  if (*r.id_arg != '\0') {
    allowed.insert(r.id_arg);
    check(args->at(r.id_arg) == m.id);
  }
  for (const auto& f : r.query) {
    allowed.insert(f.arg);
  }
  for (const auto& f : r.body) {
    allowed.insert(f.arg);
  }
  for (const auto& item : args->items()) {
    check(allowed.count(item.key()) == 1);
  }
  return 0;
}
