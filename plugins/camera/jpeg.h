// JPEG for the camera: checking what a webcam delivers, making MJPEG frames
// servable, and encoding YUYV frames (libjpeg-turbo's TurboJPEG API, whose
// error handling returns an error instead of calling exit() as libjpeg's
// default handler does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace domian::camera {

// Smaller than this is never a whole picture (cheap webcams deliver such
// stubs when they drop data).
inline constexpr size_t kMinJpegBytes = 125;

// Whether `bytes` start with SOI (FF D8).
bool StartsLikeJpeg(std::span<const uint8_t> bytes);
// Whether `bytes` look like one complete JPEG: at least kMinJpegBytes,
// starting with SOI (FF D8) and holding an EOI (FF D9). Returns the length
// up to and including the last EOI (cameras pad frames with zeros or
// report the whole buffer as used, stale bytes included), or 0 when the
// frame is truncated or not a JPEG.
size_t CompleteJpegLength(std::span<const uint8_t> bytes);

// MJPEG cameras often leave out the Huffman tables (the AVI1 convention:
// decoders assume the standard ones); browsers do not. Returns `jpeg` with
// the standard tables (JPEG Annex K.3) inserted before the first scan when
// it has none, or unchanged.
std::vector<uint8_t> WithHuffmanTables(std::span<const uint8_t> jpeg);
bool HasHuffmanTables(std::span<const uint8_t> jpeg);

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

}  // namespace domian::camera
