// JPEG checks, Huffman table insertion and YUYV encoding, decoded back with
// the real libjpeg-turbo.
#include "plugins/camera/jpeg.h"

#include <turbojpeg.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "plugins/camera/scripted_video_device.h"

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
  // JPEG Annex K.3's DC luminance table: class 0, id 0, then its counts.
  const std::vector<uint8_t> dc_luminance = {0x00, 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_NE(std::search(fixed.begin(), fixed.end(), dc_luminance.begin(), dc_luminance.end()),
            fixed.end());
}

TEST(Jpeg, BrokenMarkerStructureIsLeftAlone) {
  const std::vector<uint8_t> junk(200, 0x42);
  EXPECT_EQ(WithHuffmanTables(junk), junk);
  EXPECT_FALSE(HasHuffmanTables(junk));
}

}  // namespace
}  // namespace domian::camera
