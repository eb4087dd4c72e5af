// Files that must survive a power cut on this node (a service's state and
// epoch, the running journal, the node's id, incarnation and peers): one
// way to write them and one way to read them back.
//
// On disk, FILE is a one-line header, then the content as given:
//
//   domian-durable/1 <content bytes> sha256:<64 hex digits of the content>\n
//   <content>
//
// The header leads, rather than trailing, so that a file cut short anywhere
// still says it was framed: with a trailer, a torn file would lose the very
// line that marks it and pass for an unframed one. It is text so that
// `cat` and `tail -n +2` still show what a node keeps (an epoch, an id).
//
// A write keeps the copy it replaces, when that one checks, as FILE.prev.
// A read uses FILE when its frame checks, else FILE.prev, with a log line
// naming the file and why. So a file torn by a power cut, or damaged by an
// SD card, costs at most the last change, never the whole of it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/status.h"

namespace domian {

// Names beside FILE: the copy before the last write, and the file a write
// in progress fills (ignored by reads; replaced by the next write).
inline constexpr char kPreviousCopySuffix[] = ".prev";
inline constexpr char kTemporarySuffix[] = ".tmp";
// The longest header, with room to spare: the magic and version (16), a
// 20-digit length, "sha256:" and 64 hex digits, two spaces and the
// newline make 110. A read takes at most this much more than its limit.
inline constexpr size_t kMaxDurableHeaderBytes = 128;

// Writes `content` framed (see above) to FILE.tmp (created afresh, never
// through a symlink, with `mode` less the umask) and syncs it; keeps FILE
// as FILE.prev when FILE checks (a damaged FILE never replaces a good
// FILE.prev; a looser mode than `mode` on the kept copy is narrowed);
// renames FILE.tmp over FILE; syncs the folder. After a power cut at any
// point, a read yields the old content or the new. Errors name the path;
// their code follows errno (a full disk is RESOURCE_EXHAUSTED). One writer
// per file at a time.
absl::Status WriteDurable(const std::filesystem::path& file, std::string_view content,
                          mode_t mode);

struct DurableRead {
  std::string content;
  // Set when FILE could not be used and `content` is FILE.prev's: why, as
  // it follows FILE's path in a sentence ("is truncated: 120 of 4096
  // bytes", "fails its checksum", "does not exist").
  std::optional<std::string> fell_back_because;
  // The copy read had no header: written before domiand framed its files
  // (or by hand). Its content is taken as it is, so an upgrade keeps its
  // state; the next write frames it.
  bool legacy = false;
};

// FILE's content when it checks, else FILE.prev's (logged with
// spdlog::warn here, naming both files and why, so no caller can forget
// to; `fell_back_because` says the same to callers that report it
// elsewhere). Neither is read beyond `max_content_bytes` plus a header:
// a larger file is refused from its size alone.
//
// NOT_FOUND when neither exists. Otherwise, when neither can be used, an
// error naming FILE and what is wrong with each copy: FAILED_PRECONDITION
// when FILE is larger than the limit, DATA_LOSS when it is damaged, the
// errno's code when it cannot be read.
//
// FILE missing beside a good FILE.prev is read as FILE.prev: that is what
// a power cut between a write's two renames leaves. So to remove a durable
// file for good, remove FILE.prev too (RemoveDurable).
//
// A file with no header at all is taken as legacy content (see
// DurableRead::legacy) while it has no FILE.prev. Once it has one, this
// helper wrote it, always with a header: a FILE without one is then damage
// (the zeros a power cut can leave), and so is any FILE whose first line
// ends like a header (" sha256:" and 64 hex digits) but does not start as
// one.
absl::StatusOr<DurableRead> ReadDurable(const std::filesystem::path& file,
                                        size_t max_content_bytes);

// Removes FILE.prev, then FILE, then any FILE.tmp, and syncs the folder:
// cut short, it leaves FILE (still whole) rather than an older FILE.prev
// alone. Fine when there is none. Errors name the path.
absl::Status RemoveDurable(const std::filesystem::path& file);

}  // namespace domian
