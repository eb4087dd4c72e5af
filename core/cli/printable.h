// Text that came from other nodes, plugins or the network, made safe to
// show on a terminal. A peer's service detail, a plugin's description or a
// remote error message can carry escape sequences (clear the screen, move
// the cursor, fake a line of the table) or bytes that are not UTF-8;
// domianctl shows every such string through Printable().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace domian::cli {

// Characters of one field shown (a table cell, a line's value): every
// string a peer may send is at most 256 bytes (WireLimits), so only an
// escaped or a local absurdly long one is cut.
inline constexpr size_t kMaxFieldChars = 256;
// Characters of a list of names shown in one cell (a node's services).
inline constexpr size_t kMaxListChars = 1024;
// Characters of one message on stderr (a refusal that quotes its input).
inline constexpr size_t kMaxMessageChars = 2000;
// Marks a cut field.
inline constexpr std::string_view kCutMark = "...";

// `text` as it can be shown: printable UTF-8 stays as it is; line breaks
// and tabs become "\n", "\r", "\t"; other control characters and bytes
// that are not UTF-8 become "\xNN"; C1 controls and the invisible or
// reordering format characters (bidirectional overrides, zero-width
// characters, line separators) become "\uNNNN". The result holds at most
// `max_chars` characters of that, then kCutMark when there was more. Only
// printable characters come out, so Printable of a result is that result.
std::string Printable(std::string_view text, size_t max_chars = kMaxFieldChars);

// Terminal columns `text` takes (meant for Printable's results): one per
// character, two for East Asian wide ones, none for combining marks.
size_t DisplayWidth(std::string_view text);

}  // namespace domian::cli
