// A real mosquitto broker for tests: on 127.0.0.1 at a free port, with a
// generated configuration and password file (anonymous clients refused),
// and observed with mosquitto_sub/mosquitto_pub as a person would. It can
// be stopped and started again on the same port (a broker restart) and
// dies with the test process.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace domian::testing {

class MosquittoBroker {
 public:
  // The accounts in its password file: the one a bridge under test uses,
  // and the one the test's own clients use.
  static constexpr char kBridgeUser[] = "domian";
  static constexpr char kBridgePassword[] = "bridge-secret";
  static constexpr char kObserverUser[] = "observer";
  static constexpr char kObserverPassword[] = "observer-secret";

  // Writes its configuration and password file under `dir`; Start() runs it.
  // `with_tls`: a second listener, TLS only, with a certificate for
  // localhost and 127.0.0.1 from a CA of its own (ca_file()).
  explicit MosquittoBroker(const std::filesystem::path& dir, bool with_tls = false);
  ~MosquittoBroker();  // SIGKILLs it if still running
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  // Starts mosquitto and waits (up to a generous deadline) until it
  // accepts connections; throws if it does not.
  void Start();
  // SIGTERM, and waits for it to exit (SIGKILL after a deadline).
  void Stop();
  bool Running();

  uint16_t port() const { return port_; }  // plain MQTT (the observer's tools use it)
  uint16_t tls_port() const { return tls_port_; }  // 0 without TLS
  const std::filesystem::path& ca_file() const { return ca_file_; }
  std::string address() const;  // "127.0.0.1:<port>"
  // A file holding kBridgePassword, mode 0600, for mqtt.password_file.
  const std::filesystem::path& bridge_password_file() const { return bridge_password_file_; }

  // The first message on `topic` (the retained one, if any) as the
  // observer account receives it, or nullopt when none comes within
  // `wait`. Runs mosquitto_sub -C 1 -W.
  std::optional<std::string> Receive(const std::string& topic,
                                     std::chrono::seconds wait = std::chrono::seconds(2)) const;
  // Publishes as the observer (mosquitto_pub, QoS 1); the payload from a
  // file, so it may be of any size. True when mosquitto_pub succeeded.
  bool Publish(const std::string& topic, const std::string& payload, bool retain = false) const;

  // A self-signed CA (certificate `name`.pem, key `name`.key in `dir`)
  // with openssl(1); its certificate's path.
  static std::filesystem::path MakeCa(const std::filesystem::path& dir, const std::string& name);

  // Everything the broker logged in every life.
  std::string Log() const;

 private:
  std::filesystem::path dir_;
  std::filesystem::path config_;
  std::filesystem::path log_;
  std::filesystem::path bridge_password_file_;
  uint16_t port_;
  uint16_t tls_port_ = 0;
  std::filesystem::path ca_file_;
  struct Process;
  std::unique_ptr<Process> process_;
};

}  // namespace domian::testing
