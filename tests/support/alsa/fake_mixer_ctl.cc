// A sound card's mixer controls, for tests on machines that have none: an
// ALSA external control plugin (ctl_external) whose elements look to the
// simple-mixer layer (snd_mixer_selem_*) like a real card's:
//
//   "Master Playback Volume"   2 channels, 0..87, dB scale -65.25 dB in
//                              0.75 dB steps (an HDA codec's DB_SCALE TLV)
//   "Master Playback Switch"   2 channels, boolean
//   "Digital Playback Volume"  2 channels, 0..255, no dB information and no
//                              switch beside it
//   "Mic Capture Volume"       1 channel, 0..31 (no playback side at all)
//   "PCM Playback Volume"      2 channels, 0..96, dB scale -24.00 dB in
//                              0.25 dB steps (a span of 24 dB, which mixers
//                              show linearly), no switch
//   "Headphone Playback Volume" 2 channels, 0..63, dB scale -63.00 dB in
//                              1.00 dB steps whose minimum is mute (TLV mute
//                              flag, as on many HDA codecs)
//   "Headphone Playback Switch" 2 channels, boolean
//
// so the selems "Master", "Digital" and "Mic" cover a volume with dB and
// mute, one with raw steps only, and one that cannot play; "PCM" a small dB
// span with no switch, and "Headphone" a dB scale whose lowest step reads
// as SND_CTL_TLV_DB_GAIN_MUTE (alsa-lib reports that as the minimum of its
// dB range and as the dB of raw 0) beside a switch.
//
// The values live in a text file, one line per control,
// `<control name>=<v0>[,<v1>]`, read when the control is opened and
// rewritten atomically on every change, so they outlive the handle (a
// mixer opened anew per call sees what the last one set) and tests can
// read and preset them. Each handle keeps what it read at open, so of two
// handles open at once the later writer wins. A missing file, or a control
// it leaves out, means the card's power-on values: Master 60,60, switch
// 1,1, Digital 200,200, Mic 20, PCM 96,96 (0 dB), Headphone 40,40 (-23 dB),
// its switch 1,1. A malformed file fails the open with -EINVAL.
//
//   ctl_type.domian_mixer { lib "/abs/path/libasound_module_ctl_domian_mixer.so" }
//   ctl.domian_test_mixer { type domian_mixer state "/abs/path/mixer.state" }
//
// No change events: the poll descriptor never becomes readable.

// alsa-lib's headers declare a plugin's versioned entry symbol for dlsym
// only when PIC is defined (as libtool does for alsa-plugins); without it
// they expect a static build and reference the library-internal
// snd_dlsym_start, which no shared libasound exports.
#define PIC 1

#include <alsa/asoundlib.h>
#include <alsa/control_external.h>
#include <alsa/sound/tlv.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace {

constexpr unsigned kMaxChannels = 2;
using Values = std::array<long, kMaxChannels>;
using DbScale = std::array<unsigned, 4>;

// SNDRV_CTL_TLVD_DB_SCALE_ITEM(min, step, mute), min and step in 0.01 dB.
constexpr DbScale MakeDbScale(int min_centi_db, unsigned step_centi_db, bool mute) {
  return {SND_CTL_TLVT_DB_SCALE, 2 * sizeof(unsigned), static_cast<unsigned>(min_centi_db),
          step_centi_db | (mute ? SNDRV_CTL_TLVD_DB_SCALE_MUTE : 0U)};
}

// -65.25 dB at raw 0, 0.75 dB a step, so raw 87 is 0 dB; raw 0 is not
// muted.
constexpr int kMasterMinCentiDb = -6525;
constexpr unsigned kMasterStepCentiDb = 75;
constexpr DbScale kMasterDbScale = MakeDbScale(kMasterMinCentiDb, kMasterStepCentiDb, false);
// -24 dB at raw 0, 0.25 dB a step, so raw 96 is 0 dB.
constexpr int kPcmMinCentiDb = -2400;
constexpr unsigned kPcmStepCentiDb = 25;
constexpr DbScale kPcmDbScale = MakeDbScale(kPcmMinCentiDb, kPcmStepCentiDb, false);
// -63 dB at raw 0, which the mute flag makes silence instead, 1 dB a
// step, so raw 1 is -62 dB and raw 63 is 0 dB.
constexpr int kHeadphoneMinCentiDb = -6300;
constexpr unsigned kHeadphoneStepCentiDb = 100;
constexpr DbScale kHeadphoneDbScale =
    MakeDbScale(kHeadphoneMinCentiDb, kHeadphoneStepCentiDb, true);

struct Control {
  const char* name;
  snd_ctl_elem_type_t type;
  unsigned channels;
  long min;
  long max;
  Values initial;
  const DbScale* db_scale;  // its TLV, if it has one
};

// Indexes into kControls double as the plugin's element keys, so new
// controls go at the end.
constexpr std::array<Control, 7> kControls = {{
    {"Master Playback Volume", SND_CTL_ELEM_TYPE_INTEGER, 2, 0, 87, {60, 60}, &kMasterDbScale},
    {"Master Playback Switch", SND_CTL_ELEM_TYPE_BOOLEAN, 2, 0, 1, {1, 1}, nullptr},
    {"Digital Playback Volume", SND_CTL_ELEM_TYPE_INTEGER, 2, 0, 255, {200, 200}, nullptr},
    {"Mic Capture Volume", SND_CTL_ELEM_TYPE_INTEGER, 1, 0, 31, {20, 0}, nullptr},
    {"PCM Playback Volume", SND_CTL_ELEM_TYPE_INTEGER, 2, 0, 96, {96, 96}, &kPcmDbScale},
    {"Headphone Playback Volume", SND_CTL_ELEM_TYPE_INTEGER, 2, 0, 63, {40, 40},
     &kHeadphoneDbScale},
    {"Headphone Playback Switch", SND_CTL_ELEM_TYPE_BOOLEAN, 2, 0, 1, {1, 1}, nullptr},
}};
using State = std::array<Values, kControls.size()>;

// Card identity; id and driver have 16 bytes, so the short forms.
constexpr const char* kCardId = "DomianTest";
constexpr const char* kCardName = "Domian Test Mixer";
constexpr const char* kCardLongName = "Domian Test Mixer (ALSA control stand-in)";
constexpr int kNoCardIndex = -1;  // not a kernel card: nothing to open as hw:N
constexpr mode_t kStateFileMode = 0644;

struct FakeMixer {
  snd_ctl_ext_t ext{};
  std::string state_path;
  State values{};
  int event_fd = -1;

  ~FakeMixer() {
    if (event_fd >= 0) close(event_fd);
  }
};

FakeMixer& Self(snd_ctl_ext_t* ext) { return *static_cast<FakeMixer*>(ext->private_data); }

State InitialState() {
  State state{};
  for (size_t i = 0; i < kControls.size(); ++i) state[i] = kControls[i].initial;
  return state;
}

std::string StateText(const State& state) {
  std::string text;
  for (size_t i = 0; i < kControls.size(); ++i) {
    text += kControls[i].name;
    for (unsigned channel = 0; channel < kControls[i].channels; ++channel) {
      text += channel == 0 ? '=' : ',';
      text += std::to_string(state[i][channel]);
    }
    text += '\n';
  }
  return text;
}

// One `<name>=<v0>[,<v1>]` line into `state`; false when it names no
// control or its values do not fit that control.
bool ParseLine(std::string_view line, State* state) {
  const size_t equals = line.find('=');
  if (equals == std::string_view::npos) return false;
  const std::string_view name = line.substr(0, equals);
  for (size_t i = 0; i < kControls.size(); ++i) {
    const Control& control = kControls[i];
    if (name != control.name) continue;
    Values values{};
    const char* at = line.data() + equals + 1;
    const char* end = line.data() + line.size();
    for (unsigned channel = 0; channel < control.channels; ++channel) {
      if (channel > 0) {
        if (at == end || *at != ',') return false;
        ++at;
      }
      const auto [next, error] = std::from_chars(at, end, values[channel]);
      if (error != std::errc() || values[channel] < control.min || values[channel] > control.max) {
        return false;
      }
      at = next;
    }
    if (at != end) return false;
    (*state)[i] = values;
    return true;
  }
  return false;
}

int LoadState(const std::string& path, State* state) {
  *state = InitialState();
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    const int err = -errno;
    SNDERR("domian_mixer: cannot read %s: %s", path.c_str(), std::strerror(errno));
    return err;
  }
  std::string text;
  char chunk[4096];
  ssize_t n = 0;
  while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(chunk, static_cast<size_t>(n));
  }
  const int read_errno = errno;
  close(fd);
  if (n < 0) {
    SNDERR("domian_mixer: cannot read %s: %s", path.c_str(), std::strerror(read_errno));
    return -read_errno;
  }
  size_t line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    ++line_number;
    if (!line.empty() && !ParseLine(line, state)) {
      SNDERR("domian_mixer: %s:%zu: not `<control name>=<values>` for a known control",
             path.c_str(), line_number);
      return -EINVAL;
    }
    start = end + 1;
  }
  return 0;
}

// Written beside the state file and renamed over it, so that a reader
// never sees half a file.
int SaveState(const std::string& path, const State& state) {
  std::string temp = path + ".XXXXXX";
  const int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    const int err = -errno;
    SNDERR("domian_mixer: cannot create %s: %s", temp.c_str(), std::strerror(errno));
    return err;
  }
  const std::string text = StateText(state);
  const char* data = text.data();
  size_t left = text.size();
  int err = 0;
  // mkostemp creates it private; the state is meant to be read by tests.
  if (fchmod(fd, kStateFileMode) < 0) err = -errno;
  while (err == 0 && left > 0) {
    const ssize_t n = write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = -errno;
      break;
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (close(fd) < 0 && err == 0) err = -errno;
  if (err == 0 && rename(temp.c_str(), path.c_str()) < 0) err = -errno;
  if (err < 0) {
    SNDERR("domian_mixer: cannot write %s: %s", path.c_str(), std::strerror(-err));
    unlink(temp.c_str());
  }
  return err;
}

void Close(snd_ctl_ext_t* ext) { delete &Self(ext); }

int ElemCount(snd_ctl_ext_t*) { return static_cast<int>(kControls.size()); }

// Also asked for any numid an application names, so `offset` may be past
// the end.
int ElemList(snd_ctl_ext_t*, unsigned offset, snd_ctl_elem_id_t* id) {
  if (offset >= kControls.size()) return -EINVAL;
  snd_ctl_elem_id_set_interface(id, SND_CTL_ELEM_IFACE_MIXER);
  snd_ctl_elem_id_set_name(id, kControls[offset].name);
  return 0;
}

snd_ctl_ext_key_t FindElem(snd_ctl_ext_t*, const snd_ctl_elem_id_t* id) {
  if (snd_ctl_elem_id_get_interface(id) == SND_CTL_ELEM_IFACE_MIXER &&
      snd_ctl_elem_id_get_index(id) == 0) {
    const std::string_view name = snd_ctl_elem_id_get_name(id);
    for (size_t i = 0; i < kControls.size(); ++i) {
      if (name == kControls[i].name) return i;
    }
  }
  return SND_CTL_EXT_KEY_NOT_FOUND;
}

// Keys reach the callbacks below only as FindElem returned them.
int GetAttribute(snd_ctl_ext_t*, snd_ctl_ext_key_t key, int* type, unsigned* access,
                 unsigned* count) {
  const Control& control = kControls[key];
  *type = control.type;
  *access = SND_CTL_EXT_ACCESS_READWRITE;
  // TLV_CALLBACK routes TLV reads to ext->tlv.c with this key, so one
  // handler serves every element; only those flagged TLV_READ get there.
  if (control.db_scale != nullptr) {
    *access |= SND_CTL_EXT_ACCESS_TLV_READ | SND_CTL_EXT_ACCESS_TLV_CALLBACK;
  }
  *count = control.channels;
  return 0;
}

int GetIntegerInfo(snd_ctl_ext_t*, snd_ctl_ext_key_t key, long* min, long* max, long* step) {
  const Control& control = kControls[key];
  *min = control.min;
  *max = control.max;
  *step = 0;  // as the kernel reports it: any value in range
  return 0;
}

int ReadInteger(snd_ctl_ext_t* ext, snd_ctl_ext_key_t key, long* value) {
  const Values& values = Self(ext).values[key];
  for (unsigned channel = 0; channel < kControls[key].channels; ++channel) {
    value[channel] = values[channel];
  }
  return 0;
}

// 1 when the value changed, 0 when it did not, as a kernel control's put.
int WriteInteger(snd_ctl_ext_t* ext, snd_ctl_ext_key_t key, long* value) {
  const Control& control = kControls[key];
  FakeMixer& mixer = Self(ext);
  State next = mixer.values;
  for (unsigned channel = 0; channel < control.channels; ++channel) {
    if (value[channel] < control.min || value[channel] > control.max) return -EINVAL;
    next[key][channel] = value[channel];
  }
  if (next == mixer.values) return 0;
  const int err = SaveState(mixer.state_path, next);
  if (err < 0) return err;
  mixer.values = next;
  return 1;
}

int ReadEvent(snd_ctl_ext_t*, snd_ctl_elem_id_t*, unsigned*) { return -EAGAIN; }

// Only controls with a dB scale claim TLV access, and for reading only, so
// that is all that comes here.
int ReadTlv(snd_ctl_ext_t*, snd_ctl_ext_key_t key, int, unsigned, unsigned* tlv,
            unsigned tlv_size) {
  const DbScale& scale = *kControls[key].db_scale;
  if (tlv_size < sizeof scale) return -ENOMEM;
  std::memcpy(tlv, scale.data(), sizeof scale);
  return 0;
}

// Filled member by member: designated initialisers would leave the unused
// callbacks to -Wmissing-field-initializers.
constexpr snd_ctl_ext_callback_t MakeCallbacks() {
  snd_ctl_ext_callback_t callbacks{};
  callbacks.close = Close;
  callbacks.elem_count = ElemCount;
  callbacks.elem_list = ElemList;
  callbacks.find_elem = FindElem;
  callbacks.get_attribute = GetAttribute;
  callbacks.get_integer_info = GetIntegerInfo;
  callbacks.read_integer = ReadInteger;
  callbacks.write_integer = WriteInteger;
  callbacks.read_event = ReadEvent;
  return callbacks;
}

constexpr snd_ctl_ext_callback_t kCallbacks = MakeCallbacks();

int ParseConfig(snd_config_t* conf, std::string* state_path) {
  snd_config_iterator_t i;
  snd_config_iterator_t next;
  snd_config_for_each(i, next, conf) {
    snd_config_t* node = snd_config_iterator_entry(i);
    const char* id = nullptr;
    if (snd_config_get_id(node, &id) < 0) continue;
    const std::string_view key = id;
    if (key == "comment" || key == "type" || key == "hint") continue;
    if (key == "state") {
      const char* path = nullptr;
      if (snd_config_get_string(node, &path) < 0 || *path == '\0') {
        SNDERR("domian_mixer: state must be a file path");
        return -EINVAL;
      }
      *state_path = path;
      continue;
    }
    SNDERR("domian_mixer: unknown field %s", id);
    return -EINVAL;
  }
  if (state_path->empty()) {
    SNDERR("domian_mixer: a state file is required");
    return -EINVAL;
  }
  return 0;
}

template <size_t N>
void SetText(char (&field)[N], const char* text) {
  std::snprintf(field, N, "%s", text);
}

int Open(snd_ctl_t** handlep, const char* name, snd_config_t* conf, int mode) {
  std::string state_path;
  int err = ParseConfig(conf, &state_path);
  if (err < 0) return err;
  State values{};
  err = LoadState(state_path, &values);
  if (err < 0) return err;

  auto* mixer = new (std::nothrow) FakeMixer;
  if (mixer == nullptr) return -ENOMEM;
  mixer->state_path = std::move(state_path);
  mixer->values = values;
  // Valid for poll() but never readable: this card sends no events.
  mixer->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (mixer->event_fd < 0) {
    err = -errno;
    delete mixer;
    return err;
  }

  snd_ctl_ext_t& ext = mixer->ext;
  ext.version = SND_CTL_EXT_VERSION;  // 1.0.1: the first with TLV
  ext.card_idx = kNoCardIndex;
  SetText(ext.id, kCardId);
  SetText(ext.driver, kCardId);
  SetText(ext.name, kCardName);
  SetText(ext.longname, kCardLongName);
  SetText(ext.mixername, kCardName);
  ext.poll_fd = mixer->event_fd;
  ext.callback = &kCallbacks;
  ext.private_data = mixer;
  ext.tlv.c = ReadTlv;
  err = snd_ctl_ext_create(&ext, name, mode);
  if (err < 0) {
    delete mixer;  // not handed over: create calls no close on failure
    return err;
  }
  *handlep = ext.handle;
  return 0;
}

}  // namespace

// The entry point and its version tag are looked up by name with dlsym, so
// they stay visible when the build hides symbols by default.
extern "C" {
#pragma GCC visibility push(default)

SND_CTL_PLUGIN_DEFINE_FUNC(domian_mixer) {
  static_cast<void>(root);
  return Open(handlep, name, conf, mode);
}

SND_CTL_PLUGIN_SYMBOL(domian_mixer)

#pragma GCC visibility pop
}
