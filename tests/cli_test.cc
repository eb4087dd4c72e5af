// The command-line contracts: domiand --check-config and refusing a bad
// file, domianctl's exit status and messages when something fails.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

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
  const auto file = Write("same-port.yaml", "node:\n  id: second\n  listen: " + first.address() +
                                                "\n  state_dir: " +
                                                (dir_.path() / "second").string() + "\n");
  const auto result = RunCommand(DomiandPath(), {"--config", file.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("cannot listen on " + first.address()), std::string::npos)
      << result.err;
}

TEST_F(CliTest, DomianctlFailsClearlyWhenNobodyAnswers) {
  const std::string address = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  const auto result = RunCommand(DomianctlPath(), {"--node", address, "peers", "--json"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(result.out.empty()) << result.out;  // no half document for scripts
  EXPECT_NE(result.err.find("cannot reach domiand at " + address), std::string::npos)
      << result.err;
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
  const auto status = RunCommand(DomianctlPath(), {"--node", node.address(), "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("id:        table-node"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("lonely:    yes"), std::string::npos) << status.out;
  const auto peers = RunCommand(DomianctlPath(), {"--node", node.address(), "peers"});
  EXPECT_EQ(peers.exit_code, 0) << peers.err;
  EXPECT_NE(peers.out.find("no peers known"), std::string::npos) << peers.out;
}

}  // namespace
}  // namespace domian::testing
