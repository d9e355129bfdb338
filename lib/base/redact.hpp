#pragma once

// Masking secrets: every occurrence of a secret's value becomes "***", in a whole text or in a
// stream however it is cut into pieces.

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace base {

// Masks a stream given piece by piece: a secret split across pieces is masked like one inside a
// piece, since the bytes that may begin a secret wait for the next piece.
class Redactor {
public:
  // `secrets`: the values to mask, of any length; empty ones are ignored.
  explicit Redactor(std::vector<std::string> secrets);

  // The masked output that `data` completes. The bytes at its end that may be the beginning of a
  // secret (fewer than the longest secret's length) are held back until the next piece or
  // finish(). The view is valid until the next call.
  std::string_view feed(std::string_view data);

  // The bytes held back, masked: the end of the stream.
  std::string_view finish();

private:
  // Masks held_ from its start; stops where a secret may begin unless `end`.
  std::string_view scan(bool end);

  std::vector<std::string> secrets_;
  std::array<bool, 256> first_{}; // the bytes a secret begins with
  std::string held_;
  std::string out_;
};

// `text` with every occurrence of a secret of `secrets` replaced by "***" (the longest one where
// several begin at the same byte).
std::string redact(std::string_view text, const std::vector<std::string>& secrets);

} // namespace base
