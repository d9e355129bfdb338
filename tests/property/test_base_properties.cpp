// Properties of base::visible, the rendering of text from outside for a terminal: whatever the
// bytes, what it returns holds no control a terminal would act on, and a stream cut anywhere
// renders as the whole.
#include <base/text.hpp>
#include <base/utf8.hpp>

#include <rapidcheck.h>

#include <string>
#include <vector>

namespace {

// Bytes of any value, with the ones that matter here (controls, CR LF, C1 and bidi characters,
// pieces of UTF-8 sequences) far more often than chance would give them.
rc::Gen<std::string> gen_bytes() {
  const auto piece = rc::gen::oneOf(
      rc::gen::map(rc::gen::inRange(0, 256),
                   [](int b) { return std::string(1, static_cast<char>(b)); }),
      rc::gen::element<std::string>("\x1b", "\x07", "\r", "\n", "\r\n", "\t", "\x7f", "\xc2",
                                    "\xc2\x9b", "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x80",
                                    "\xf0\x9f\x98\x80", "\xf0\x9f", "\x80", "a", "^"));
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(piece),
                      [](const std::vector<std::string>& pieces) {
                        std::string out;
                        for (const auto& p : pieces) {
                          out += p;
                        }
                        return out;
                      });
}

// Whether `s` is well-formed UTF-8 with no C0 control but tab and newline, no DEL, no C1
// control and no bidirectional control.
bool terminal_safe(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const size_t length = base::utf8::utf8_length(s, i);
    if (length == 0) {
      return false;
    }
    const auto byte = static_cast<unsigned char>(s[i]);
    const auto second = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    const auto third = i + 2 < s.size() ? static_cast<unsigned char>(s[i + 2]) : 0;
    const bool c0 = byte < 0x20 && byte != '\t' && byte != '\n';
    const bool c1 = byte == 0xC2 && second <= 0x9F;
    const bool bidi = byte == 0xE2 && ((second == 0x80 && third >= 0xAA && third <= 0xAE) ||
                                       (second == 0x81 && third >= 0xA6 && third <= 0xA9));
    if (c0 || byte == 0x7F || c1 || bidi) {
      return false;
    }
    i += length;
  }
  return true;
}

} // namespace

bool run_base_properties() {
  bool ok = true;
  ok &= rc::check("visible leaves no control a terminal would act on, and is its own fixpoint", [] {
    const auto text = *gen_bytes();
    const auto shown = base::visible(text);
    RC_ASSERT(terminal_safe(shown));
    RC_ASSERT(base::visible(shown) == shown);
  });
  ok &= rc::check("a stream cut anywhere renders as the whole", [] {
    const auto text = *gen_bytes();
    const auto cuts =
        *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(0, text.size() + 1));
    base::VisibleText stream;
    std::string out;
    size_t from = 0;
    for (size_t cut : cuts) {
      if (cut >= from) {
        out += stream.add(std::string_view(text).substr(from, cut - from));
        from = cut;
      }
    }
    out += stream.add(std::string_view(text).substr(from));
    out += stream.finish();
    RC_ASSERT(out == base::visible(text));
  });
  return ok;
}
