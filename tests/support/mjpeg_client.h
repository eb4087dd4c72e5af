// JPEGs decoded and made for tests, and a minimal HTTP client for the
// camera's endpoints, on plain sockets to
// 127.0.0.1, so tests control how fast it reads: a slow client is one that
// sleeps between small reads with a small receive buffer.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace domian::testing {

struct HttpReply {
  int status = 0;  // 0: no reply
  std::string headers;
  std::string body;
};

// GET `path` from 127.0.0.1:`port`; the whole reply (Connection: close).
// `path` may carry a query, as a signed URL's target does.
HttpReply HttpGet(uint16_t port, const std::string& path, std::chrono::milliseconds deadline);

// What a client asks for of "http://HOST:PORT/PATH?QUERY" (a URL from the
// camera's `share` command): "/PATH?QUERY", for HttpGet and ReadMjpeg.
std::string UrlTarget(const std::string& url);

struct MjpegRead {
  int status = 0;
  std::string content_type;
  std::vector<std::string> parts;  // each part's body (a JPEG, if all is well)
  bool well_formed = true;         // every part had the boundary, headers and its length
};

// Reads `path` (a multipart/x-mixed-replace stream) for `duration`, then
// closes. With `pause` > 0, sleeps that long after every `chunk` bytes read
// (and keeps a small receive buffer): a slow client.
MjpegRead ReadMjpeg(uint16_t port, const std::string& path, std::chrono::milliseconds duration,
                    std::chrono::milliseconds pause = std::chrono::milliseconds(0),
                    size_t chunk = 64 * 1024);

struct Picture {
  int width = 0;
  int height = 0;
  bool decoded = false;  // the whole picture, without a warning
  std::string error;     // libjpeg-turbo's words when not
};

// Decodes `jpeg` fully with libjpeg-turbo (not the camera's own code).
Picture DecodeJpeg(const std::string& jpeg);

// A `width` x `height` JPEG of a test picture that changes with `sequence`,
// encoded with libjpeg-turbo: what an MJPEG camera would send.
std::string EncodeTestJpeg(int width, int height, unsigned sequence);

}  // namespace domian::testing
