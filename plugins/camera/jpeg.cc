#include "plugins/camera/jpeg.h"

#include <turbojpeg.h>

#include <algorithm>
#include <stdexcept>

namespace domian::camera {
namespace {

constexpr uint8_t kMarker = 0xFF;
constexpr uint8_t kSoi = 0xD8;
constexpr uint8_t kEoi = 0xD9;
constexpr uint8_t kSos = 0xDA;
constexpr uint8_t kDht = 0xC4;

// Where the first scan (SOS) starts, and whether a DHT segment comes before
// it; npos when the marker structure is broken before any scan.
struct Layout {
  size_t sos = std::string::npos;
  bool dht = false;
};

Layout ReadLayout(std::span<const uint8_t> jpeg) {
  Layout layout;
  if (jpeg.size() < 4 || jpeg[0] != kMarker || jpeg[1] != kSoi) return layout;
  size_t at = 2;
  while (at + 4 <= jpeg.size()) {
    if (jpeg[at] != kMarker) return layout;
    const uint8_t marker = jpeg[at + 1];
    if (marker == kMarker) {  // fill bytes before a marker
      ++at;
      continue;
    }
    if (marker == kSos) {
      layout.sos = at;
      return layout;
    }
    if (marker == kDht) layout.dht = true;
    const size_t length = (size_t{jpeg[at + 2]} << 8) | jpeg[at + 3];
    if (length < 2) return layout;
    at += 2 + length;
  }
  return layout;
}

std::string TurboError(void* handle) { return tjGetErrorStr2(handle); }

// The standard tables as libjpeg-turbo itself writes them: it encodes with
// JPEG Annex K.3's tables unless asked to optimise, so a small colour image
// carries all four (DC and AC, luminance and chrominance). Taken from the
// library once rather than copied out of the standard by hand.
std::vector<uint8_t> StandardHuffmanSegments() {
  constexpr int kSide = 16;
  constexpr int kQuality = 75;
  tjhandle handle = tjInitCompress();
  if (handle == nullptr) throw std::runtime_error("cannot start TurboJPEG: " + TurboError(nullptr));
  std::vector<uint8_t> rgb(kSide * kSide * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int result = tjCompress2(handle, rgb.data(), kSide, 0, kSide, TJPF_RGB, &out, &size,
                                 TJSAMP_420, kQuality, 0);
  std::vector<uint8_t> jpeg;
  if (result == 0) jpeg.assign(out, out + size);
  tjFree(out);
  tjDestroy(handle);
  if (result != 0) throw std::runtime_error("cannot make the standard Huffman tables");
  std::vector<uint8_t> segments;
  const Layout layout = ReadLayout(jpeg);
  size_t at = 2;
  while (at < layout.sos) {
    const size_t length = (size_t{jpeg[at + 2]} << 8) | jpeg[at + 3];
    if (jpeg[at + 1] == kDht) segments.insert(segments.end(), jpeg.begin() + static_cast<std::ptrdiff_t>(at),
                                              jpeg.begin() + static_cast<std::ptrdiff_t>(at + 2 + length));
    at += 2 + length;
  }
  return segments;
}

const std::vector<uint8_t>& StandardHuffman() {
  static const std::vector<uint8_t> segments = StandardHuffmanSegments();
  return segments;
}

}  // namespace

bool StartsLikeJpeg(std::span<const uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == kMarker && bytes[1] == kSoi;
}

size_t CompleteJpegLength(std::span<const uint8_t> bytes) {
  if (bytes.size() < kMinJpegBytes || !StartsLikeJpeg(bytes)) return 0;
  for (size_t length = bytes.size(); length >= kMinJpegBytes; --length) {
    if (bytes[length - 2] == kMarker && bytes[length - 1] == kEoi) return length;
  }
  return 0;
}

bool HasHuffmanTables(std::span<const uint8_t> jpeg) { return ReadLayout(jpeg).dht; }

std::vector<uint8_t> WithHuffmanTables(std::span<const uint8_t> jpeg) {
  const Layout layout = ReadLayout(jpeg);
  if (layout.dht || layout.sos == std::string::npos) return {jpeg.begin(), jpeg.end()};
  const std::vector<uint8_t>& tables = StandardHuffman();
  std::vector<uint8_t> fixed;
  fixed.reserve(jpeg.size() + tables.size());
  fixed.insert(fixed.end(), jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(layout.sos));
  fixed.insert(fixed.end(), tables.begin(), tables.end());
  fixed.insert(fixed.end(), jpeg.begin() + static_cast<std::ptrdiff_t>(layout.sos), jpeg.end());
  return fixed;
}

JpegEncoder::JpegEncoder() : handle_(tjInitCompress()) {
  if (handle_ == nullptr) throw std::runtime_error("cannot start TurboJPEG: " + TurboError(nullptr));
}

JpegEncoder::~JpegEncoder() { tjDestroy(handle_); }

std::vector<uint8_t> JpegEncoder::EncodeYuyv(std::span<const uint8_t> yuyv, unsigned width,
                                             unsigned height, unsigned bytes_per_line, int quality) {
  if (width < 2 || height < 1 || width % 2 != 0 || bytes_per_line < width * 2 ||
      yuyv.size() < size_t{bytes_per_line} * (height - 1) + width * 2) {
    throw std::runtime_error("a YUYV frame of " + std::to_string(yuyv.size()) + " bytes does not hold " +
                             std::to_string(width) + "x" + std::to_string(height));
  }
  // TurboJPEG takes planar YUV: split Y0 U Y1 V into Y, U and V planes
  // (4:2:2: the chroma planes are half as wide).
  const size_t pixels = size_t{width} * height;
  planes_.resize(pixels * 2);
  uint8_t* y = planes_.data();
  uint8_t* u = y + pixels;
  uint8_t* v = u + pixels / 2;
  for (unsigned row = 0; row < height; ++row) {
    const uint8_t* in = yuyv.data() + size_t{row} * bytes_per_line;
    for (unsigned pair = 0; pair < width / 2; ++pair, in += 4) {
      *y++ = in[0];
      *u++ = in[1];
      *y++ = in[2];
      *v++ = in[3];
    }
  }
  const unsigned char* planes[3] = {planes_.data(), planes_.data() + pixels,
                                    planes_.data() + pixels + pixels / 2};
  const int strides[3] = {static_cast<int>(width), static_cast<int>(width / 2), static_cast<int>(width / 2)};
  unsigned char* out = nullptr;
  unsigned long size = 0;
  if (tjCompressFromYUVPlanes(handle_, planes, static_cast<int>(width), strides, static_cast<int>(height),
                              TJSAMP_422, &out, &size, std::clamp(quality, 1, 100), 0) != 0) {
    tjFree(out);
    throw std::runtime_error("cannot encode a JPEG: " + TurboError(handle_));
  }
  std::vector<uint8_t> jpeg(out, out + size);
  tjFree(out);
  return jpeg;
}

}  // namespace domian::camera
