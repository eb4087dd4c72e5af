#include "tests/support/mjpeg_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include <turbojpeg.h>

namespace domian::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSlowReceiveBuffer = 4096;
constexpr int kPollSliceMs = 50;

int Connect(uint16_t port, bool slow) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (slow) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSlowReceiveBuffer, sizeof kSlowReceiveBuffer);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendRequest(int fd, const std::string& path) {
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  return ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
}

// Reads into `into` until `until`, EOF or an error; false on EOF/error.
bool ReadSome(int fd, std::string& into, Clock::time_point until, size_t chunk) {
  while (Clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kPollSliceMs) <= 0) continue;
    std::string buffer(chunk, '\0');
    const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (got <= 0) return false;
    into.append(buffer.data(), static_cast<size_t>(got));
    return true;
  }
  return true;
}

int StatusOf(const std::string& head) {
  if (head.compare(0, 9, "HTTP/1.1 ") != 0 || head.size() < 12) return 0;
  return std::stoi(head.substr(9, 3));
}

std::string HeaderValue(const std::string& headers, const std::string& name) {
  std::string lower = headers;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  const size_t start = headers.find_first_not_of(' ', at + name.size() + 3);
  return headers.substr(start, headers.find("\r\n", start) - start);
}

}  // namespace

HttpReply HttpGet(uint16_t port, const std::string& path, std::chrono::milliseconds deadline) {
  HttpReply reply;
  const int fd = Connect(port, false);
  if (fd < 0 || !SendRequest(fd, path)) {
    if (fd >= 0) ::close(fd);
    return reply;
  }
  std::string all;
  const auto until = Clock::now() + deadline;
  while (Clock::now() < until && ReadSome(fd, all, until, 64 * 1024)) {
  }
  ::close(fd);
  const size_t end = all.find("\r\n\r\n");
  if (end == std::string::npos) return reply;
  reply.headers = all.substr(0, end + 2);
  reply.status = StatusOf(reply.headers);
  reply.body = all.substr(end + 4);
  return reply;
}

std::string UrlTarget(const std::string& url) {
  const size_t host = url.find("://");
  const size_t path = url.find('/', host == std::string::npos ? 0 : host + 3);
  return path == std::string::npos ? "/" : url.substr(path);
}

MjpegRead ReadMjpeg(uint16_t port, const std::string& path, std::chrono::milliseconds duration,
                    std::chrono::milliseconds pause, size_t chunk) {
  MjpegRead read;
  const bool slow = pause.count() > 0;
  const int fd = Connect(port, slow);
  if (fd < 0 || !SendRequest(fd, path)) {
    if (fd >= 0) ::close(fd);
    return read;
  }
  std::string all;
  const auto until = Clock::now() + duration;
  while (Clock::now() < until && ReadSome(fd, all, until, chunk)) {
    if (slow) std::this_thread::sleep_for(pause);
  }
  ::close(fd);

  const size_t end = all.find("\r\n\r\n");
  if (end == std::string::npos) return read;
  const std::string headers = all.substr(0, end + 2);
  read.status = StatusOf(headers);
  read.content_type = HeaderValue(headers, "content-type");
  const size_t marker = read.content_type.find("boundary=");
  if (marker == std::string::npos) return read;
  const std::string boundary = "--" + read.content_type.substr(marker + 9);
  // Parts: --boundary CRLF headers CRLF CRLF body(Content-Length) CRLF.
  size_t at = end + 4;
  while (at < all.size()) {
    if (all.compare(at, boundary.size(), boundary) != 0) {
      read.well_formed = false;
      break;
    }
    const size_t head_end = all.find("\r\n\r\n", at);
    if (head_end == std::string::npos) break;  // cut off by the close
    const std::string length = HeaderValue(all.substr(at, head_end - at + 2), "content-length");
    if (length.empty()) {
      read.well_formed = false;
      break;
    }
    const size_t size = std::stoul(length);
    const size_t body = head_end + 4;
    if (body + size + 2 > all.size()) break;  // the last part, cut off
    read.parts.push_back(all.substr(body, size));
    if (all.compare(body + size, 2, "\r\n") != 0) {
      read.well_formed = false;
      break;
    }
    at = body + size + 2;
  }
  return read;
}

Picture DecodeJpeg(const std::string& jpeg) {
  Picture picture;
  tjhandle handle = tjInitDecompress();
  const auto* bytes = reinterpret_cast<const unsigned char*>(jpeg.data());
  int subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle, bytes, jpeg.size(), &picture.width, &picture.height, &subsampling,
                          &colorspace) == 0) {
    std::vector<unsigned char> pixels(static_cast<size_t>(picture.width * picture.height * 3));
    picture.decoded = tjDecompress2(handle, bytes, jpeg.size(), pixels.data(), picture.width, 0,
                                    picture.height, TJPF_RGB, TJFLAG_STOPONWARNING) == 0;
  }
  if (!picture.decoded) picture.error = tjGetErrorStr2(handle);
  tjDestroy(handle);
  return picture;
}

std::string EncodeTestJpeg(int width, int height, unsigned sequence) {
  constexpr int kQuality = 80;
  // Diagonal bands that move a step with every frame.
  std::vector<unsigned char> rgb(static_cast<size_t>(width * height * 3));
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      unsigned char* pixel = &rgb[static_cast<size_t>((y * width + x) * 3)];
      const unsigned band = (static_cast<unsigned>(x + y) + sequence * 8) / 32;
      pixel[0] = static_cast<unsigned char>(band * 40);
      pixel[1] = static_cast<unsigned char>(x * 255 / width);
      pixel[2] = static_cast<unsigned char>(y * 255 / height);
    }
  }
  tjhandle handle = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int failed = tjCompress2(handle, rgb.data(), width, 0, height, TJPF_RGB, &out, &size,
                                 TJSAMP_422, kQuality, 0);
  std::string jpeg = failed == 0 ? std::string(reinterpret_cast<const char*>(out), size) : "";
  tjFree(out);
  tjDestroy(handle);
  return jpeg;
}

}  // namespace domian::testing
