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
//   - with `record`, every frame the device plays is appended to a file
//     (raw S16_LE, interleaved, at the device's rate and channels) when the
//     position passes it, so tests can check what was played: written
//     frames wait in a ring of a buffer's size until then. Frames still
//     queued when the stream is dropped, closed or prepared never play and
//     are not recorded, nor is anything of a stream that never started (it
//     stays PREPARED below its start threshold); frames played before an
//     underrun are.
//
// alsa-lib loads it from the absolute path a test's configuration names:
//
//   pcm_type.domian_paced { lib "/abs/path/libasound_module_pcm_domian_paced.so" }
//   pcm.domian_test_paced_hw { type domian_paced rate 48000 channels 2 }
//   pcm.domian_test_speaker { type plug slave.pcm "domian_test_paced_hw" }
//
// Keys: `rate` (default 48000), `channels` (default 2), `record` (a file
// path, optional). Playback only.
//
// Optional keys make it fail the way real devices do. Their times are
// running time: how long the stream has been RUNNING (or draining) in this
// open, summed over its runs (each from a start to the stop, underrun,
// prepare, failure or suspend that ends it).
//
//   stall_after_ms N    the device stops consuming for good (a wedged USB
//                       card, a dmix or Bluetooth server that hung): the
//                       position freezes and poll never reports room again,
//                       so blocking writes and a blocking snd_pcm_drain wait
//                       forever (a kernel drain gives up with -EIO after a
//                       timeout; this one does not), nonblocking writes get
//                       -EAGAIN and snd_pcm_wait times out. Drop still
//                       returns.
//   fail_after_ms N     the device fails (a card unplugged mid-stream):
//                       pointer, transfer and prepare return -EIO from then
//                       on. ioplug turns a failing pointer into an underrun,
//                       so writes get -EPIPE, and snd_pcm_recover (its
//                       prepare) then -EIO: only a reopen plays again.
//   fail_opens K        fail_after_ms applies to the first K opens of this
//                       PCM in the process only (default 0: to every open),
//                       counted per `record` path, or per PCM name without
//                       one: with 1, one reopen recovers.
//   suspend_after_ms N  the stream is SUSPENDED, once per open (a system
//                       suspend): writes return -ESTRPIPE, poll POLLERR.
//   resume_delay_ms N   snd_pcm_resume succeeds only N ms after the suspend
//                       (default 0). alsa-lib's ioplug (1.2.8) returns 0
//                       from snd_pcm_resume whatever the plugin answers, so
//                       the state tells: SUSPENDED still before that (the
//                       next write gets -ESTRPIPE again), PREPARED after.
//                       The card has no full resume: what was queued is
//                       lost and the stream starts over, as snd_pcm_recover
//                       would leave it after prepare; so
//                       snd_pcm_recover(-ESTRPIPE) returns 0 and writing
//                       goes on.
//   exclusive true      one open at a time, as a kernel hw device: another
//                       open while one is fails with -EBUSY (per `record`
//                       path, or PCM name). A kernel device fails only a
//                       SND_PCM_NONBLOCK open that way and makes a blocking
//                       one wait until it is free; this one fails both
//                       (plug passes the mode on, but a test is better
//                       served by an error than by a hang, and applications
//                       should open nonblocking).
//
// Open counts and exclusive claims are kept in this module for the
// process; alsa-lib unloads it (snd_config_update_free_global) only while
// none of its PCMs is open, which starts the counts over.

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

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <set>
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

// Limits of the failure keys: a day of running time is more than any test
// waits for, and a test reopens a device a few times, not thousands.
constexpr long kMaxEventMs = 24L * 60 * 60 * 1000;
constexpr long kMaxFailOpens = 1000;

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kWakeNowNs = 1;  // the shortest expiry a timerfd takes
constexpr mode_t kRecordFileMode = 0644;

struct Config {
  unsigned rate = kDefaultRate;
  unsigned channels = kDefaultChannels;
  std::string record;  // empty: nothing is recorded
  // The failure keys, in ns of running time; unset: never.
  std::optional<int64_t> stall_after_ns;
  std::optional<int64_t> fail_after_ns;
  unsigned fail_opens = 0;  // 0: every open fails
  std::optional<int64_t> suspend_after_ns;
  std::optional<int64_t> resume_delay_ns;
  bool exclusive = false;
};

// What the process knows of this module's PCMs across opens, by key (the
// record path, or the PCM name).
struct Registry {
  std::mutex mutex;
  std::map<std::string, unsigned> failing_opens;  // opens so far of PCMs with fail_after_ms
  std::set<std::string> exclusive;                // exclusive PCMs open now
};

Registry& TheRegistry() {
  static Registry registry;
  return registry;
}

struct PacedPcm {
  snd_pcm_ioplug_t io{};
  unsigned rate = 0;
  unsigned channels = 0;
  int timer_fd = -1;
  int record_fd = -1;
  // With `record`: what was written and has not played yet, at its
  // position modulo the buffer size (a buffer's worth, interleaved).
  std::vector<int16_t> ring;
  // Frames the device has played (or a resume dropped) since prepare. The
  // position reported to ioplug is this modulo `boundary`, the range
  // appl_ptr wraps in.
  uint64_t consumed = 0;
  snd_pcm_uframes_t boundary = 0;  // from sw_params, which hw_params always sets
  snd_pcm_uframes_t avail_min = 1;

  // The current run: the device plays from start_ns (CLOCK_MONOTONIC) on,
  // from position run_base, until it stops, runs dry, fails or is
  // suspended.
  bool running = false;
  int64_t start_ns = 0;
  uint64_t run_base = 0;
  int64_t run_ns_before = 0;  // running time of this open's earlier runs

  // The failures this open is configured for (fail_after_ns only when
  // this open is among fail_opens) and how far they have got.
  std::optional<int64_t> stall_after_ns;
  std::optional<int64_t> fail_after_ns;
  std::optional<int64_t> suspend_after_ns;
  int64_t resume_delay_ns = 0;
  bool stalled = false;
  bool failed = false;
  bool suspended_once = false;
  int64_t suspended_ns = 0;  // when it was suspended

  std::string key;       // this PCM's in TheRegistry()
  bool claimed = false;  // holds key in TheRegistry().exclusive

  ~PacedPcm() {
    if (timer_fd >= 0) close(timer_fd);
    if (record_fd >= 0) close(record_fd);
    if (claimed) {
      Registry& registry = TheRegistry();
      const std::lock_guard lock(registry.mutex);
      registry.exclusive.erase(key);
    }
  }
};

PacedPcm& Self(snd_pcm_ioplug_t* io) { return *static_cast<PacedPcm*>(io->private_data); }

int64_t NowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * kNsPerSecond + now.tv_nsec;
}

// Frames a device running at `rate` for `elapsed_ns` has played, in whole
// periods: the position moves at period interrupts, as on cards whose
// driver updates hw_ptr there. A position between periods would race
// alsa-lib's rate plugin, whose drain waits for one free frame and then
// commits up to a period, failing with -EPIPE when less is free.
uint64_t FramesDue(unsigned rate, int64_t elapsed_ns, snd_pcm_uframes_t period_size) {
  // Split in seconds and the rest so that long runs cannot overflow.
  const auto elapsed = static_cast<uint64_t>(elapsed_ns);
  const uint64_t seconds = elapsed / kNsPerSecond;
  const uint64_t rest_ns = elapsed % kNsPerSecond;
  const uint64_t frames = seconds * rate + rest_ns * rate / kNsPerSecond;
  return frames - frames % period_size;
}

// How long `frames` take to play at `rate`, rounded up: the first instant
// FramesDue counts them all (when whole periods).
int64_t NsForFrames(uint64_t frames, unsigned rate) {
  const uint64_t seconds = frames / rate;
  const uint64_t rest = frames % rate;
  return static_cast<int64_t>(seconds * kNsPerSecond + (rest * kNsPerSecond + rate - 1) / rate);
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

// No ticks until the next start, none left over from before.
int DisarmTimer(const PacedPcm& pcm) {
  const int err = SetTimer(pcm, 0, 0);
  DrainTimer(pcm);
  return err;
}

// Written frames the device has not played yet.
snd_pcm_uframes_t Queued(const snd_pcm_ioplug_t* io, const PacedPcm& pcm) {
  const snd_pcm_uframes_t position = pcm.consumed % pcm.boundary;
  return (io->appl_ptr + pcm.boundary - position) % pcm.boundary;
}

int AppendToRecord(const PacedPcm& pcm, const int16_t* samples, size_t count) {
  const auto* bytes = reinterpret_cast<const char*>(samples);
  size_t left = count * kSampleBytes;
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
  return 0;
}

// The device has played on to position `to` (at most a buffer on): the
// frames passed go from the ring to the record file.
int Play(PacedPcm& pcm, uint64_t to) {
  const uint64_t from = pcm.consumed;
  pcm.consumed = to;
  if (pcm.record_fd < 0 || to == from) return 0;
  const size_t ring_frames = pcm.ring.size() / pcm.channels;
  const size_t first = from % ring_frames;
  const size_t count = to - from;
  const size_t head = std::min(count, ring_frames - first);
  int err = AppendToRecord(pcm, &pcm.ring[first * pcm.channels], head * pcm.channels);
  if (err == 0 && count > head) {
    err = AppendToRecord(pcm, pcm.ring.data(), (count - head) * pcm.channels);
  }
  return err;
}

void EndRun(PacedPcm& pcm, int64_t end_ns) {
  pcm.run_ns_before += end_ns - pcm.start_ns;
  pcm.running = false;
}

// Plays on to where the device is at `until`, but no further than what is
// written: a device that overtakes that has run dry, and its run ends
// there. -EPIPE when that is an underrun (not a drain, which runs the
// buffer dry on purpose).
int PlayUntil(snd_pcm_ioplug_t* io, int64_t until) {
  PacedPcm& pcm = Self(io);
  const uint64_t written = pcm.consumed + Queued(io, pcm);
  const uint64_t due =
      pcm.stalled ? pcm.consumed
                  : pcm.run_base + FramesDue(pcm.rate, until - pcm.start_ns, io->period_size);
  const int err = Play(pcm, std::min(due, written));
  if (due <= written) return err;
  // It ran dry at the first period interrupt past the last written frame.
  const uint64_t dry_frames = ((written - pcm.run_base) / io->period_size + 1) * io->period_size;
  EndRun(pcm, pcm.start_ns + NsForFrames(dry_frames, pcm.rate));
  if (err < 0) return err;
  return io->state == SND_PCM_STATE_DRAINING ? 0 : -EPIPE;
}

enum class Event { kNone, kStall, kFail, kSuspend };

// The first failure still to come in this open that is due by `now`
// (kNone if none is), and in `at` when it happens: `after_ns` of running
// time into the open, at once in a run that starts later than that.
Event NextEvent(const PacedPcm& pcm, int64_t now, int64_t* at) {
  Event next = Event::kNone;
  *at = now;
  const auto consider = [&](const std::optional<int64_t>& after_ns, bool pending, Event event) {
    if (!after_ns || !pending) return;
    const int64_t when = pcm.start_ns + std::max<int64_t>(*after_ns - pcm.run_ns_before, 0);
    if (when <= *at) {
      *at = when;
      next = event;
    }
  };
  consider(pcm.stall_after_ns, !pcm.stalled, Event::kStall);
  consider(pcm.fail_after_ns, !pcm.failed, Event::kFail);
  consider(pcm.suspend_after_ns, !pcm.suspended_once, Event::kSuspend);
  return next;
}

// Brings the device up to `now`: plays (and records) what it has played
// since it was last looked at, and lets the failures due by then happen
// in turn. -EPIPE on an underrun, -EIO when it failed.
int Advance(snd_pcm_ioplug_t* io, int64_t now) {
  PacedPcm& pcm = Self(io);
  // Only a running or draining stream moves, not a paused one (ioplug
  // pauses without a pause callback too).
  while (pcm.running &&
         (io->state == SND_PCM_STATE_RUNNING || io->state == SND_PCM_STATE_DRAINING)) {
    int64_t until = now;
    const Event event = NextEvent(pcm, now, &until);
    const int err = PlayUntil(io, until);
    if (err < 0 || event == Event::kNone || !pcm.running) return err;
    if (event == Event::kStall) {
      // The run goes on, its position frozen. Without ticks, a poller
      // waits for room that never comes; snd_pcm_wait times out.
      pcm.stalled = true;
      SetTimer(pcm, 0, 0);
    } else if (event == Event::kFail) {
      EndRun(pcm, until);
      pcm.failed = true;
      return -EIO;
    } else {
      // The timer keeps ticking, as the kernel wakes sleepers on a suspend,
      // so that pollers learn of it.
      EndRun(pcm, until);
      pcm.suspended_once = true;
      pcm.suspended_ns = until;
      snd_pcm_ioplug_set_state(io, SND_PCM_STATE_SUSPENDED);
      return 0;
    }
  }
  return 0;
}

int Start(snd_pcm_ioplug_t* io) {
  PacedPcm& pcm = Self(io);
  pcm.start_ns = NowNs();
  pcm.run_base = pcm.consumed;
  pcm.running = true;
  if (pcm.stalled) return 0;  // wedged for good: no period interrupts
  // Rounded up: a wake-up before a whole period has played would find less
  // than avail_min free and send the writer back to sleep for a period.
  const int64_t period_ns = NsForFrames(io->period_size, pcm.rate);
  return SetTimer(pcm, period_ns, period_ns);
}

// What has played by now is recorded; what is still queued never plays.
// Then one last tick instead of silence: a writer blocked in another
// thread wakes, finds the stream stopped and returns, as the kernel wakes
// sleepers on a stop.
int Stop(snd_pcm_ioplug_t* io) {
  PacedPcm& pcm = Self(io);
  const int64_t now = NowNs();
  // Its errors are the stream's past: ioplug drops it either way.
  Advance(io, now);
  if (pcm.running) EndRun(pcm, now);
  return SetTimer(pcm, kWakeNowNs, 0);
}

snd_pcm_sframes_t Pointer(snd_pcm_ioplug_t* io) {
  PacedPcm& pcm = Self(io);
  if (pcm.failed) return -EIO;
  if (pcm.boundary == 0) return 0;  // not set up yet (snd_pcm_status may still ask)
  // Starved (-EPIPE): the timer keeps ticking so that a poller learns of it
  // (POLLERR) within a period, as a real card reports an xrun at once.
  const int err = Advance(io, NowNs());
  if (err < 0) return err;
  return static_cast<snd_pcm_sframes_t>(pcm.consumed % pcm.boundary);
}

// Keeps the frames in the ring at the positions they are written to, from
// which they are recorded when they play: frames an application takes back
// with snd_pcm_rewind are written over and never recorded.
snd_pcm_sframes_t Transfer(snd_pcm_ioplug_t* io, const snd_pcm_channel_area_t* areas,
                           snd_pcm_uframes_t offset, snd_pcm_uframes_t size) {
  PacedPcm& pcm = Self(io);
  if (pcm.failed) return -EIO;
  if (pcm.record_fd < 0) return static_cast<snd_pcm_sframes_t>(size);
  const size_t ring_frames = pcm.ring.size() / pcm.channels;
  // Areas may be interleaved or not, and from the application's buffer or
  // ioplug's mmap buffer; gathering sample by sample suits them all.
  for (snd_pcm_uframes_t frame = 0; frame < size; ++frame) {
    const size_t slot = (io->appl_ptr + frame) % ring_frames;
    for (unsigned channel = 0; channel < pcm.channels; ++channel) {
      const snd_pcm_channel_area_t& area = areas[channel];
      const size_t bit = area.first + (offset + frame) * area.step;
      std::memcpy(&pcm.ring[slot * pcm.channels + channel],
                  static_cast<const char*>(area.addr) + bit / 8, kSampleBytes);
    }
  }
  return static_cast<snd_pcm_sframes_t>(size);
}

int HwParams(snd_pcm_ioplug_t* io, snd_pcm_hw_params_t*) {
  PacedPcm& pcm = Self(io);
  if (pcm.record_fd < 0) return 0;
  try {
    pcm.ring.assign(io->buffer_size * pcm.channels, 0);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  return 0;
}

int SwParams(snd_pcm_ioplug_t* io, snd_pcm_sw_params_t* params) {
  PacedPcm& pcm = Self(io);
  snd_pcm_sw_params_get_boundary(params, &pcm.boundary);
  snd_pcm_sw_params_get_avail_min(params, &pcm.avail_min);
  return 0;
}

int Prepare(snd_pcm_ioplug_t* io) {
  PacedPcm& pcm = Self(io);
  if (pcm.failed) return -EIO;  // the device is gone: prepare brings nothing back
  // A prepare straight from RUNNING (no stop before) ends the run here.
  // ioplug has reset its pointers already, so what is queued is unknown:
  // what played since the position was last looked at goes unrecorded.
  if (pcm.running) EndRun(pcm, NowNs());
  pcm.consumed = 0;
  return DisarmTimer(pcm);
}

// alsa-lib 1.2.8's ioplug ignores what this returns (snd_pcm_resume gives
// 0) and leaves the state as this sets it, so that is what an application
// sees: SUSPENDED until resume_delay_ms has passed (writes still get
// -ESTRPIPE), then PREPARED with the queue gone, as a card without full
// resume is once snd_pcm_recover has prepared it. ioplug advances its
// hw_ptr over the dropped frames at the next look at the position, as the
// kernel's prepare does.
int Resume(snd_pcm_ioplug_t* io) {
  PacedPcm& pcm = Self(io);
  if (io->state != SND_PCM_STATE_SUSPENDED) return -EBADFD;
  if (NowNs() - pcm.suspended_ns < pcm.resume_delay_ns) return -EAGAIN;
  pcm.consumed += Queued(io, pcm);
  snd_pcm_ioplug_set_state(io, SND_PCM_STATE_PREPARED);
  return DisarmTimer(pcm);
}

// Turns timer ticks into what a card's poll reports: POLLOUT when a writer
// may go on, POLLERR after an underrun or a suspend. Outside RUNNING every
// tick counts as POLLOUT: ioplug's drain waits on this descriptor and must
// look at the position again after each period, and the tick a stop leaves
// must let a writer waiting in another thread return.
int PollRevents(snd_pcm_ioplug_t* io, pollfd* pfds, unsigned nfds, unsigned short* revents) {
  if (nfds != 1) return -EINVAL;
  const PacedPcm& pcm = Self(io);
  DrainTimer(pcm);
  *revents = static_cast<unsigned short>(pfds[0].revents & (POLLERR | POLLNVAL));
  // Called outside ioplug's lock, so the PCM API may be used here.
  const snd_pcm_sframes_t avail = snd_pcm_avail_update(io->pcm);
  if (avail < 0 || io->state == SND_PCM_STATE_SUSPENDED) {
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
  callbacks.hw_params = HwParams;
  callbacks.sw_params = SwParams;
  callbacks.prepare = Prepare;
  callbacks.resume = Resume;
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

int ParseMs(snd_config_t* node, const char* id, std::optional<int64_t>* ns) {
  unsigned ms = 0;
  const int err = ParseInteger(node, id, 0, kMaxEventMs, &ms);
  if (err == 0) *ns = ms * kNsPerMs;
  return err;
}

int ParseConfig(snd_config_t* conf, Config* config) {
  snd_config_iterator_t i;
  snd_config_iterator_t next;
  bool has_fail_opens = false;
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
    } else if (key == "stall_after_ms") {
      err = ParseMs(node, id, &config->stall_after_ns);
    } else if (key == "fail_after_ms") {
      err = ParseMs(node, id, &config->fail_after_ns);
    } else if (key == "fail_opens") {
      err = ParseInteger(node, id, 0, kMaxFailOpens, &config->fail_opens);
      has_fail_opens = true;
    } else if (key == "suspend_after_ms") {
      err = ParseMs(node, id, &config->suspend_after_ns);
    } else if (key == "resume_delay_ms") {
      err = ParseMs(node, id, &config->resume_delay_ns);
    } else if (key == "exclusive") {
      const int value = snd_config_get_bool(node);
      if (value < 0) {
        SNDERR("domian_paced: exclusive must be a boolean");
        err = -EINVAL;
      } else {
        config->exclusive = value != 0;
      }
    } else {
      SNDERR("domian_paced: unknown field %s", id);
      err = -EINVAL;
    }
    if (err < 0) return err;
  }
  // Meaningless alone: most likely a misspelt companion key.
  if (has_fail_opens && !config->fail_after_ns) {
    SNDERR("domian_paced: fail_opens needs fail_after_ms");
    return -EINVAL;
  }
  if (config->resume_delay_ns && !config->suspend_after_ns) {
    SNDERR("domian_paced: resume_delay_ms needs suspend_after_ms");
    return -EINVAL;
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

// Claims `pcm`'s key for an exclusive open; false while another holds it.
bool ClaimExclusive(PacedPcm* pcm) {
  Registry& registry = TheRegistry();
  const std::lock_guard lock(registry.mutex);
  pcm->claimed = registry.exclusive.insert(pcm->key).second;
  return pcm->claimed;
}

// Whether this open is one fail_after_ms applies to, counting it.
bool ThisOpenFails(const std::string& key, unsigned fail_opens) {
  Registry& registry = TheRegistry();
  const std::lock_guard lock(registry.mutex);
  const unsigned opens = ++registry.failing_opens[key];
  return fail_opens == 0 || opens <= fail_opens;
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
  pcm->stall_after_ns = config.stall_after_ns;
  pcm->suspend_after_ns = config.suspend_after_ns;
  pcm->resume_delay_ns = config.resume_delay_ns.value_or(0);
  // A slave defined in place may come without a name.
  pcm->key = !config.record.empty() ? config.record : name != nullptr ? name : "";
  // Whatever the mode (SND_PCM_NONBLOCK or not): see the header comment.
  if (config.exclusive && !ClaimExclusive(pcm)) {
    delete pcm;
    return -EBUSY;
  }
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
  // Counted once the open has succeeded: only those can fail later.
  if (config.fail_after_ns && ThisOpenFails(pcm->key, config.fail_opens)) {
    pcm->fail_after_ns = config.fail_after_ns;
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
