// The command-line contracts: domiand --check-config and refusing a bad
// file, domianctl's exit status and messages when something fails, and
// what it shows of strings other nodes chose (escaped, never raw) and of
// messages over a size limit (the limit named).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include "core/cli/printable.h"
#include "domian/v1/domian.grpc.pb.h"
#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

// Strings a hostile or broken member is free to choose, each trying to
// take over the terminal of whoever lists it: clear the screen and move
// home, start a fake row of the table, hide text, set the window title.
constexpr char kClearScreen[] = "http=127.0.0.1:80\x1b[2J\x1b[H";
constexpr char kFakeRow[] = "dimmed\nlamp              hostile                  running       1";
constexpr char kHiddenName[] = "lamp\x1b[8m";
constexpr char kTitleTrait[] = "\x1b]0;owned\x07" "camera";
// An error a service call gets from it: escapes, a bidirectional override
// and bytes that are not UTF-8 (gRPC carries status messages as bytes).
constexpr char kCallError[] = "lamp: \x1b[2J\xe2\x80\xae\xff\xfe\nfake line";

// A member of the cluster written in the test: it answers ShareIdentityList
// at its own address as itself, as every peer does, with a certificate of
// the cluster naming it (so a node that calls it believes it, however
// strict its trust), and every string it may choose carries an escape
// sequence. Invoke fails with kCallError, or
// replies with kBigReplyBytes for the command "big".
class HostileMember final : public v1::Domain::Service {
 public:
  static constexpr size_t kBigReplyBytes = 5 << 20;  // over every node's 4 MiB

  HostileMember() : address_("127.0.0.1:" + std::to_string(FreeLoopbackPort())) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address_, TestServerCredentials("test", "hostile"));
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~HostileMember() override { server_->Shutdown(std::chrono::system_clock::now() + 2s); }

  const std::string& address() const { return address_; }
  int invokes() const { return invokes_; }
  static v1::InvokeResponse BigReply() {
    v1::InvokeResponse reply;
    reply.set_reply_json("\"" + std::string(kBigReplyBytes, 'x') + "\"");
    reply.set_node("hostile");
    return reply;
  }

  grpc::Status ShareIdentityList(grpc::ServerContext* /*context*/,
                                 const v1::ShareIdentityListRequest* /*request*/,
                                 v1::ShareIdentityListResponse* response) override {
    v1::IdentityEntry* self = response->mutable_sender();
    self->set_id("hostile");
    self->set_incarnation(1);
    self->set_heartbeat(++heartbeat_);
    self->set_revision(1);
    self->set_state(v1::PEER_STATE_ALIVE);
    v1::Identity* identity = self->mutable_identity();
    identity->set_id("hostile");
    identity->set_cluster("test");
    identity->set_version("0.1.0");
    identity->set_address(address_);
    identity->set_protocol(1);
    v1::Service* lamp = identity->mutable_service_list()->add_services();
    lamp->set_name("lamp");
    lamp->set_state("running");
    lamp->set_epoch(1);
    lamp->set_endpoint(kClearScreen);
    lamp->set_detail(kFakeRow);
    v1::Service* hidden = identity->mutable_service_list()->add_services();
    hidden->set_name(kHiddenName);
    hidden->set_state("running");
    hidden->set_epoch(1);
    // It has the plugin for "siren", which needs a trait no node has:
    // explain shows why nobody is a candidate, quoting the trait.
    v1::Offer* siren = identity->add_offers();
    siren->set_service("siren");
    siren->set_run("allow");
    siren->set_has_plugin(true);
    siren->set_placement("singleton");
    siren->add_traits(kTitleTrait);
    return grpc::Status::OK;
  }

  grpc::Status Invoke(grpc::ServerContext* /*context*/, const v1::InvokeRequest* request,
                      v1::InvokeResponse* response) override {
    ++invokes_;
    if (request->command() == "big") {
      *response = BigReply();
      return grpc::Status::OK;
    }
    return {grpc::StatusCode::ABORTED, kCallError};
  }

 private:
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<uint64_t> heartbeat_{0};
  std::atomic<int> invokes_{0};
};

// No byte of `text` is a control character other than the line ends the
// table itself writes.
::testing::AssertionResult NoRawControls(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte < 0x20 && byte != '\n') || byte == 0x7f) {
      return ::testing::AssertionFailure() << "raw byte " << int(byte) << " at " << i << " in:\n"
                                           << text;
    }
  }
  return ::testing::AssertionSuccess();
}

size_t Lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// `domianctl ARGS` at the daemon at `address`, with the access it needs
// (an operator's certificate of its cluster).
CommandResult DomianctlAt(const std::string& address, const std::vector<std::string>& args,
                          std::chrono::milliseconds deadline = 10s) {
  std::vector<std::string> all = CtlAccess(address);
  all.insert(all.end(), args.begin(), args.end());
  return RunCommand(DomianctlPath(), all, deadline);
}

// The arguments that reach a member no daemon of this process is (the
// hostile member) as an operator of cluster "test".
std::vector<std::string> AsOperatorOfTest(const std::string& address) {
  return {"--credentials", OperatorCredentials("test").string(), "--node", address};
}

class CliTest : public ::testing::Test {
 protected:
  std::filesystem::path Write(const std::string& name, const std::string& text) {
    const auto file = dir_.path() / name;
    std::ofstream(file) << text;
    return file;
  }
  TempDir dir_{"domian-cli-test"};
};

TEST_F(CliTest, CheckConfigAcceptsAValidFile) {
  const auto file = Write("good.yaml", "node:\n  id: kitchen\n  cluster: home\n");
  const auto result = RunCommand(DomiandPath(), {"--check-config", file.string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("valid"), std::string::npos) << result.out;
}

TEST_F(CliTest, CheckConfigNamesFileLineAndKey) {
  const auto file = Write("bad.yaml",
                          "node:\n"
                          "  id: kitchen\n"
                          "  clustr: home\n"
                          "membership:\n"
                          "  dead_after: soon\n");
  const auto result = RunCommand(DomiandPath(), {"--check-config", file.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find(file.string() + ":3:3: node.clustr:"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find(file.string() + ":5:3: membership.dead_after:"), std::string::npos)
      << result.err;
}

TEST_F(CliTest, DaemonRefusesToStartWithABadConfig) {
  const auto file = Write("bad.yaml", "node:\n  listen: nowhere\n");
  const auto result = RunCommand(DomiandPath(), {"--config", file.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find(file.string() + ":2:3: node.listen:"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("refusing to start"), std::string::npos) << result.err;
}

TEST_F(CliTest, DaemonRefusesAMissingConfig) {
  const auto missing = (dir_.path() / "absent.yaml").string();
  const auto result = RunCommand(DomiandPath(), {"--config", missing});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find(missing), std::string::npos) << result.err;
}

TEST_F(CliTest, DaemonReportsAPortInUse) {
  Daemon first(dir_.path(), {.id = "first"});
  first.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(first.address(), "status").has_value(); }, 20s));
  // Enrolled: a node without credentials waits for them before it
  // listens at all.
  const auto state = dir_.path() / "second";
  WriteNodeCredentials(state / "tls", "test", "second");
  const auto file = Write("same-port.yaml", "node:\n  id: second\n  cluster: test\n  listen: " +
                                                first.address() + "\n  state_dir: " +
                                                state.string() + "\n");
  const auto result = RunCommand(DomiandPath(), {"--config", file.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("cannot listen on " + first.address()), std::string::npos)
      << result.err;
}

TEST_F(CliTest, DomianctlFailsClearlyWhenNobodyAnswers) {
  const std::string address = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  // With an operator's certificate, so that it gets as far as trying.
  std::vector<std::string> args = AsOperatorOfTest(address);
  args.insert(args.end(), {"peers", "--json"});
  const auto result = RunCommand(DomianctlPath(), args);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(result.out.empty()) << result.out;  // no half document for scripts
  EXPECT_NE(result.err.find("cannot reach domiand at " + address), std::string::npos)
      << result.err;
  // Nobody listens there: no talk of certificates to send the user astray.
  EXPECT_EQ(result.err.find("certificate"), std::string::npos) << result.err;
}

TEST_F(CliTest, DomianctlRejectsUnknownCommands) {
  const auto result = RunCommand(DomianctlPath(), {"frobnicate"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("unknown command 'frobnicate'"), std::string::npos) << result.err;
}

TEST_F(CliTest, DomianctlPrintsReadableTables) {
  Daemon node(dir_.path(), {.id = "table-node"});
  node.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(node.address(), "status").has_value(); }, 20s));
  const auto status = DomianctlAt(node.address(), {"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("id:        table-node"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("lonely:    yes"), std::string::npos) << status.out;
  const auto peers = DomianctlAt(node.address(), {"peers"});
  EXPECT_EQ(peers.exit_code, 0) << peers.err;
  EXPECT_NE(peers.out.find("no peers known"), std::string::npos) << peers.out;
}

// A daemon whose only seed is a hostile member: it calls the member,
// which answers as itself, so the member's strings reach every table.
class CliHostilePeerTest : public CliTest {
 protected:
  void SetUp() override {
    node_.Start();
    ASSERT_TRUE(Eventually([&] { return PeerState(node_, "hostile") == "alive"; }, 20s))
        << node_.Log();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << node_.Log();
  }
  CommandResult Domianctl(const std::vector<std::string>& args) {
    return DomianctlAt(node_.address(), args);
  }

  HostileMember hostile_;
  // Slow to suspect: on a loaded machine the member must stay alive, or
  // its rows would leave the tables under the test's feet.
  Daemon node_{dir_.path(),
               {.id = "honest",
                .seeds = {hostile_.address()},
                .extra_yaml = "membership:\n  suspect_after: 5s\n  dead_after: 10s\n"}};
};

TEST_F(CliHostilePeerTest, ServicesShowsAPeersEndpointAndDetailEscaped) {
  const auto table = Domianctl({"services"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(NoRawControls(table.out));
  EXPECT_NE(table.out.find("http=127.0.0.1:80\\x1b[2J\\x1b[H"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("dimmed\\nlamp "), std::string::npos) << table.out;
  // One line per row: the detail's line break drew no fake row.
  const auto rows = Ctl(node_.address(), "services");
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ(Lines(table.out), rows->size() + 1) << table.out;
  // --json keeps the strings exactly as the member sent them.
  bool found = false;
  for (const auto& row : *rows) {
    if (row["name"] != "lamp" || row["node"] != "hostile") continue;
    found = true;
    EXPECT_EQ(row["endpoint"], kClearScreen);
    EXPECT_EQ(row["detail"], kFakeRow);
  }
  EXPECT_TRUE(found) << rows->dump();
}

TEST_F(CliHostilePeerTest, PeersShowsAPeersServiceNamesEscaped) {
  const auto table = Domianctl({"peers"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(NoRawControls(table.out));
  const auto peer = PeerEntry(node_, "hostile");
  ASSERT_TRUE(peer.has_value());
  // Whatever names the node keeps of the member's (a stricter node may
  // drop a row whose name is no service name), each is shown escaped.
  std::string names;
  for (const auto& name : (*peer)["services"]) {
    names += (names.empty() ? "" : ",") + name.get<std::string>();
  }
  ASSERT_FALSE(names.empty()) << peer->dump();
  EXPECT_NE(table.out.find(cli::Printable(names, cli::kMaxListChars)), std::string::npos)
      << table.out;
  if (names.find('\x1b') != std::string::npos) {
    EXPECT_NE(table.out.find("lamp\\x1b[8m"), std::string::npos) << table.out;
  }
  EXPECT_EQ(Lines(table.out), 2u) << table.out;  // the header and the member
}

TEST_F(CliHostilePeerTest, ExplainShowsAPeersTraitEscaped) {
  const auto table = Domianctl({"explain", "siren"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(NoRawControls(table.out));
  const auto json = Domianctl({"explain", "siren", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto explanation = nlohmann::json::parse(json.out);
  ASSERT_FALSE(explanation["verdicts"].empty()) << json.out;
  for (const auto& verdict : explanation["verdicts"]) {
    const std::string reason = verdict["reason"];
    EXPECT_NE(table.out.find(cli::Printable(reason, cli::kMaxMessageChars)), std::string::npos)
        << reason << " in\n" << table.out;
    if (reason.find(kTitleTrait) != std::string::npos) {
      EXPECT_NE(table.out.find("\\x1b]0;owned\\x07camera"), std::string::npos) << table.out;
    }
  }
}

TEST_F(CliHostilePeerTest, AnErrorFromTheNodeRunningACallIsShownEscaped) {
  const auto result = Domianctl({"call", "lamp", "on"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.out.empty()) << result.out;
  EXPECT_TRUE(NoRawControls(result.err));
  EXPECT_NE(result.err.find("lamp: \\x1b[2J\\u202e\\xff\\xfe\\nfake line"), std::string::npos)
      << result.err;
  EXPECT_EQ(Lines(result.err), 1u) << result.err;
  EXPECT_GE(hostile_.invokes(), 1);
}

TEST_F(CliHostilePeerTest, AReplyOverTheReceiveLimitNamesTheLimit) {
  // Straight from the member: over domianctl's own limit.
  std::vector<std::string> direct_args = AsOperatorOfTest(hostile_.address());
  direct_args.insert(direct_args.end(), {"call", "lamp", "big"});
  const auto direct = RunCommand(DomianctlPath(), direct_args, 30s);
  EXPECT_EQ(direct.exit_code, 1);
  EXPECT_NE(direct.err.find("the reply from domiand at " + hostile_.address() + " is " +
                            std::to_string(HostileMember::BigReply().ByteSizeLong()) +
                            " bytes, over the limit of 4194304 (4 MiB)"),
            std::string::npos)
      << direct.err;
  // Through the node, which forwards the call and gets the reply.
  const auto forwarded = Domianctl({"call", "lamp", "big"});
  EXPECT_EQ(forwarded.exit_code, 1);
  EXPECT_NE(forwarded.err.find("4194304"), std::string::npos) << forwarded.err;
}

TEST_F(CliHostilePeerTest, CallRefusesArgumentsOverTheLimitBeforeSending) {
  const auto file = dir_.path() / "big.json";
  std::ofstream(file) << "\"" << std::string(3 << 20, 'x') << "\"";
  const int before = hostile_.invokes();
  // One command-line argument is limited to 128 KiB: "-" reads stdin.
  const auto result = RunCommand(
      "/bin/sh", {"-c",
                  "exec \"$0\" --credentials \"$2\" --node " + hostile_.address() +
                      " call lamp on - < \"$1\"",
                  DomianctlPath(), file.string(), OperatorCredentials("test").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("the arguments are 3145730 bytes, over the limit of 1048576 (1 MiB)"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(hostile_.invokes(), before);
}

TEST_F(CliTest, DaemonRefusesArgumentsOverTheLimitNamingIt) {
  Daemon node(dir_.path(), {.id = "limits"});
  node.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(node.address(), "status").has_value(); }, 20s));
  // A client that does not check first, as any client of the protocol may
  // be (here an operator's: Invoke is an operator's call). Just over the
  // limit: well within any node's message size limit.
  auto stub = v1::Domain::NewStub(
      grpc::CreateChannel(node.address(), TestCredentials("test", "tester", "operator")));
  v1::InvokeRequest request;
  request.set_service("lamp");
  request.set_command("on");
  request.set_args_json("\"" + std::string((1 << 20) + 100, 'x') + "\"");
  v1::InvokeResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  const grpc::Status status = stub->Invoke(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "the arguments are 1048678 bytes, over the limit of 1048576 (1 MiB)");
}

// `domianctl plugins` on a node whose plugin folder holds echo-c and a
// copy of it named `file_name` (refused: the plugin calls itself echo-c,
// and the refusal quotes the file).
CommandResult PluginsTableWithAFileNamed(const std::filesystem::path& root,
                                         const std::string& file_name) {
  const auto plugins = root / "plugins";
  MakePluginFolder(plugins, DOMIAN_TEST_PLUGIN_DIR, {"echo-c"});
  std::filesystem::copy_file(plugins / "echo-c.so", plugins / file_name);
  Daemon node(root, {.id = "plugins-node",
                     .extra_yaml = "plugins:\n  dirs: [" + plugins.string() + "]\n"});
  node.Start();
  if (!Eventually([&] { return Ctl(node.address(), "status").has_value(); }, 20s)) return {};
  CommandResult table = DomianctlAt(node.address(), {"plugins"});
  // The --json document must parse too.
  if (!Ctl(node.address(), "plugins")) table.exit_code = -2;
  return table;
}

TEST_F(CliTest, PluginsShowsAFileNameEscaped) {
  // A file name that draws over the terminal.
  const CommandResult result = PluginsTableWithAFileNamed(dir_.path(), "echo\x1b[2J\x1b[H.so");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(NoRawControls(result.out));
  EXPECT_NE(result.out.find("echo\\x1b[2J\\x1b[H"), std::string::npos) << result.out;
}

// A file name that is not UTF-8 used to make the whole ListPlugins reply
// unparseable ("No message returned"): protobuf strings must be UTF-8.
TEST_F(CliTest, PluginsShowsAFileNameThatIsNotUtf8) {
  const CommandResult result = PluginsTableWithAFileNamed(dir_.path(), "echo\xff\xfe.so");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // Each bad byte arrives as U+FFFD, which the table shows as it is.
  EXPECT_NE(result.out.find("echo\xef\xbf\xbd\xef\xbf\xbd.so"), std::string::npos) << result.out;
}

// ---- --check-config: each service's settings checked by its plugin ----

// A node.yaml whose plugin folder holds the test plugins `plugins`, with
// `services` as its services: section.
std::string WithPlugins(const std::filesystem::path& root, const std::vector<std::string>& plugins,
                        const std::string& services) {
  const auto dir = root / "plugins";
  MakePluginFolder(dir, DOMIAN_TEST_PLUGIN_DIR, plugins);
  return "plugins:\n  dirs: [" + dir.string() + "]\nservices:\n" + services;
}

TEST_F(CliTest, CheckConfigAsksThePluginAndNamesLineAndKey) {
  const auto file = Write("plugin.yaml", WithPlugins(dir_.path(), {"safety-probe"},
                                                     "  safety-probe:\n"      // 4
                                                     "    config:\n"          // 5
                                                     "      level: 11\n"      // 6
                                                     "      colour: red\n"    // 7
                                                     "      sensors:\n"       // 8
                                                     "        - id: a\n"      // 9
                                                     "        - id: \"\"\n"));  // 10
  const auto result = RunCommand(DomiandPath(), {"--check-config", file.string()});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  const std::string at = file.string() + ":";
  for (const std::string& expected :
       {at + "6:7: services.safety-probe.config.level: must be a whole number from 0 to 10, not 11",
        at + "7:7: services.safety-probe.config.colour: unknown setting",
        at + "10:11: services.safety-probe.config.sensors.1.id: must be a non-empty text",
        // Missing: where its config is.
        at + "5:5: services.safety-probe.config.mode: required with level",
        file.string() + ": 4 problem(s)"}) {
    EXPECT_NE(result.err.find(expected + "\n"), std::string::npos)
        << expected << "\n" << result.err;
  }
  EXPECT_EQ(result.out.find("configuration is valid"), std::string::npos) << result.out;
}

TEST_F(CliTest, CheckConfigAcceptsWhatThePluginAccepts) {
  const auto file = Write("good-plugin.yaml",
                          WithPlugins(dir_.path(), {"safety-probe", "echo-c"},
                                      "  safety-probe:\n    config: {level: 2, mode: eco}\n"
                                      "  echo-c:\n    run: allow\n"
                                      "  elsewhere:\n    run: allow\n"));
  const auto result = RunCommand(DomiandPath(), {"--check-config", file.string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find(file.string() + ": configuration is valid"), std::string::npos)
      << result.out;
  // What was not checked is said, without failing.
  EXPECT_NE(result.out.find(file.string() + ":6:3: services.echo-c.config: not checked by its "
                                            "plugin (it offers no configuration check)"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find(file.string() + ":8:3: services.elsewhere.config: not checked: no "
                                            "plugin elsewhere.so in the plugin folders"),
            std::string::npos)
      << result.out;
}

TEST_F(CliTest, CheckConfigNotesAPluginOfAbi10WithoutFailing) {
  const std::string yaml =
      WithPlugins(dir_.path(), {}, "  abi-probe:\n    config:\n      anything: 1\n");
  const auto copy = dir_.path() / "plugins" / "abi-probe.so";
  std::filesystem::copy_file(DOMIAN_ABI_PROBE_V1_0, copy);
  std::filesystem::permissions(copy, std::filesystem::perms(0644));
  const auto file = Write("abi10.yaml", yaml);
  const auto result = RunCommand(DomiandPath(), {"--check-config", file.string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find(file.string() +
                            ":5:5: services.abi-probe.config: not checked by its plugin (ABI 1.0)"),
            std::string::npos)
      << result.out;
}

TEST_F(CliTest, CheckConfigSurvivesAPluginThatCrashesOrHangs) {
  const auto file = Write("crash.yaml", WithPlugins(dir_.path(), {"safety-probe"},
                                                    "  safety-probe:\n"
                                                    "    config:\n"
                                                    "      crash_in: validate\n"));
  const auto crashed = RunCommand(DomiandPath(), {"--check-config", file.string()});
  EXPECT_EQ(crashed.exit_code, 1);
  EXPECT_NE(crashed.err.find(file.string() + ":5:5: services.safety-probe.config: cannot be "
                                             "checked by its plugin "),
            std::string::npos)
      << crashed.err;
  EXPECT_NE(crashed.err.find("the plugin crashed (signal 6, SIGABRT, aborted) while checking "
                             "the configuration"),
            std::string::npos)
      << crashed.err;

  const auto hang = Write("hang.yaml", WithPlugins(dir_.path(), {"safety-probe"},
                                                   "  safety-probe:\n"
                                                   "    config:\n"
                                                   "      hang_in: validate\n"));
  const auto hung = RunCommand(DomiandPath(), {"--check-config", hang.string()}, 30s);
  EXPECT_EQ(hung.exit_code, 1);
  EXPECT_NE(hung.err.find("services.safety-probe.config: cannot be checked by its plugin"),
            std::string::npos)
      << hung.err;
  EXPECT_NE(hung.err.find("the plugin did not finish checking within 5000 ms (the plugin host "
                          "was killed)"),
            std::string::npos)
      << hung.err;
}

// A service that cannot start shows the plugin's reason where people look:
// `domianctl services` and `explain`.
TEST_F(CliTest, AServiceThatCannotStartShowsThePluginsReason) {
  Daemon node(dir_.path(), {.id = "reason-node",
                            .extra_yaml = WithPlugins(dir_.path(), {"safety-probe"},
                                                      "  safety-probe:\n"
                                                      "    isolation: inline\n"
                                                      "    config: {level: 12, mode: eco}\n")});
  node.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(node.address(), "status").has_value(); }, 20s))
      << node.Log();
  const std::string reason =
      "safety-probe: invalid configuration: level: must be a whole number from 0 to 10, not 12";
  ASSERT_TRUE(Eventually(
      [&] {
        const auto explained = DomianctlAt(node.address(), {"explain", "safety-probe"});
        return explained.out.find(reason) != std::string::npos;
      },
      20s))
      << DomianctlAt(node.address(), {"explain", "safety-probe"}).out << node.Log();
  const auto services = DomianctlAt(node.address(), {"services"});
  EXPECT_EQ(services.exit_code, 0) << services.err;
  EXPECT_NE(services.out.find("invalid configuration: level: must be a whole number"),
            std::string::npos)
      << services.out;
}

}  // namespace
}  // namespace domian::testing
