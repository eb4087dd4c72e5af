#include "plugins/camera/jpeg.h"

#include <turbojpeg.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

namespace domian::camera {
namespace {

constexpr uint8_t kMarker = 0xFF;
constexpr uint8_t kStuffed = 0x00;  // FF 00 in scan data: a data byte FF
constexpr uint8_t kTem = 0x01;
constexpr uint8_t kRst0 = 0xD0;
constexpr uint8_t kRst7 = 0xD7;
constexpr uint8_t kSoi = 0xD8;
constexpr uint8_t kEoi = 0xD9;
constexpr uint8_t kSos = 0xDA;
constexpr uint8_t kDht = 0xC4;
constexpr size_t kMarkerBytes = 2;  // FF and the marker's code
constexpr size_t kLengthBytes = 2;  // a segment's big-endian length, counting itself
constexpr size_t kNone = std::string::npos;

// The standard Huffman tables of ITU-T T.81 (JPEG) Annex K.3 (tables K.3,
// K.4, K.5 and K.6), as one DHT segment. The bytes are the tables
// libjpeg-turbo 2.1.5 writes when not asked to optimise (generated from
// it, not typed from the standard), so a frame stripped of its tables and
// given these decodes as before. Constant data rather than asked of
// TurboJPEG at run time: TJ_OPTIMIZE, TJ_ARITHMETIC and TJ_PROGRESSIVE in
// the environment change what TurboJPEG writes.
constexpr std::array<uint8_t, 420> kStandardHuffmanTables = {
    // DHT, length 418
    0xFF, 0xC4, 0x01, 0xA2,
    // DC luminance, table K.3 (class 0, id 0): Tc/Th, BITS, HUFFVAL
    0x00,
    0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
    // AC luminance, table K.5 (class 1, id 0): Tc/Th, BITS, HUFFVAL
    0x10,
    0x00, 0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00, 0x00, 0x01, 0x7D,
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06,
    0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08,
    0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0, 0x24, 0x33, 0x62, 0x72,
    0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45,
    0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
    0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75,
    0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3,
    0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6,
    0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9,
    0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
    0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4,
    0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA,
    // DC chrominance, table K.4 (class 0, id 1): Tc/Th, BITS, HUFFVAL
    0x01,
    0x00, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
    // AC chrominance, table K.6 (class 1, id 1): Tc/Th, BITS, HUFFVAL
    0x11,
    0x00, 0x02, 0x01, 0x02, 0x04, 0x04, 0x03, 0x04, 0x07, 0x05, 0x04, 0x04, 0x00, 0x01, 0x02, 0x77,
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41,
    0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91,
    0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0, 0x15, 0x62, 0x72, 0xD1,
    0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26,
    0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44,
    0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
    0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74,
    0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A,
    0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4,
    0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7,
    0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
    0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4,
    0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA,
};

// Whether `dht` is one DHT segment whose length field covers it exactly and
// whose tables each hold as many values as their BITS count, four of them.
constexpr bool IsFourTableDht(std::span<const uint8_t> dht) {
  constexpr size_t kBits = 16;  // BITS: how many codes of each length, 1..16
  constexpr int kTables = 4;
  if (dht[0] != kMarker || dht[1] != kDht) return false;
  if (((size_t{dht[2]} << 8) | dht[3]) != dht.size() - kMarkerBytes) return false;
  size_t at = kMarkerBytes + kLengthBytes;
  int tables = 0;
  while (at + 1 + kBits <= dht.size()) {
    size_t values = 0;
    for (size_t i = 0; i < kBits; ++i) values += dht[at + 1 + i];
    at += 1 + kBits + values;
    ++tables;
  }
  return at == dht.size() && tables == kTables;
}
static_assert(IsFourTableDht(kStandardHuffmanTables), "the Annex K.3 tables were pasted wrongly");

bool IsRestart(uint8_t marker) { return marker >= kRst0 && marker <= kRst7; }

// Markers without a length.
bool IsStandalone(uint8_t marker) { return marker == kTem || IsRestart(marker); }

// What a walk of a JPEG's markers found.
struct Structure {
  size_t first_scan = kNone;  // where the first SOS marker is
  bool tables = false;        // a DHT segment comes before it
  size_t end = 0;             // just past the EOI after the scan data; 0 if not reached
};

enum class WalkTo { kFirstScan, kEnd };

// From `at` in a scan's entropy-coded data to the marker that ends it:
// where that marker's FF is, or bytes.size() when the data runs out. In
// the data FF is followed by 00 (a data byte FF), RST0..RST7 (restart
// intervals, part of the scan) or more FFs (fill before a marker).
size_t SkipScanData(std::span<const uint8_t> bytes, size_t at) {
  while (at < bytes.size()) {
    // memchr: a frame is mostly scan data, read here at memory speed.
    const void* found = std::memchr(bytes.data() + at, kMarker, bytes.size() - at);
    if (found == nullptr) return bytes.size();
    at = static_cast<size_t>(static_cast<const uint8_t*>(found) - bytes.data());
    size_t code = at + 1;
    while (code < bytes.size() && bytes[code] == kMarker) ++code;
    if (code == bytes.size()) return bytes.size();
    if (bytes[code] != kStuffed && !IsRestart(bytes[code])) return code - 1;
    at = code + 1;
  }
  return bytes.size();
}

// Walks the marker segments from SOI, each bounds-checked; with kEnd also
// through the scans (a progressive JPEG has several, with tables between
// them) to the EOI after the last. Stops where the structure breaks or the
// bytes run out, with what it found so far.
Structure Walk(std::span<const uint8_t> bytes, WalkTo to) {
  Structure found;
  if (!StartsLikeJpeg(bytes)) return found;
  size_t at = kMarkerBytes;
  while (at + kMarkerBytes <= bytes.size()) {
    if (bytes[at] != kMarker) return found;  // not a marker where one must be
    const uint8_t marker = bytes[at + 1];
    if (marker == kMarker) {  // fill before a marker
      ++at;
      continue;
    }
    if (marker == kEoi) {
      if (found.first_scan != kNone) found.end = at + kMarkerBytes;
      return found;  // before any scan: an image without one
    }
    if (marker == kStuffed || marker == kSoi) return found;
    if (IsStandalone(marker)) {
      at += kMarkerBytes;
      continue;
    }
    if (at + kMarkerBytes + kLengthBytes > bytes.size()) return found;
    const size_t length = (size_t{bytes[at + 2]} << 8) | bytes[at + 3];
    const size_t next = at + kMarkerBytes + length;
    if (length < kLengthBytes || next > bytes.size()) return found;
    if (marker == kDht && found.first_scan == kNone) found.tables = true;
    if (marker != kSos) {
      at = next;
      continue;
    }
    if (found.first_scan == kNone) found.first_scan = at;
    if (to == WalkTo::kFirstScan) return found;
    // The scan's data, then its marker: EOI, or more segments and scans.
    at = SkipScanData(bytes, next);
  }
  return found;
}

// `jpeg` with the standard tables inserted before its first scan.
std::vector<uint8_t> InsertStandardTables(std::span<const uint8_t> jpeg, size_t first_scan) {
  const auto scan = jpeg.begin() + static_cast<std::ptrdiff_t>(first_scan);
  std::vector<uint8_t> fixed;
  fixed.reserve(jpeg.size() + kStandardHuffmanTables.size());
  fixed.insert(fixed.end(), jpeg.begin(), scan);
  fixed.insert(fixed.end(), kStandardHuffmanTables.begin(), kStandardHuffmanTables.end());
  fixed.insert(fixed.end(), scan, jpeg.end());
  return fixed;
}

std::string TurboError(void* handle) { return tjGetErrorStr2(handle); }

}  // namespace

bool StartsLikeJpeg(std::span<const uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == kMarker && bytes[1] == kSoi;
}

size_t CompleteJpegLength(std::span<const uint8_t> bytes) {
  if (bytes.size() < kMinJpegBytes) return 0;
  const size_t end = Walk(bytes, WalkTo::kEnd).end;
  return end >= kMinJpegBytes ? end : 0;
}

bool HasHuffmanTables(std::span<const uint8_t> jpeg) {
  return Walk(jpeg, WalkTo::kFirstScan).tables;
}

std::vector<uint8_t> WithHuffmanTables(std::span<const uint8_t> jpeg) {
  const Structure structure = Walk(jpeg, WalkTo::kFirstScan);
  if (structure.tables || structure.first_scan == kNone) return {jpeg.begin(), jpeg.end()};
  return InsertStandardTables(jpeg, structure.first_scan);
}

std::optional<std::vector<uint8_t>> ServableJpeg(std::span<const uint8_t> frame) {
  if (frame.size() < kMinJpegBytes) return std::nullopt;
  const Structure structure = Walk(frame, WalkTo::kEnd);
  if (structure.end < kMinJpegBytes) return std::nullopt;  // also 0: incomplete or broken
  const std::span<const uint8_t> jpeg = frame.first(structure.end);
  if (structure.tables) return std::vector<uint8_t>(jpeg.begin(), jpeg.end());
  return InsertStandardTables(jpeg, structure.first_scan);
}

JpegChecker::JpegChecker() : handle_(tjInitDecompress()) {
  if (handle_ == nullptr) throw std::runtime_error("cannot start TurboJPEG: " + TurboError(nullptr));
}

JpegChecker::~JpegChecker() { tjDestroy(handle_); }

std::string JpegChecker::WhyNotDecodable(std::span<const uint8_t> jpeg) {
  // An eighth of each side: TurboJPEG's smallest scaling, so the check
  // costs the entropy decoding and little more.
  constexpr tjscalingfactor kEighth{1, 8};
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle_, jpeg.data(), static_cast<unsigned long>(jpeg.size()), &width,
                          &height, &subsampling, &colorspace) != 0) {
    return TurboError(handle_);
  }
  const int scaled_width = TJSCALED(width, kEighth);
  const int scaled_height = TJSCALED(height, kEighth);
  pixels_.resize(static_cast<size_t>(scaled_width) * static_cast<size_t>(scaled_height));
  if (tjDecompress2(handle_, jpeg.data(), static_cast<unsigned long>(jpeg.size()), pixels_.data(),
                    scaled_width, 0, scaled_height, TJPF_GRAY, TJFLAG_STOPONWARNING) != 0) {
    return TurboError(handle_);
  }
  return "";
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
