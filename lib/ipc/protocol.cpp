#include <ipc/protocol.hpp>

namespace ipc {

Decoded decode_request(std::string_view line) {
  Decoded d;
  if (line.size() > max_request_bytes) {
    d.error_reply = error_reply(std::nullopt, code::too_large,
                                "request of " + std::to_string(line.size()) +
                                    " bytes; the limit is " + std::to_string(max_request_bytes));
    return d;
  }
  Json message = Json::parse(line, nullptr, false);
  if (message.is_discarded()) {
    d.error_reply = error_reply(std::nullopt, code::bad_request, "the request is not JSON");
    return d;
  }
  std::optional<std::int64_t> id;
  if (message.is_object()) {
    if (const auto it = message.find("id"); it != message.end() && it->is_number_integer()) {
      id = it->get<std::int64_t>();
    }
  }
  const auto fail = [&](const std::string& why) {
    d.error_reply = error_reply(id, code::bad_request, why);
    return d;
  };
  if (!message.is_object()) {
    return fail("a request is a JSON object {\"v\":1,\"id\":N,\"cmd\":...,\"args\":{...}}");
  }
  if (!id) {
    return fail("\"id\" must be an integer");
  }
  if (const auto v = message.find("v"); v != message.end() && *v != protocol_version) {
    return fail("protocol version " + v->dump() + " is not supported (this daemon speaks " +
                std::to_string(protocol_version) + ")");
  }
  const auto cmd = message.find("cmd");
  if (cmd == message.end() || !cmd->is_string() || cmd->get<std::string>().empty()) {
    return fail("\"cmd\" must be a command name");
  }
  Request r;
  r.id = *id;
  r.cmd = cmd->get<std::string>();
  if (const auto args = message.find("args"); args != message.end() && !args->is_null()) {
    if (!args->is_object()) {
      return fail("\"args\" must be an object");
    }
    r.args = *args;
  }
  d.request = std::move(r);
  return d;
}

Json reply(std::int64_t id, Json result) {
  return {{"id", id}, {"result", std::move(result)}};
}

Json error_reply(std::optional<std::int64_t> id, std::string_view code, std::string_view message) {
  return {{"id", id ? Json(*id) : Json(nullptr)},
          {"error", {{"code", code}, {"message", message}}}};
}

Json event(std::int64_t id, Json body) {
  return {{"id", id}, {"event", std::move(body)}};
}

std::string encode(const Json& message) {
  return message.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

} // namespace ipc
