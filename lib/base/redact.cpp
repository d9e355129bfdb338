#include <base/redact.hpp>

#include <algorithm>

namespace base {

Redactor::Redactor(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {
  std::erase_if(secrets_, [](const std::string& s) { return s.empty(); });
  for (const auto& s : secrets_) {
    first_[static_cast<unsigned char>(s.front())] = true;
  }
}

std::string_view Redactor::feed(std::string_view data) {
  if (secrets_.empty()) {
    return data;
  }
  held_.append(data);
  return scan(false);
}

std::string_view Redactor::finish() {
  return scan(true);
}

std::string_view Redactor::scan(bool end) {
  out_.clear();
  const std::string_view text = held_;
  size_t at = 0;     // the next byte to look at
  size_t copied = 0; // the bytes before this one are in out_
  while (at < text.size()) {
    if (!first_[static_cast<unsigned char>(text[at])]) {
      ++at;
      continue;
    }
    const std::string_view rest = text.substr(at);
    size_t match = 0;
    bool may_begin = false; // a secret longer than what is left begins with it
    for (const auto& s : secrets_) {
      if (rest.size() >= s.size()) {
        if (s.size() > match && rest.starts_with(s)) {
          match = s.size();
        }
      } else if (!end && std::string_view(s).starts_with(rest)) {
        may_begin = true;
      }
    }
    if (may_begin) {
      break;
    }
    if (match == 0) {
      ++at;
      continue;
    }
    out_.append(text.substr(copied, at - copied));
    out_ += "***";
    at += match;
    copied = at;
  }
  out_.append(text.substr(copied, at - copied));
  held_.erase(0, at);
  return out_;
}

std::string redact(std::string_view text, const std::vector<std::string>& secrets) {
  Redactor redactor(secrets);
  std::string out(redactor.feed(text));
  out += redactor.finish();
  return out;
}

} // namespace base
