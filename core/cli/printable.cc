#include "core/cli/printable.h"

#include "core/common/utf8.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace domian::cli {
namespace {

using CodePoint = Utf8Char;
constexpr auto Decode = DecodeUtf8;

// Characters a terminal does not show as themselves: C1 controls, and
// format characters that are invisible or reorder the text around them,
// so that what is shown would differ from what is there (Unicode's
// "Trojan Source" set and its neighbours).
bool Hidden(char32_t c) {
  return (c >= 0x80 && c <= 0x9F) ||       // C1 controls (CSI is U+009B)
         c == 0x061C ||                    // Arabic letter mark
         c == 0x180E ||                    // Mongolian vowel separator
         (c >= 0x200B && c <= 0x200F) ||   // zero-width characters, LRM, RLM
         (c >= 0x2028 && c <= 0x202E) ||   // line/paragraph separators, embeddings, overrides
         (c >= 0x2060 && c <= 0x206F) ||   // word joiner, invisible operators, isolates
         c == 0xFEFF ||                    // zero-width no-break space (BOM)
         (c >= 0xFFF9 && c <= 0xFFFB) ||   // interlinear annotation
         (c >= 0xE0000 && c <= 0xE007F);   // tag characters
}

// What stands for one character or byte of the input.
std::string Escape(unsigned char byte) { return fmt::format("\\x{:02x}", byte); }

std::string Escape(char32_t c) {
  switch (c) {
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: break;
  }
  if (c < 0x20 || c == 0x7F) return Escape(static_cast<unsigned char>(c));
  if (c <= 0xFFFF) return fmt::format("\\u{:04x}", static_cast<uint32_t>(c));
  return fmt::format("\\U{:08x}", static_cast<uint32_t>(c));
}

bool Combining(char32_t c) {
  return (c >= 0x0300 && c <= 0x036F) || (c >= 0x1AB0 && c <= 0x1AFF) ||
         (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0x20D0 && c <= 0x20FF) ||
         (c >= 0xFE20 && c <= 0xFE2F);
}

// The ranges {fmt} pads as two columns wide (East Asian wide and
// fullwidth characters, the common emoji blocks), so that a table padded
// here lines up as one padded by fmt would.
bool Wide(char32_t c) {
  return c >= 0x1100 &&
         (c <= 0x115F || c == 0x2329 || c == 0x232A ||
          (c >= 0x2E80 && c <= 0xA4CF && c != 0x303F) ||
          (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
          (c >= 0xFE10 && c <= 0xFE19) || (c >= 0xFE30 && c <= 0xFE6F) ||
          (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6) ||
          (c >= 0x20000 && c <= 0x2FFFD) || (c >= 0x30000 && c <= 0x3FFFD) ||
          (c >= 0x1F300 && c <= 0x1F64F) || (c >= 0x1F900 && c <= 0x1F9FF));
}

}  // namespace

std::string Printable(std::string_view text, size_t max_chars) {
  std::string out;
  out.reserve(std::min(text.size(), max_chars) + kCutMark.size());
  size_t chars = 0;
  while (!text.empty()) {
    const std::optional<CodePoint> c = Decode(text);
    std::string_view piece;
    std::string escaped;
    size_t piece_chars = 1;
    if (!c) {
      escaped = Escape(static_cast<unsigned char>(text.front()));
    } else if (c->value < 0x20 || c->value == 0x7F || Hidden(c->value)) {
      escaped = Escape(c->value);
    } else {
      piece = text.substr(0, c->bytes);
    }
    if (!escaped.empty()) {
      piece = escaped;
      piece_chars = escaped.size();  // escapes are ASCII
    }
    if (chars + piece_chars > max_chars) {
      out += kCutMark;
      break;
    }
    out += piece;
    chars += piece_chars;
    text.remove_prefix(c ? c->bytes : 1);
  }
  return out;
}

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  while (!text.empty()) {
    const std::optional<CodePoint> c = Decode(text);
    if (!c) {
      // Not from Printable; a terminal shows a replacement character.
      ++width;
      text.remove_prefix(1);
      continue;
    }
    width += Combining(c->value) ? 0u : Wide(c->value) ? 2u : 1u;
    text.remove_prefix(c->bytes);
  }
  return width;
}

}  // namespace domian::cli
