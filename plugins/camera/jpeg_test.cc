// JPEG checks, Huffman table insertion and YUYV encoding, decoded back with
// the real libjpeg-turbo.
#include "plugins/camera/jpeg.h"

#include <turbojpeg.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include "tests/support/camera/scripted_video_device.h"

namespace domian::camera {
namespace {

using ::testing::HasSubstr;

constexpr unsigned kWidth = 64;
constexpr unsigned kHeight = 48;

// A YUYV test picture: luma ramps left to right, chroma top to bottom.
std::vector<uint8_t> TestYuyv(unsigned width, unsigned height, unsigned bytes_per_line) {
  std::vector<uint8_t> frame(size_t{bytes_per_line} * height, 0xEE);
  for (unsigned row = 0; row < height; ++row) {
    for (unsigned x = 0; x < width; x += 2) {
      uint8_t* at = frame.data() + size_t{row} * bytes_per_line + x * 2;
      at[0] = static_cast<uint8_t>(16 + x * 3);
      at[1] = static_cast<uint8_t>(64 + row);
      at[2] = static_cast<uint8_t>(16 + (x + 1) * 3);
      at[3] = static_cast<uint8_t>(192 - row);
    }
  }
  return frame;
}

struct Decoded {
  int width = 0, height = 0, subsampling = -1;
  std::vector<uint8_t> gray;
};

Decoded Decode(const std::vector<uint8_t>& jpeg) {
  Decoded decoded;
  tjhandle handle = tjInitDecompress();
  int colorspace = 0;
  if (tjDecompressHeader3(handle, jpeg.data(), jpeg.size(), &decoded.width, &decoded.height,
                          &decoded.subsampling, &colorspace) == 0) {
    decoded.gray.resize(static_cast<size_t>(decoded.width * decoded.height));
    if (tjDecompress2(handle, jpeg.data(), jpeg.size(), decoded.gray.data(), decoded.width, 0,
                      decoded.height, TJPF_GRAY, 0) != 0) {
      ADD_FAILURE() << "decoding failed: " << tjGetErrorStr2(handle);
      decoded.gray.clear();
    }
  } else {
    ADD_FAILURE() << "not a JPEG header: " << tjGetErrorStr2(handle);
  }
  tjDestroy(handle);
  return decoded;
}

// The test picture as a JPEG, as the camera would send it.
std::vector<uint8_t> TestJpeg(int quality = 80) {
  JpegEncoder encoder;
  return encoder.EncodeYuyv(TestYuyv(kWidth, kHeight, kWidth * 2), kWidth, kHeight, kWidth * 2,
                            quality);
}

// A marker segment: FF `marker`, its length (counting itself), `payload`.
std::vector<uint8_t> Segment(uint8_t marker, const std::vector<uint8_t>& payload) {
  const size_t length = payload.size() + 2;
  std::vector<uint8_t> segment = {0xFF, marker, static_cast<uint8_t>(length >> 8),
                                  static_cast<uint8_t>(length)};
  segment.insert(segment.end(), payload.begin(), payload.end());
  return segment;
}

// `jpeg` with `segment` right after SOI.
std::vector<uint8_t> WithSegmentAfterSoi(const std::vector<uint8_t>& jpeg,
                                         const std::vector<uint8_t>& segment) {
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  out.insert(out.end(), segment.begin(), segment.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

std::vector<uint8_t> Joined(std::vector<uint8_t> head, const std::vector<uint8_t>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

// Where the first `pattern` is in `bytes`, or bytes.size().
size_t Find(const std::vector<uint8_t>& bytes, const std::vector<uint8_t>& pattern) {
  const auto at = std::search(bytes.begin(), bytes.end(), pattern.begin(), pattern.end());
  return static_cast<size_t>(at - bytes.begin());
}

size_t Count(const std::vector<uint8_t>& bytes, const std::vector<uint8_t>& pattern) {
  size_t count = 0;
  for (auto at = bytes.begin();
       (at = std::search(at, bytes.end(), pattern.begin(), pattern.end())) != bytes.end(); ++at) {
    ++count;
  }
  return count;
}

const std::vector<uint8_t> kEoi = {0xFF, 0xD9};
const std::vector<uint8_t> kSos = {0xFF, 0xDA};

std::optional<std::string> Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::optional<std::string>(value) : std::nullopt;
}

// Sets an environment variable for a test and puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name), old_(Env(name)) {
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST(JpegEncoder, YuyvBecomesAJpegOfThePicture) {
  JpegEncoder encoder;
  const std::vector<uint8_t> frame = TestYuyv(kWidth, kHeight, kWidth * 2);
  const std::vector<uint8_t> jpeg = encoder.EncodeYuyv(frame, kWidth, kHeight, kWidth * 2, 90);
  EXPECT_EQ(CompleteJpegLength(jpeg), jpeg.size());
  const Decoded decoded = Decode(jpeg);
  EXPECT_EQ(decoded.width, static_cast<int>(kWidth));
  EXPECT_EQ(decoded.height, static_cast<int>(kHeight));
  EXPECT_EQ(decoded.subsampling, TJSAMP_422);
  ASSERT_EQ(decoded.gray.size(), size_t{kWidth} * kHeight);
  // The luma survives, within JPEG's loss at quality 90.
  double error = 0;
  for (unsigned row = 0; row < kHeight; ++row) {
    for (unsigned x = 0; x < kWidth; ++x) {
      error += std::abs(decoded.gray[row * kWidth + x] - (16.0 + x * 3));
    }
  }
  EXPECT_LT(error / (kWidth * kHeight), 3.0);
}

TEST(JpegEncoder, RowsWithPaddingAreRead) {
  JpegEncoder encoder;
  const unsigned stride = kWidth * 2 + 32;  // drivers pad rows to their alignment
  const std::vector<uint8_t> padded = TestYuyv(kWidth, kHeight, stride);
  const std::vector<uint8_t> tight = TestYuyv(kWidth, kHeight, kWidth * 2);
  EXPECT_EQ(encoder.EncodeYuyv(padded, kWidth, kHeight, stride, 80),
            encoder.EncodeYuyv(tight, kWidth, kHeight, kWidth * 2, 80));
}

TEST(JpegEncoder, AFrameTooSmallForItsSizeIsAnError) {
  JpegEncoder encoder;
  const std::vector<uint8_t> frame = TestYuyv(kWidth, kHeight, kWidth * 2);
  try {
    encoder.EncodeYuyv({frame.data(), frame.size() - 1}, kWidth, kHeight, kWidth * 2, 80);
    FAIL() << "encoded a short frame";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not hold 64x48"));
  }
  EXPECT_THROW(encoder.EncodeYuyv(frame, 63, kHeight, kWidth * 2, 80), std::runtime_error) << "odd width";
}

TEST(Jpeg, TruncatedOrForeignFramesAreNotComplete) {
  JpegEncoder encoder;
  const std::vector<uint8_t> jpeg =
      encoder.EncodeYuyv(TestYuyv(kWidth, kHeight, kWidth * 2), kWidth, kHeight, kWidth * 2, 80);
  EXPECT_EQ(CompleteJpegLength(jpeg), jpeg.size());
  EXPECT_EQ(CompleteJpegLength({jpeg.data(), jpeg.size() - 10}), 0U) << "cut short";
  EXPECT_EQ(CompleteJpegLength({jpeg.data(), 100}), 0U) << "a stub";
  std::vector<uint8_t> padded = jpeg;
  padded.resize(jpeg.size() + 300, 0);  // some cameras pad after EOI
  EXPECT_EQ(CompleteJpegLength(padded), jpeg.size());
  std::vector<uint8_t> stale = jpeg;
  stale.resize(jpeg.size() + 300, 0x42);  // or report the whole buffer
  EXPECT_EQ(CompleteJpegLength(stale), jpeg.size());
  std::vector<uint8_t> foreign = jpeg;
  foreign[1] = 0xD9;
  EXPECT_EQ(CompleteJpegLength(foreign), 0U) << "no SOI";
  EXPECT_EQ(CompleteJpegLength({}), 0U);
}

TEST(Jpeg, TablelessMjpegGetsTheStandardTablesAndDecodesAsBefore) {
  JpegEncoder encoder;
  const std::vector<uint8_t> jpeg =
      encoder.EncodeYuyv(TestYuyv(kWidth, kHeight, kWidth * 2), kWidth, kHeight, kWidth * 2, 80);
  ASSERT_TRUE(HasHuffmanTables(jpeg));
  EXPECT_EQ(WithHuffmanTables(jpeg), jpeg) << "a frame with tables is left alone";

  const std::vector<uint8_t> bare = TablelessJpeg(jpeg);
  ASSERT_FALSE(HasHuffmanTables(bare));
  ASSERT_LT(bare.size(), jpeg.size());
  const std::vector<uint8_t> fixed = WithHuffmanTables(bare);
  EXPECT_TRUE(HasHuffmanTables(fixed));
  EXPECT_EQ(CompleteJpegLength(fixed), fixed.size());
  // The encoder used the standard tables, so the fixed frame decodes to
  // the very same picture.
  EXPECT_EQ(Decode(fixed).gray, Decode(jpeg).gray);
  // JPEG Annex K.3's tables, each as its class and id, then its counts
  // (BITS), in one DHT segment.
  const std::vector<std::vector<uint8_t>> standard = {
      {0x00, 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},     // K.3, DC luminance
      {0x01, 0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},     // K.4, DC chrominance
      {0x10, 0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D},  // K.5, AC luminance
      {0x11, 0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77},  // K.6, AC chrominance
  };
  for (const std::vector<uint8_t>& table : standard) {
    EXPECT_LT(Find(fixed, table), fixed.size()) << "table " << int{table[0]};
  }
  EXPECT_EQ(Count(fixed, {0xFF, 0xC4}), 1U);
}

TEST(Jpeg, TheStandardTablesDoNotDependOnTurboJpegsEnvironment) {
  // Encoded before TJ_OPTIMIZE is set: it changes the encoder's tables too.
  const std::vector<uint8_t> jpeg = TestJpeg();
  const std::vector<uint8_t> bare = TablelessJpeg(jpeg);
  const std::optional<std::string> before = Env("TJ_OPTIMIZE");
  std::vector<uint8_t> fixed;
  std::optional<std::vector<uint8_t>> served;
  {
    ScopedEnv optimise("TJ_OPTIMIZE", "1");
    EXPECT_NE(TestJpeg(), jpeg) << "TurboJPEG ignores TJ_OPTIMIZE: this test proves nothing";
    // First, so that tables made when first needed would be made now.
    fixed = WithHuffmanTables(bare);
    served = ServableJpeg(bare);
  }
  EXPECT_EQ(Env("TJ_OPTIMIZE"), before) << "not restored";
  EXPECT_EQ(fixed, WithHuffmanTables(bare));
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(*served, fixed);
  EXPECT_EQ(Decode(fixed).gray, Decode(jpeg).gray);
}

TEST(Jpeg, BrokenMarkerStructureIsLeftAlone) {
  const std::vector<uint8_t> junk(200, 0x42);
  EXPECT_EQ(WithHuffmanTables(junk), junk);
  EXPECT_FALSE(HasHuffmanTables(junk));
}

// What a camera leaves after a frame when it reports its whole buffer:
// bytes of an older frame, end markers among them.
const std::vector<uint8_t> kStaleTail = {0x42, 0xFF, 0xD9, 0x00, 0x00, 0x13,
                                         0xFF, 0xD9, 0x77, 0xFF, 0xD9};

TEST(Jpeg, TheFrameEndsAtTheFirstEndMarkerAfterItsScan) {
  const std::vector<uint8_t> jpeg = TestJpeg();
  EXPECT_EQ(CompleteJpegLength(Joined(jpeg, kStaleTail)), jpeg.size());

  // Over an older, longer frame: its scan data and end marker follow.
  const std::vector<uint8_t> older = TestJpeg(95);
  ASSERT_GT(older.size(), jpeg.size() + 100);
  std::vector<uint8_t> buffer = older;
  std::copy(jpeg.begin(), jpeg.end(), buffer.begin());
  ASSERT_EQ(Find(buffer, kEoi), jpeg.size() - 2);
  ASSERT_EQ(std::vector<uint8_t>(buffer.end() - 2, buffer.end()), kEoi);
  EXPECT_EQ(CompleteJpegLength(buffer), jpeg.size());

  // In a large zeroed buffer the walk stops at the end marker (the frame's
  // cost, not the buffer's).
  constexpr size_t kBufferBytes = 4 << 20;
  std::vector<uint8_t> padded(kBufferBytes, 0);
  std::copy(jpeg.begin(), jpeg.end(), padded.begin());
  EXPECT_EQ(CompleteJpegLength(padded), jpeg.size());
}

TEST(Jpeg, AFrameCutShortIsNotCompletedByAnEndMarkerAfterTheCut) {
  const std::vector<uint8_t> jpeg = TestJpeg();
  const size_t scan = Find(jpeg, kSos);
  ASSERT_LT(scan, jpeg.size());

  // Cut in its headers, over the tail of an older, longer frame whose
  // headers do not line up with its own (that frame carried a comment):
  // the older end marker comes after the cut, but the walk breaks.
  const std::vector<uint8_t> older =
      WithSegmentAfterSoi(TestJpeg(95), Segment(0xFE, std::vector<uint8_t>(100, 'c')));
  std::vector<uint8_t> buffer = older;
  const size_t cut = scan - 100;
  ASSERT_GE(cut, kMinJpegBytes);
  std::copy(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(cut), buffer.begin());
  ASSERT_EQ(std::vector<uint8_t>(buffer.end() - 2, buffer.end()), kEoi);
  EXPECT_EQ(CompleteJpegLength(buffer), 0U);
  EXPECT_FALSE(ServableJpeg(buffer).has_value());
  // Not caught, and not tested: a cut inside the scan data over a tail that
  // lines up (the same camera's older frame). The walk reaches the older
  // frame's end marker; only decoding could tell.

  // An end marker inside a segment is not the frame's: a frame carrying a
  // thumbnail (a whole JPEG in an APP1 segment) cut inside its scan data.
  const std::vector<uint8_t> thumbnail = TestJpeg(20);
  const std::vector<uint8_t> exif =
      WithSegmentAfterSoi(jpeg, Segment(0xE1, Joined({'E', 'x', 'i', 'f', 0, 0}, thumbnail)));
  EXPECT_EQ(CompleteJpegLength(exif), exif.size());
  EXPECT_EQ(CompleteJpegLength({exif.data(), exif.size() - 50}), 0U);
}

// A minimal frame around hand-made scan data: SOI, a comment (long enough
// for kMinJpegBytes, and holding FF D9 as data), a one-component SOS,
// `data`, EOI. Its markers walk like a real frame's; it does not decode.
std::vector<uint8_t> SyntheticJpeg(const std::vector<uint8_t>& data) {
  constexpr size_t kCommentBytes = 150;
  std::vector<uint8_t> comment(kCommentBytes, 'c');
  comment[10] = 0xFF;
  comment[11] = 0xD9;
  std::vector<uint8_t> jpeg = Joined({0xFF, 0xD8}, Segment(0xFE, comment));
  jpeg = Joined(jpeg, Segment(0xDA, {1, 1, 0x00, 0, 63, 0}));
  return Joined(Joined(jpeg, data), kEoi);
}

TEST(Jpeg, StuffedBytesAndRestartMarkersDoNotEndTheScan) {
  const std::vector<uint8_t> data = {
      0x12, 0xFF, 0x00, 0xD9,              // a data byte FF (stuffed), then D9 as data
      0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD1,  // restart intervals: RST0, RST1...
      0x78, 0xFF, 0xD3, 0x9A, 0xFF, 0xD7,  //
      0xBC, 0xFF, 0xFF, 0xD4, 0xDE,        // fill bytes before a marker
  };
  const std::vector<uint8_t> jpeg = SyntheticJpeg(data);
  EXPECT_EQ(CompleteJpegLength(jpeg), jpeg.size());
  EXPECT_EQ(CompleteJpegLength(Joined(jpeg, kStaleTail)), jpeg.size());
  for (size_t cut = kMinJpegBytes; cut < jpeg.size(); ++cut) {
    EXPECT_EQ(CompleteJpegLength({jpeg.data(), cut}), 0U) << "cut at " << cut;
  }

  // Fill bytes before the end marker belong to the frame.
  std::vector<uint8_t> filled = SyntheticJpeg(Joined(data, {0xFF, 0xFF}));
  EXPECT_EQ(CompleteJpegLength(filled), filled.size());

  // A second scan after tables, as in progressive frames: the end marker
  // comes after the last scan, and FF D9 inside the tables is data.
  const std::vector<uint8_t> tables = Segment(0xC4, {0x10, 0xFF, 0xD9, 0x01});
  const std::vector<uint8_t> second_scan = Segment(0xDA, {1, 1, 0x00, 1, 63, 0});
  const std::vector<uint8_t> two_scans =
      SyntheticJpeg(Joined(Joined(Joined(data, tables), second_scan), {0x21, 0xFF, 0x00, 0x43}));
  EXPECT_EQ(CompleteJpegLength(two_scans), two_scans.size());

  // A marker that cannot follow scan data (another SOI) breaks the frame.
  EXPECT_EQ(CompleteJpegLength(SyntheticJpeg(Joined(data, {0xFF, 0xD8, 0x00}))), 0U);
  // So does an end marker before any scan, however long the headers.
  const auto scan = jpeg.begin() + static_cast<std::ptrdiff_t>(Find(jpeg, kSos));
  const std::vector<uint8_t> no_scan = Joined({jpeg.begin(), scan}, kEoi);
  ASSERT_GE(no_scan.size(), kMinJpegBytes);
  EXPECT_EQ(CompleteJpegLength(no_scan), 0U);
}

TEST(Jpeg, ARealFrameWithRestartIntervalsIsComplete) {
  std::vector<uint8_t> jpeg;
  {
    // TurboJPEG 2.1's API has no restart interval, but it reads one from
    // TJ_RESTART (in MCU rows).
    ScopedEnv restart("TJ_RESTART", "1");
    jpeg = TestJpeg();
  }
  ASSERT_EQ(Count(jpeg, {0xFF, 0xDD}), 1U) << "no DRI segment: TJ_RESTART was ignored";
  ASSERT_GE(Count(jpeg, {0xFF, 0xD0}), 1U) << "no RST0 marker";
  EXPECT_EQ(CompleteJpegLength(jpeg), jpeg.size());
  EXPECT_EQ(CompleteJpegLength(Joined(jpeg, kStaleTail)), jpeg.size());
  EXPECT_EQ(CompleteJpegLength({jpeg.data(), jpeg.size() - 2}), 0U);
  EXPECT_EQ(Decode(jpeg).gray.size(), size_t{kWidth} * kHeight);
}

// The test picture as a progressive JPEG: several scans, tables between.
std::vector<uint8_t> ProgressiveJpeg() {
  constexpr int kQuality = 80;
  std::vector<uint8_t> rgb(size_t{kWidth} * kHeight * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 5);
  tjhandle handle = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int result = tjCompress2(handle, rgb.data(), static_cast<int>(kWidth), 0,
                                 static_cast<int>(kHeight), TJPF_RGB, &out, &size, TJSAMP_420,
                                 kQuality, TJFLAG_PROGRESSIVE);
  EXPECT_EQ(result, 0) << tjGetErrorStr2(handle);
  std::vector<uint8_t> jpeg;
  if (result == 0) jpeg.assign(out, out + size);
  tjFree(out);
  tjDestroy(handle);
  return jpeg;
}

TEST(Jpeg, AProgressiveFrameIsCompleteAfterItsLastScan) {
  const std::vector<uint8_t> jpeg = ProgressiveJpeg();
  ASSERT_GE(Count(jpeg, kSos), 2U);
  EXPECT_EQ(CompleteJpegLength(jpeg), jpeg.size());
  EXPECT_EQ(CompleteJpegLength(Joined(jpeg, kStaleTail)), jpeg.size());
  // Cut before its last scan: the scans before it are not the picture.
  const auto last_scan = std::find_end(jpeg.begin(), jpeg.end(), kSos.begin(), kSos.end());
  EXPECT_EQ(CompleteJpegLength({jpeg.data(), static_cast<size_t>(last_scan - jpeg.begin())}), 0U);
  const std::optional<std::vector<uint8_t>> served = ServableJpeg(Joined(jpeg, kStaleTail));
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(*served, jpeg);
  EXPECT_EQ(Decode(jpeg).width, static_cast<int>(kWidth));
}

TEST(Jpeg, AServableJpegIsCutAtItsEndWithTablesWhenItHasNone) {
  const std::vector<uint8_t> jpeg = TestJpeg();
  std::optional<std::vector<uint8_t>> served = ServableJpeg(Joined(jpeg, kStaleTail));
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(*served, jpeg) << "a frame with tables, stale bytes cut off";

  const std::vector<uint8_t> bare = TablelessJpeg(jpeg);
  served = ServableJpeg(Joined(bare, kStaleTail));
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(*served, WithHuffmanTables(bare));
  EXPECT_TRUE(HasHuffmanTables(*served));
  EXPECT_EQ(CompleteJpegLength(*served), served->size());
  EXPECT_EQ(Decode(*served).gray, Decode(jpeg).gray);
}

TEST(Jpeg, WhatIsNotACompleteJpegIsNotServable) {
  const std::vector<uint8_t> jpeg = TestJpeg();
  EXPECT_FALSE(ServableJpeg({jpeg.data(), jpeg.size() - 10}).has_value()) << "cut short";
  EXPECT_FALSE(ServableJpeg({jpeg.data(), 100}).has_value()) << "a stub";
  EXPECT_FALSE(ServableJpeg({}).has_value());
  std::vector<uint8_t> foreign = jpeg;
  foreign[1] = 0xD9;
  EXPECT_FALSE(ServableJpeg(foreign).has_value()) << "no SOI";
  EXPECT_FALSE(ServableJpeg(TablelessJpeg({jpeg.begin(), jpeg.end() - 10})).has_value())
      << "tableless and cut short";

  // Shaped like a JPEG, SOI to EOI, with no marker segments between:
  // WithHuffmanTables passes it through, ServableJpeg does not.
  std::vector<uint8_t> filler(600, 0x55);
  filler[0] = 0xFF;
  filler[1] = 0xD8;
  filler[filler.size() - 2] = 0xFF;
  filler[filler.size() - 1] = 0xD9;
  EXPECT_EQ(WithHuffmanTables(filler), filler);
  EXPECT_FALSE(ServableJpeg(filler).has_value());
  EXPECT_EQ(CompleteJpegLength(filler), 0U);

  // A segment length that misses the next marker.
  std::vector<uint8_t> broken = jpeg;
  ASSERT_EQ(broken[2], 0xFF);
  broken[5] = static_cast<uint8_t>(broken[5] + 1);
  EXPECT_FALSE(ServableJpeg(broken).has_value());
  EXPECT_EQ(CompleteJpegLength(broken), 0U);
}

}  // namespace
}  // namespace domian::camera
