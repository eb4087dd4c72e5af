// UTF-8 as the wire needs it. Protobuf's proto3 parser refuses a message
// whose string fields are not valid UTF-8, so a single bad byte from a
// plugin (a health detail, an endpoint, a reply) or a file name would make
// every message that carries it unreadable at the other end: a node's
// whole identity list, refused by every peer. Such text is repaired where
// it enters the core.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace domian {

struct Utf8Char {
  char32_t value;
  size_t bytes;
};

// The UTF-8 character at the start of `text`, if it is well formed
// (Unicode 15, table 3-7: no overlong forms, no surrogates, nothing past
// U+10FFFF).
std::optional<Utf8Char> DecodeUtf8(std::string_view text);

bool IsValidUtf8(std::string_view text);

// `text` with every byte that does not start a well-formed character
// replaced by U+FFFD (the replacement character), as browsers decode.
std::string ToValidUtf8(std::string text);

// `text` made valid UTF-8 and cut to at most `max_bytes` (> 3) at a
// character boundary, marked with "..." when cut.
std::string BoundedText(std::string text, size_t max_bytes);

}  // namespace domian
