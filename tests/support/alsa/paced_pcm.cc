// The playback side of a sound card, for tests on machines that have none:
// an ALSA external I/O plugin (ioplug) that consumes frames in real time on
// CLOCK_MONOTONIC, as a card's DMA engine does, so that writers block,
// poll, drain and underrun the way they would on hardware:
//
//   - it takes S16_LE at one configured rate and channel count only, with
//     period and buffer limits like a codec's, so applications go through
//     the `plug` layer for conversion as they do on real cards;
//   - from start on, the hardware position advances with elapsed time ×
//     rate, a period at a time (as at period interrupts); when it overtakes
//     what the application has written (the writer stalled for longer than
//     the buffer holds), the stream underruns and snd_pcm_writei returns
//     -EPIPE until snd_pcm_prepare/snd_pcm_recover; prepare starts the
//     clock over;
//   - its poll descriptor (a timerfd) wakes the writer once per period while
//     the stream runs, so blocking writes, snd_pcm_wait, snd_pcm_drain and
//     event loops work without busy-waiting;
//   - with `record`, every frame written is appended to a file (raw S16_LE,
//     interleaved, at the device's rate and channels) so tests can check
//     what was played.
//
// alsa-lib loads it from the absolute path a test's configuration names:
//
//   pcm_type.domian_paced { lib "/abs/path/libasound_module_pcm_domian_paced.so" }
//   pcm.domian_test_paced_hw { type domian_paced rate 48000 channels 2 }
//   pcm.domian_test_speaker { type plug slave.pcm "domian_test_paced_hw" }
//
// Keys: `rate` (default 48000), `channels` (default 2), `record` (a file
// path, optional). Playback only.

// alsa-lib's headers declare a plugin's versioned entry symbol for dlsym
// only when PIC is defined (as libtool does for alsa-plugins); without it
// they expect a static build and reference the library-internal
// snd_dlsym_start, which no shared libasound exports.
#define PIC 1

#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>
#include <string>
#include <vector>

namespace {

constexpr long kDefaultRate = 48000;
constexpr long kMinRate = 8000;
constexpr long kMaxRate = 192000;
constexpr long kDefaultChannels = 2;
constexpr long kMaxChannels = 8;

constexpr unsigned kSampleBytes = 2;  // S16_LE, the only format offered
constexpr unsigned kMinPeriods = 2;
constexpr unsigned kMaxPeriods = 32;
constexpr unsigned kMinPeriodFrames = 64;
constexpr unsigned kMaxPeriodFrames = 65536;
// A few seconds at 48 kHz, like a codec's DMA buffer.
constexpr unsigned kMaxBufferFrames = 1U << 18;
constexpr unsigned kMinBufferFrames = kMinPeriods * kMinPeriodFrames;

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kWakeNowNs = 1;  // the shortest expiry a timerfd takes
constexpr mode_t kRecordFileMode = 0644;

struct Config {
  unsigned rate = kDefaultRate;
  unsigned channels = kDefaultChannels;
  std::string record;  // empty: nothing is recorded
};

struct PacedPcm {
  snd_pcm_ioplug_t io{};
  unsigned rate = 0;
  unsigned channels = 0;
  int timer_fd = -1;
  int record_fd = -1;
  std::vector<int16_t> gathered;  // one transfer's frames, interleaved for the record file
  int64_t start_ns = 0;           // CLOCK_MONOTONIC at start
  // Frames the device has played since prepare. The position reported to
  // ioplug is this modulo `boundary`, the range appl_ptr wraps in.
  uint64_t consumed = 0;
  snd_pcm_uframes_t boundary = 0;  // from sw_params, which hw_params always sets
  snd_pcm_uframes_t avail_min = 1;

  ~PacedPcm() {
    if (timer_fd >= 0) close(timer_fd);
    if (record_fd >= 0) close(record_fd);
  }
};

PacedPcm& Self(snd_pcm_ioplug_t* io) { return *static_cast<PacedPcm*>(io->private_data); }

int64_t NowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * kNsPerSecond + now.tv_nsec;
}

// Frames a device running at `rate` since `start_ns` has played by now, in
// whole periods: the position moves at period interrupts, as on cards whose
// driver updates hw_ptr there. A position between periods would race
// alsa-lib's rate plugin, whose drain waits for one free frame and then
// commits up to a period, failing with -EPIPE when less is free.
uint64_t FramesDue(const PacedPcm& pcm, snd_pcm_uframes_t period_size) {
  // Split in seconds and the rest so that long runs cannot overflow.
  const auto elapsed = static_cast<uint64_t>(NowNs() - pcm.start_ns);
  const uint64_t seconds = elapsed / kNsPerSecond;
  const uint64_t rest_ns = elapsed % kNsPerSecond;
  const uint64_t frames = seconds * pcm.rate + rest_ns * pcm.rate / kNsPerSecond;
  return frames - frames % period_size;
}

timespec Timespec(int64_t ns) {
  timespec spec{};
  spec.tv_sec = static_cast<time_t>(ns / kNsPerSecond);
  spec.tv_nsec = static_cast<long>(ns % kNsPerSecond);
  return spec;
}

// First expiry after `first_ns`, then every `interval_ns`; 0 for `first_ns`
// disarms, 0 for `interval_ns` fires once.
int SetTimer(const PacedPcm& pcm, int64_t first_ns, int64_t interval_ns) {
  itimerspec spec{};
  spec.it_value = Timespec(first_ns);
  spec.it_interval = Timespec(interval_ns);
  return timerfd_settime(pcm.timer_fd, 0, &spec, nullptr) < 0 ? -errno : 0;
}

void DrainTimer(const PacedPcm& pcm) {
  uint64_t expirations = 0;
  while (read(pcm.timer_fd, &expirations, sizeof expirations) > 0) {
  }
}

int Start(snd_pcm_ioplug_t* io) {
  PacedPcm& pcm = Self(io);
  pcm.start_ns = NowNs();
  // Rounded up: a wake-up before a whole period has played would find less
  // than avail_min free and send the writer back to sleep for a period.
  const int64_t period_ns =
      (static_cast<int64_t>(io->period_size) * kNsPerSecond + pcm.rate - 1) / pcm.rate;
  return SetTimer(pcm, period_ns, period_ns);
}

// One last tick instead of silence: a writer blocked in another thread
// wakes, finds the stream stopped and returns, as the kernel wakes
// sleepers on a stop.
int Stop(snd_pcm_ioplug_t* io) { return SetTimer(Self(io), kWakeNowNs, 0); }

snd_pcm_sframes_t Pointer(snd_pcm_ioplug_t* io) {
  PacedPcm& pcm = Self(io);
  if (pcm.boundary == 0) return 0;  // not set up yet (snd_pcm_status may still ask)
  if (io->state == SND_PCM_STATE_RUNNING || io->state == SND_PCM_STATE_DRAINING) {
    const snd_pcm_uframes_t position = pcm.consumed % pcm.boundary;
    const snd_pcm_uframes_t queued = (io->appl_ptr + pcm.boundary - position) % pcm.boundary;
    const uint64_t written = pcm.consumed + queued;
    const uint64_t due = FramesDue(pcm, io->period_size);
    if (due <= written) {
      pcm.consumed = due;
    } else if (io->state == SND_PCM_STATE_DRAINING) {
      pcm.consumed = written;  // a drain runs the buffer dry on purpose
    } else {
      // Starved. The timer keeps ticking so that a poller learns of it
      // (POLLERR) within a period, as a real card reports an xrun at once.
      return -EPIPE;
    }
  }
  return static_cast<snd_pcm_sframes_t>(pcm.consumed % pcm.boundary);
}

// Records the frames as they are written, which is the order they play in
// (frames an application takes back with snd_pcm_rewind stay recorded).
snd_pcm_sframes_t Transfer(snd_pcm_ioplug_t* io, const snd_pcm_channel_area_t* areas,
                           snd_pcm_uframes_t offset, snd_pcm_uframes_t size) {
  PacedPcm& pcm = Self(io);
  if (pcm.record_fd < 0) return static_cast<snd_pcm_sframes_t>(size);
  // Areas may be interleaved or not, and from the application's buffer or
  // ioplug's mmap buffer; gathering sample by sample suits them all.
  pcm.gathered.resize(size * pcm.channels);
  for (snd_pcm_uframes_t frame = 0; frame < size; ++frame) {
    for (unsigned channel = 0; channel < pcm.channels; ++channel) {
      const snd_pcm_channel_area_t& area = areas[channel];
      const size_t bit = area.first + (offset + frame) * area.step;
      std::memcpy(&pcm.gathered[frame * pcm.channels + channel],
                  static_cast<const char*>(area.addr) + bit / 8, kSampleBytes);
    }
  }
  const auto* bytes = reinterpret_cast<const char*>(pcm.gathered.data());
  size_t left = pcm.gathered.size() * kSampleBytes;
  while (left > 0) {
    const ssize_t n = write(pcm.record_fd, bytes, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      SNDERR("domian_paced: cannot append to the record file: %s", std::strerror(errno));
      return -EIO;
    }
    bytes += n;
    left -= static_cast<size_t>(n);
  }
  return static_cast<snd_pcm_sframes_t>(size);
}

int SwParams(snd_pcm_ioplug_t* io, snd_pcm_sw_params_t* params) {
  PacedPcm& pcm = Self(io);
  snd_pcm_sw_params_get_boundary(params, &pcm.boundary);
  snd_pcm_sw_params_get_avail_min(params, &pcm.avail_min);
  return 0;
}

int Prepare(snd_pcm_ioplug_t* io) {
  PacedPcm& pcm = Self(io);
  const int err = SetTimer(pcm, 0, 0);
  DrainTimer(pcm);
  pcm.consumed = 0;
  return err;
}

// Turns timer ticks into what a card's poll reports: POLLOUT when a writer
// may go on, POLLERR after an underrun. Outside RUNNING every tick counts as
// POLLOUT: ioplug's drain waits on this descriptor and must look at the
// position again after each period, and the tick a stop leaves must let a
// writer waiting in another thread return.
int PollRevents(snd_pcm_ioplug_t* io, pollfd* pfds, unsigned nfds, unsigned short* revents) {
  if (nfds != 1) return -EINVAL;
  const PacedPcm& pcm = Self(io);
  DrainTimer(pcm);
  *revents = static_cast<unsigned short>(pfds[0].revents & (POLLERR | POLLNVAL));
  // Called outside ioplug's lock, so the PCM API may be used here.
  const snd_pcm_sframes_t avail = snd_pcm_avail_update(io->pcm);
  if (avail < 0) {
    *revents |= POLLERR;
  } else if (io->state != SND_PCM_STATE_RUNNING ||
             static_cast<snd_pcm_uframes_t>(avail) >= pcm.avail_min) {
    *revents |= POLLOUT;
  }
  return 0;
}

int Close(snd_pcm_ioplug_t* io) {
  delete &Self(io);
  return 0;
}

// Filled member by member: designated initialisers would leave the unused
// callbacks to -Wmissing-field-initializers.
constexpr snd_pcm_ioplug_callback_t MakeCallbacks() {
  snd_pcm_ioplug_callback_t callbacks{};
  callbacks.start = Start;
  callbacks.stop = Stop;
  callbacks.pointer = Pointer;
  callbacks.transfer = Transfer;
  callbacks.close = Close;
  callbacks.sw_params = SwParams;
  callbacks.prepare = Prepare;
  callbacks.poll_revents = PollRevents;
  return callbacks;
}

constexpr snd_pcm_ioplug_callback_t kCallbacks = MakeCallbacks();

// Keys every PCM definition may carry (alsa-lib does not export its own
// check, snd_pcm_conf_generic_id).
bool IsGenericKey(const std::string& key) {
  return key == "comment" || key == "type" || key == "hint";
}

int ParseInteger(snd_config_t* node, const char* id, long min, long max, unsigned* out) {
  long value = 0;
  if (snd_config_get_integer(node, &value) < 0 || value < min || value > max) {
    SNDERR("domian_paced: %s must be an integer in %ld..%ld", id, min, max);
    return -EINVAL;
  }
  *out = static_cast<unsigned>(value);
  return 0;
}

int ParseConfig(snd_config_t* conf, Config* config) {
  snd_config_iterator_t i;
  snd_config_iterator_t next;
  snd_config_for_each(i, next, conf) {
    snd_config_t* node = snd_config_iterator_entry(i);
    const char* id = nullptr;
    if (snd_config_get_id(node, &id) < 0) continue;
    const std::string key = id;
    if (IsGenericKey(key)) continue;
    int err = 0;
    if (key == "rate") {
      err = ParseInteger(node, id, kMinRate, kMaxRate, &config->rate);
    } else if (key == "channels") {
      err = ParseInteger(node, id, 1, kMaxChannels, &config->channels);
    } else if (key == "record") {
      const char* path = nullptr;
      if (snd_config_get_string(node, &path) < 0 || *path == '\0') {
        SNDERR("domian_paced: record must be a file path");
        err = -EINVAL;
      } else {
        config->record = path;
      }
    } else {
      SNDERR("domian_paced: unknown field %s", id);
      err = -EINVAL;
    }
    if (err < 0) return err;
  }
  return 0;
}

// What a codec would accept: one format, rate and channel count, and
// period/buffer sizes within hardware-like limits.
int SetConstraints(snd_pcm_ioplug_t* io, const Config& config) {
  static constexpr unsigned kAccess[] = {SND_PCM_ACCESS_RW_INTERLEAVED,
                                         SND_PCM_ACCESS_MMAP_INTERLEAVED};
  static constexpr unsigned kFormats[] = {SND_PCM_FORMAT_S16_LE};
  const unsigned frame_bytes = config.channels * kSampleBytes;
  int err = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_ACCESS, std::size(kAccess), kAccess);
  if (err >= 0) {
    err = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_FORMAT, std::size(kFormats), kFormats);
  }
  if (err >= 0) {
    err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_CHANNELS, config.channels,
                                          config.channels);
  }
  if (err >= 0) {
    err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_RATE, config.rate, config.rate);
  }
  if (err >= 0) {
    err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_PERIOD_BYTES,
                                          kMinPeriodFrames * frame_bytes,
                                          kMaxPeriodFrames * frame_bytes);
  }
  if (err >= 0) {
    err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_PERIODS, kMinPeriods, kMaxPeriods);
  }
  if (err >= 0) {
    err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_BUFFER_BYTES,
                                          kMinBufferFrames * frame_bytes,
                                          kMaxBufferFrames * frame_bytes);
  }
  return err;
}

int Open(snd_pcm_t** pcmp, const char* name, snd_config_t* conf, snd_pcm_stream_t stream,
         int mode) {
  Config config;
  int err = ParseConfig(conf, &config);
  if (err < 0) return err;
  if (stream != SND_PCM_STREAM_PLAYBACK) {
    SNDERR("domian_paced: %s is playback only", name);
    return -EINVAL;
  }

  auto* pcm = new (std::nothrow) PacedPcm;
  if (pcm == nullptr) return -ENOMEM;
  pcm->rate = config.rate;
  pcm->channels = config.channels;
  pcm->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (pcm->timer_fd < 0) {
    err = -errno;
    delete pcm;
    return err;
  }
  if (!config.record.empty()) {
    pcm->record_fd = open(config.record.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                          kRecordFileMode);
    if (pcm->record_fd < 0) {
      err = -errno;
      SNDERR("domian_paced: cannot open %s: %s", config.record.c_str(), std::strerror(errno));
      delete pcm;
      return err;
    }
  }

  snd_pcm_ioplug_t& io = pcm->io;
  io.version = SND_PCM_IOPLUG_VERSION;
  io.name = "domian paced test PCM";
  // The position is reported in the boundary range (as a kernel driver's
  // hw_ptr is), not modulo the buffer, so that a full buffer played between
  // two looks at the pointer is not mistaken for none.
  io.flags = SND_PCM_IOPLUG_FLAG_MONOTONIC | SND_PCM_IOPLUG_FLAG_BOUNDARY_WA;
  io.poll_fd = pcm->timer_fd;
  io.poll_events = POLLIN;  // the timerfd's; PollRevents turns it into POLLOUT
  io.callback = &kCallbacks;
  io.private_data = pcm;
  err = snd_pcm_ioplug_create(&io, name, stream, mode);
  if (err < 0) {
    delete pcm;
    return err;
  }
  err = SetConstraints(&io, config);
  if (err < 0) {
    snd_pcm_ioplug_delete(&io);  // closes, which frees pcm
    return err;
  }
  *pcmp = io.pcm;
  return 0;
}

}  // namespace

// The entry point and its version tag are looked up by name with dlsym, so
// they stay visible when the build hides symbols by default.
extern "C" {
#pragma GCC visibility push(default)

SND_PCM_PLUGIN_DEFINE_FUNC(domian_paced) {
  static_cast<void>(root);
  return Open(pcmp, name, conf, stream, mode);
}

SND_PCM_PLUGIN_SYMBOL(domian_paced)

#pragma GCC visibility pop
}
