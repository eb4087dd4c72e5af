#include "core/common/utf8.h"

namespace domian {

std::optional<Utf8Char> DecodeUtf8(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return Utf8Char{lead, 1};
  size_t length = 0;
  unsigned char second_low = 0x80, second_high = 0xBF;
  char32_t value = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0F;
    if (lead == 0xE0) second_low = 0xA0;
    if (lead == 0xED) second_high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07;
    if (lead == 0xF0) second_low = 0x90;
    if (lead == 0xF4) second_high = 0x8F;
  } else {
    return std::nullopt;
  }
  if (text.size() < length) return std::nullopt;
  for (size_t i = 1; i < length; ++i) {
    const unsigned char low = i == 1 ? second_low : 0x80, high = i == 1 ? second_high : 0xBF;
    if (byte(i) < low || byte(i) > high) return std::nullopt;
    value = (value << 6) | (byte(i) & 0x3F);
  }
  return Utf8Char{value, length};
}

bool IsValidUtf8(std::string_view text) {
  while (!text.empty()) {
    const auto c = DecodeUtf8(text);
    if (!c) return false;
    text.remove_prefix(c->bytes);
  }
  return true;
}

std::string ToValidUtf8(std::string text) {
  if (IsValidUtf8(text)) return text;  // the common case: no copy
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(text.size() + 8);
  std::string_view rest = text;
  while (!rest.empty()) {
    if (const auto c = DecodeUtf8(rest)) {
      out.append(rest.substr(0, c->bytes));
      rest.remove_prefix(c->bytes);
    } else {
      out.append(kReplacement);
      rest.remove_prefix(1);
    }
  }
  return out;
}

std::string BoundedText(std::string text, size_t max_bytes) {
  text = ToValidUtf8(std::move(text));
  if (text.size() <= max_bytes) return text;
  constexpr std::string_view kCut = "...";
  size_t end = max_bytes - kCut.size();
  // Back off over UTF-8 continuation bytes (10xxxxxx) to a character start.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text + std::string(kCut);
}

}  // namespace domian
