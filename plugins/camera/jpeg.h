// JPEG for the camera: checking what a webcam delivers, making MJPEG frames
// servable, and encoding YUYV frames (libjpeg-turbo's TurboJPEG API, whose
// error handling returns an error instead of calling exit() as libjpeg's
// default handler does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace domian::camera {

// Smaller than this is never a whole picture (cheap webcams deliver such
// stubs when they drop data).
inline constexpr size_t kMinJpegBytes = 125;

// Whether `bytes` start with SOI (FF D8).
bool StartsLikeJpeg(std::span<const uint8_t> bytes);
// Whether `bytes` hold one complete JPEG: starting with SOI (FF D8), its
// marker segments walkable up to a scan (SOS), and an EOI (FF D9) after the
// scan data (progressive frames: after the last of their scans). Returns
// the length up to and including the first such EOI, or 0 when the frame
// is truncated, its markers are broken, or it is shorter than
// kMinJpegBytes. Only the first EOI counts: cameras pad frames with zeros
// or report the whole buffer as used, and the stale bytes after the image
// may hold an older frame's end marker. The scan stops at that EOI, so a
// large padded buffer costs no more than the image in it.
// A frame cut inside its scan data over an older frame's tail that lines
// up with it (the same camera, the same headers) reaches the older EOI and
// passes: only decoding could tell.
size_t CompleteJpegLength(std::span<const uint8_t> bytes);

// MJPEG cameras often leave out the Huffman tables (the AVI1 convention:
// decoders assume the standard ones); browsers do not. Returns `jpeg` with
// the standard tables (JPEG Annex K.3) inserted before the first scan when
// it has none, or unchanged (also when its markers cannot be walked to a
// scan).
std::vector<uint8_t> WithHuffmanTables(std::span<const uint8_t> jpeg);
// Whether a DHT segment comes before the first scan.
bool HasHuffmanTables(std::span<const uint8_t> jpeg);

// A camera's frame as a browser can show it: cut at its EOI (see
// CompleteJpegLength), with the standard Huffman tables inserted when it
// has none. nullopt when it is not a complete JPEG.
std::optional<std::vector<uint8_t>> ServableJpeg(std::span<const uint8_t> frame);

// YUYV 4:2:2 (packed Y0 U Y1 V) to JPEG at `quality` (1..100). Not
// thread-safe: one encoder per thread.
class JpegEncoder {
 public:
  JpegEncoder();
  ~JpegEncoder();
  JpegEncoder(const JpegEncoder&) = delete;
  JpegEncoder& operator=(const JpegEncoder&) = delete;

  // Throws std::runtime_error with TurboJPEG's reason.
  std::vector<uint8_t> EncodeYuyv(std::span<const uint8_t> yuyv, unsigned width, unsigned height,
                                  unsigned bytes_per_line, int quality);

 private:
  void* handle_ = nullptr;
  std::vector<uint8_t> planes_;  // reused: Y, then U, then V
};

// Decodes a JPEG to find what no marker check can: a frame cut inside its
// scan over an older frame's tail. For feeds whose buffers can be refilled
// while read without the driver's record showing it (v4l2loopback); a
// camera's frames are never decoded. Decodes at 1/8 scale (the entropy
// data is read whole; the picture is not built). Not thread-safe: one per
// thread.
class JpegChecker {
 public:
  JpegChecker();
  ~JpegChecker();
  JpegChecker(const JpegChecker&) = delete;
  JpegChecker& operator=(const JpegChecker&) = delete;

  // "" when `jpeg` decodes whole without a warning, else TurboJPEG's
  // reason.
  std::string WhyNotDecodable(std::span<const uint8_t> jpeg);

 private:
  void* handle_ = nullptr;
  std::vector<uint8_t> pixels_;  // reused
};

}  // namespace domian::camera
