// A cluster only its own nodes and operators can talk to: real daemons
// over mutual TLS, attacked as a stranger on the LAN would (no
// certificate, another CA's, a removed node's, a node's certificate used
// for an operator's call, a fake member during join), and enrolled the
// way people do it (domianctl cluster init, invite, join, node remove).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/common/files.h"
#include "core/rpc/transport_security.h"
#include "core/trust/credentials.h"
#include "core/trust/join_code.h"
#include "core/trust/pki.h"
#include "domian/v1/domian.grpc.pb.h"
#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kTestPlugins = DOMIAN_TEST_PLUGIN_DIR;
constexpr auto kSettle = 20s;
// The issue's bound for a removal to hold on every member.
constexpr auto kRemovalSpread = 5s;

grpc::Status CallStatus(const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                        const std::string& address, v1::GetStatusResponse* response = nullptr) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = v1::Domain::NewStub(grpc::CreateCustomChannel(address, credentials, args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::GetStatusResponse ignored;
  return stub->GetStatus(&context, v1::GetStatusRequest(), response ? response : &ignored);
}

grpc::Status CallInvoke(const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                        const std::string& address, uint32_t hops = 0) {
  auto stub = v1::Domain::NewStub(grpc::CreateChannel(address, credentials));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::InvokeRequest request;
  request.set_service("echo-c");
  request.set_command("echo");
  request.set_args_json("{}");
  request.set_hops(hops);
  v1::InvokeResponse response;
  return stub->Invoke(&context, request, &response);
}

// TLS that checks the server against the test CA but shows no
// certificate of its own.
std::shared_ptr<grpc::ChannelCredentials> NoClientCertificate() {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(TestCaCert()));
  options.watch_root_certs();
  options.set_verify_server_certs(true);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

// A joiner's card for `invite_id` (trust/pki.h), shown to a server checked
// against the CA of `ca_fingerprint` (the test CA's when empty); `key` is
// the card's.
std::shared_ptr<grpc::ChannelCredentials> ShowCard(const std::string& invite_id,
                                                   const std::string& key,
                                                   std::string ca_fingerprint = "") {
  if (ca_fingerprint.empty()) ca_fingerprint = *trust::Fingerprint(TestCaCert());
  const absl::StatusOr<std::string> card = trust::NewInviteCard(key, invite_id);
  EXPECT_TRUE(card.ok()) << card.status();
  return *rpc::PinnedCredentials(
      {.fingerprint = ca_fingerprint, .cluster = "test", .key_pem = key, .card_pem = *card});
}

// Credentials of a CA nobody in the cluster trusts, naming a node of it.
struct Stranger {
  trust::Authority authority = *trust::NewAuthority("test");
  trust::Credentials Node(const std::string& id, const std::string& cluster = "test") const {
    const trust::Subject subject{cluster, trust::Role::kNode, id};
    const std::string key = *trust::NewPrivateKey();
    return {.self = subject,
            .roots_pem = authority.cert_pem,
            .cert_pem = *trust::Issue(authority, *trust::NewCsr(key, subject), subject),
            .key_pem = key,
            .authority = authority};
  }
};

std::shared_ptr<grpc::ChannelCredentials> AcceptAnyNode(const trust::Credentials& credentials) {
  return rpc::ClientCredentials(credentials, [](const trust::Subject&) { return absl::OkStatus(); });
}

// Shows `credentials`' certificate to a server it checks against the test
// CA (the cluster's): a stranger that reaches the server, and is refused
// by it.
std::shared_ptr<grpc::ChannelCredentials> PresentTo(trust::Credentials credentials) {
  credentials.roots_pem = TestCaCert();
  return AcceptAnyNode(credentials);
}

// The certificate the server at `address` presents on a fresh
// connection, checked the way an operator of the old (test) CA checks it:
// during a change of CA only the cross certificate the member presents
// leads to that CA. Empty when the call fails.
std::string PresentedCertificate(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = v1::Domain::NewStub(
      grpc::CreateCustomChannel(address, TestCredentials("test", "prober", "operator"), args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::GetStatusResponse response;
  if (!stub->GetStatus(&context, v1::GetStatusRequest(), &response).ok()) return "";
  const auto pem = context.auth_context()->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  return pem.empty() ? "" : std::string(pem.front().data(), pem.front().size());
}

// True when `leaf_pem` is a certificate of the CA `ca_pem`.
bool IsOf(const std::string& leaf_pem, const std::string& ca_pem) {
  return !leaf_pem.empty() && (*trust::RootSet::Parse(ca_pem))->Verify(leaf_pem, "test").ok();
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LeaveSegvToTheKernel();
    MakePluginFolder(plugin_dir_, kTestPlugins, {"echo-c"});
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (Daemon* daemon : daemons_) std::cerr << "---- " << daemon->id() << " ----\n" << daemon->Log();
  }

  Daemon& Add(Daemon::Options options) {
    if (options.extra_yaml.empty()) {
      options.extra_yaml = "plugins:\n  dirs: [" + plugin_dir_.string() +
                           "]\nservices:\n  echo-c: {run: prefer}\n";
    }
    options.traits = {"test"};
    owned_.push_back(std::make_unique<Daemon>(dir_.path(), std::move(options)));
    daemons_.push_back(owned_.back().get());
    return *owned_.back();
  }

  // domianctl over a daemon's control socket: no certificate, as root on
  // the node.
  CommandResult Local(const Daemon& daemon, std::vector<std::string> args,
                      const std::optional<std::string>& input = std::nullopt) {
    args.insert(args.begin(), {"--node", "unix:" + daemon.control_socket().string()});
    return RunCommandWithInput(DomianctlPath(), args, input, 30s);
  }

  std::string Invite(const Daemon& daemon, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"cluster", "invite", "--ttl", "10m"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult invited = Local(daemon, args);
    EXPECT_EQ(invited.exit_code, 0) << invited.err;
    std::string code = invited.out;
    while (!code.empty() && (code.back() == '\n' || code.back() == ' ')) code.pop_back();
    return code;
  }

  CommandResult Join(const Daemon& joiner, const std::string& code,
                     const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"cluster", "join", "--config", joiner.config_path().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCommandWithInput(DomianctlPath(), args, code + "\n", 60s);
  }

  TempDir dir_{"domian-security"};
  std::filesystem::path plugin_dir_ = dir_.path() / "plugins";
  std::vector<std::unique_ptr<Daemon>> owned_;
  std::vector<Daemon*> daemons_;
};

TEST_F(SecurityTest, StrangersAreRefusedWithAClearStatusAndNothingChanges) {
  Daemon& a = Add({.id = "a"});
  a.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(a.address(), "status").has_value(); }, kSettle));
  ASSERT_TRUE(Eventually(
      [&] {
        const auto services = Ctl(a.address(), "services");
        return services && services->dump().find("running") != std::string::npos;
      },
      kSettle));

  // No certificate: the TLS door lets it nowhere near gRPC.
  grpc::Status status = CallStatus(NoClientCertificate(), a.address());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  status = CallInvoke(NoClientCertificate(), a.address());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();

  // Another CA's certificate, naming a node of this very cluster: the
  // door says why in the log.
  const Stranger stranger;
  status = CallInvoke(PresentTo(stranger.Node("a2")), a.address());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_TRUE(Eventually(
      [&] { return a.Log().find("in the TLS handshake; the last: the certificate is not signed by "
                                "cluster test's CA") != std::string::npos; },
      kSettle))
      << a.Log();
  // domianctl with another CA's operator certificate says what to check.
  {
    const TempDir elsewhere{"domian-stranger"};
    trust::Credentials operator_credentials = stranger.Node("mallory");
    operator_credentials.self.role = trust::Role::kOperator;
    const trust::Subject subject{"test", trust::Role::kOperator, "mallory"};
    const std::string key = *trust::NewPrivateKey();
    operator_credentials.cert_pem =
        *trust::Issue(stranger.authority, *trust::NewCsr(key, subject), subject);
    operator_credentials.key_pem = key;
    operator_credentials.self = subject;
    operator_credentials.authority.reset();
    ASSERT_TRUE(trust::SaveCredentials(elsewhere.path() / "creds", operator_credentials).ok());
    const CommandResult refused = RunCommand(
        DomianctlPath(),
        {"--node", a.address(), "--credentials", (elsewhere.path() / "creds").string(), "status"},
        30s);
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_THAT(refused.err, HasSubstr("certificate is not of its cluster")) << refused.err;
  }

  // A joiner's card naming no invitation the node knows (a guessed id).
  status = CallStatus(ShowCard(trust::NewInviteId(), *trust::NewPrivateKey()), a.address());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();

  // Plaintext to a TLS port never gets an answer at all.
  status = CallStatus(grpc::InsecureChannelCredentials(), a.address());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();

  // A node's certificate of this cluster, for an operator's calls.
  const auto node = TestCredentials("test", "b");
  status = CallInvoke(node, a.address());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("node b may not call Invoke"));
  {
    auto stub = v1::Domain::NewStub(grpc::CreateChannel(a.address(), node));
    grpc::ClientContext context;
    v1::CreateInviteRequest request;
    request.set_role("node");
    v1::CreateInviteResponse response;
    status = stub->CreateInvite(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
    grpc::ClientContext remove_context;
    v1::RemoveRequest remove;
    remove.set_role("node");
    remove.set_name("a");
    v1::RemoveResponse removed;
    status = stub->Remove(&remove_context, remove, &removed);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  }
  // An operator's certificate cannot speak between nodes.
  {
    auto stub = v1::Domain::NewStub(
        grpc::CreateChannel(a.address(), TestCredentials("test", "b", "operator")));
    grpc::ClientContext context;
    v1::ShareIdentityListRequest request;
    request.mutable_sender()->set_id("b");
    v1::ShareIdentityListResponse response;
    status = stub->ShareIdentityList(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  }
  // A node's certificate speaking for another node.
  {
    auto stub = v1::Domain::NewStub(grpc::CreateChannel(a.address(), node));
    grpc::ClientContext context;
    v1::ShareIdentityListRequest request;
    request.mutable_sender()->set_id("c");
    v1::ShareIdentityListResponse response;
    status = stub->ShareIdentityList(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("may not speak for node c"));
  }
  // Copies of states: a node sends only its own changes and never asks
  // one node to ask every other; an operator sends none.
  {
    auto stub = v1::Domain::NewStub(grpc::CreateChannel(a.address(), node));
    v1::PutStateRequest put;
    v1::StateCopy& copy = *put.mutable_copy();
    copy.set_service("echo-c");
    copy.set_epoch(1);
    copy.set_seq(1);
    copy.set_hlc_ms(1);
    copy.set_writer("c");
    copy.set_state("forged");
    v1::PutStateResponse put_response;
    grpc::ClientContext put_context;
    status = stub->PutState(&put_context, put, &put_response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("may not speak for node c"));

    v1::GetStateRequest every;
    every.set_service("echo-c");
    every.set_every_node(true);
    v1::GetStateResponse got;
    grpc::ClientContext get_context;
    status = stub->GetState(&get_context, every, &got);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();

    auto as_operator = v1::Domain::NewStub(
        grpc::CreateChannel(a.address(), TestCredentials("test", "b", "operator")));
    copy.set_writer("b");
    grpc::ClientContext operator_context;
    status = as_operator->PutState(&operator_context, put, &put_response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  }

  // Nothing changed: no peer was learned, no invitation made, nothing
  // removed.
  const auto after = Ctl(a.address(), "status");
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)["security"]["transport"], "mtls");
  EXPECT_EQ((*after)["security"]["open_invites"], 0);
  EXPECT_EQ((*after)["security"]["revoked"], 0);
  std::vector<std::string> state_args = CtlAccess(a.address());
  state_args.insert(state_args.end(), {"services", "echo-c", "--state", "--json"});
  const CommandResult copies = RunCommand(DomianctlPath(), state_args);
  EXPECT_EQ(copies.exit_code, 0) << copies.err;
  EXPECT_THAT(copies.out, ::testing::Not(HasSubstr("\"writer\":\"c\""))) << "a forged copy was kept";
  const auto peers = Ctl(a.address(), "peers");
  ASSERT_TRUE(peers);
  EXPECT_TRUE(peers->empty()) << peers->dump();

  // The operator's certificate does what the node's could not.
  const CommandResult call = CallService(a, "echo-c", "echo", R"({"x":1})");
  EXPECT_EQ(call.exit_code, 0) << call.err;
}

TEST_F(SecurityTest, InitInviteJoinThenTheCodeIsSpentAndAGuesserIsRateLimited) {
  Daemon& a = Add({.id = "a", .enrolled = false});
  Daemon& b = Add({.id = "b", .seeds = {a.address()}, .enrolled = false});
  a.Start();
  b.Start();
  // Not enrolled: up, waiting, refusing.
  ASSERT_TRUE(Eventually([&] { return a.Log().find("refuses all calls") != std::string::npos; },
                         kSettle))
      << a.Log();
  EXPECT_FALSE(Ctl(a.address(), "status"));

  const CommandResult init = RunCommand(
      DomianctlPath(), {"cluster", "init", "--config", a.config_path().string()}, 30s);
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_THAT(init.out, HasSubstr("made cluster 'test'"));
  ASSERT_TRUE(Eventually([&] { return Local(a, {"status", "--json"}).exit_code == 0; }, kSettle))
      << a.Log();
  const CommandResult twice = RunCommand(
      DomianctlPath(), {"cluster", "init", "--config", a.config_path().string()}, 30s);
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_THAT(twice.err, HasSubstr("already belongs to a cluster"));

  const std::string code = Invite(a);
  ASSERT_THAT(code, HasSubstr("dj1-"));
  const CommandResult joined = Join(b, code);
  ASSERT_EQ(joined.exit_code, 0) << joined.err;
  EXPECT_THAT(joined.out, HasSubstr("joined as node b of cluster test"));
  // The key stayed here and is not world-readable; the secret is nowhere
  // in the log.
  const auto key = b.state_dir() / "tls" / "key.pem";
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  const trust::JoinCode parsed = *trust::ParseJoinCode(code);
  EXPECT_EQ(a.Log().find(trust::Base32Encode(parsed.secret)), std::string::npos);

  ASSERT_TRUE(Eventually(
      [&] { return PeerState(a, "b") == "alive" && PeerState(b, "a") == "alive"; }, kSettle))
      << b.Log();

  // The code is spent, on every member.
  Daemon& c = Add({.id = "c", .enrolled = false});
  const CommandResult again = Join(c, code);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.err, HasSubstr("already used"));
  EXPECT_FALSE(std::filesystem::exists(c.state_dir() / "tls"));

  // A known invitation's card lets a connection in for Join and nothing
  // else; and Join certifies the card's key only.
  const std::string fresh = Invite(a);
  const trust::JoinCode fresh_code = *trust::ParseJoinCode(fresh);
  {
    const std::string card_key = *trust::NewPrivateKey();
    const auto card = ShowCard(fresh_code.id, card_key, fresh_code.fingerprint);
    grpc::Status status = CallInvoke(card, a.address());
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("needs a client certificate"));
    auto stub = v1::Domain::NewStub(grpc::CreateChannel(a.address(), card));
    grpc::ClientContext context;
    v1::JoinRequest request;
    request.set_invite_id(fresh_code.id);
    request.set_secret(fresh_code.secret);
    request.set_name("c");
    const trust::Subject asked{"test", trust::Role::kNode, "c"};
    request.set_csr_pem(*trust::NewCsr(*trust::NewPrivateKey(), asked));
    v1::JoinResponse response;
    status = stub->Join(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("another key"));
  }

  // Guessing ids: a card naming an unknown invitation is turned away at
  // the TLS door, then, for a while, every unknown one is.
  trust::JoinCode guess = parsed;
  std::string last_error;
  for (int attempt = 0; attempt < trust::kFailedRedeemBurst + 2; ++attempt) {
    guess.id = trust::NewInviteId();
    guess.secret = trust::RandomBytes(trust::kSecretBytes);
    const CommandResult guessed = Join(c, trust::FormatJoinCode(guess), {"--via", a.address()});
    EXPECT_NE(guessed.exit_code, 0);
    last_error = guessed.err;
  }
  EXPECT_THAT(last_error, HasSubstr("does not know the invitation"));
  // Guessing the secret of a known one: the bucket is empty, so even the
  // right code is refused while the limit holds.
  const CommandResult limited = Join(c, fresh, {"--via", a.address()});
  EXPECT_NE(limited.exit_code, 0) << "a right code is refused too while the limit holds";
  EXPECT_THAT(limited.err, HasSubstr("too many failed join attempts"));
  EXPECT_FALSE(std::filesystem::exists(c.state_dir() / "tls"));
}

TEST_F(SecurityTest, AJoinerRefusesAMemberOfAnotherCaBeforeSendingTheSecret) {
  Daemon& a = Add({.id = "a"});
  a.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(a.address(), "status").has_value(); }, kSettle));
  const std::string code = Invite(a);

  // A fake member: a real daemon, enrolled with a CA of its own.
  Daemon& fake = Add({.id = "fake", .enrolled = false});
  const Stranger stranger;
  ASSERT_TRUE(trust::SaveCredentials(fake.state_dir() / "tls", stranger.Node("fake")).ok());
  fake.Start();
  ASSERT_TRUE(Eventually([&] { return Local(fake, {"status"}).exit_code == 0; }, kSettle));

  // The joiner is pointed at the fake member only.
  trust::JoinCode redirected = *trust::ParseJoinCode(code);
  redirected.members = {fake.address()};
  Daemon& joiner = Add({.id = "joiner", .enrolled = false});
  const CommandResult refused = Join(joiner, trust::FormatJoinCode(redirected));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("another CA"));
  EXPECT_THAT(refused.err, HasSubstr("not sending the code"));
  EXPECT_FALSE(std::filesystem::exists(joiner.state_dir() / "tls"));
  EXPECT_EQ(fake.Log().find("join request"), std::string::npos) << fake.Log();

  // The code was never spent: the real member still admits the joiner.
  const CommandResult admitted = Join(joiner, code);
  EXPECT_EQ(admitted.exit_code, 0) << admitted.err;
}

TEST_F(SecurityTest, ARemovedNodeIsRefusedByEveryMemberWithinSeconds) {
  Daemon& a = Add({.id = "a"});
  Daemon& b = Add({.id = "b", .seeds = {a.address()}});
  Daemon& c = Add({.id = "c", .seeds = {a.address()}});
  for (Daemon* daemon : {&a, &b, &c}) daemon->Start();
  ASSERT_TRUE(AllSeeEachOtherAlive({&a, &b, &c}, kSettle));

  // c's own credentials, as a thief who took its SD card would use them.
  const trust::Credentials stolen = *trust::LoadCredentials(c.state_dir() / "tls");
  const auto as_c = AcceptAnyNode(stolen);
  ASSERT_TRUE(CallStatus(as_c, b.address()).ok());

  const CommandResult removed = Local(a, {"node", "remove", "c"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually(
      [&] {
        return CallStatus(as_c, a.address()).error_code() == grpc::StatusCode::PERMISSION_DENIED &&
               CallStatus(as_c, b.address()).error_code() == grpc::StatusCode::PERMISSION_DENIED;
      },
      kRemovalSpread + 5s));
  const auto took = std::chrono::steady_clock::now() - start;
  // Reported for docs/security.md; the bound is the issue's.
  std::cout << "removal refused by every member "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms after the command\n";
  EXPECT_LT(took, kRemovalSpread) << "the removal took "
                                  << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                  << " ms to reach every member";
  const grpc::Status refused = CallStatus(as_c, b.address());
  EXPECT_THAT(refused.error_message(), HasSubstr("node c of cluster test was removed from the cluster"));
  // c is told, and, still running, is dead to the others.
  EXPECT_TRUE(Eventually(
      [&] { return c.Log().find("this node (node c of cluster test) was removed") != std::string::npos; },
      kSettle));
  EXPECT_TRUE(Eventually([&] { return PeerState(a, "c") != "alive" && PeerState(b, "c") != "alive"; },
                         kSettle));
  const auto status = Ctl(b.address(), "status");
  ASSERT_TRUE(status);
  EXPECT_EQ((*status)["security"]["revoked"], 1);
}

TEST_F(SecurityTest, JoiningWorksWhileTheInvitingMemberIsDown) {
  Daemon& a = Add({.id = "a"});
  Daemon& b = Add({.id = "b", .seeds = {a.address()}});
  a.Start();
  b.Start();
  ASSERT_TRUE(AllSeeEachOtherAlive({&a, &b}, kSettle));
  const std::string code = Invite(a);
  // The invitation spreads with the heartbeats.
  ASSERT_TRUE(Eventually(
      [&] {
        const auto status = Ctl(b.address(), "status");
        return status && (*status)["security"]["open_invites"] == 1;
      },
      kSettle));
  a.Signal(SIGKILL);
  ASSERT_TRUE(a.WaitExit(10s));

  Daemon& c = Add({.id = "c", .seeds = {b.address()}, .enrolled = false});
  c.Start();
  const CommandResult joined = Join(c, code);
  ASSERT_EQ(joined.exit_code, 0) << joined.err;
  EXPECT_THAT(joined.out, HasSubstr("admitted by " + b.address()));
  EXPECT_TRUE(Eventually([&] { return PeerState(b, "c") == "alive"; }, kSettle)) << c.Log();
}

TEST_F(SecurityTest, AnOperatorJoinsAndUsesTheCliRemotely) {
  Daemon& a = Add({.id = "a"});
  a.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(a.address(), "status").has_value(); }, kSettle));
  const std::string code = Invite(a, {"--operator"});
  const std::filesystem::path folder = dir_.path() / "alice";
  const CommandResult joined = RunCommandWithInput(
      DomianctlPath(),
      {"cluster", "join", "--operator", "alice", "--credentials", folder.string()}, code + "\n",
      60s);
  ASSERT_EQ(joined.exit_code, 0) << joined.err;
  EXPECT_FALSE(std::filesystem::exists(folder / trust::kAuthorityKeyFile))
      << "an operator never gets the CA's key";
  const CommandResult status = RunCommand(
      DomianctlPath(), {"--node", a.address(), "--credentials", folder.string(), "status", "--json"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  // Without a certificate, remote use is refused before any call.
  const CommandResult without = RunCommand(
      DomianctlPath(), {"--node", a.address(), "--credentials", (dir_.path() / "none").string(),
                        "status"});
  EXPECT_NE(without.exit_code, 0);
  EXPECT_THAT(without.err, HasSubstr("no operator certificate"));
  // Removing the operator shuts it out.
  ASSERT_EQ(Local(a, {"operator", "remove", "alice"}).exit_code, 0);
  const CommandResult after = RunCommand(
      DomianctlPath(), {"--node", a.address(), "--credentials", folder.string(), "status"});
  EXPECT_NE(after.exit_code, 0);
  EXPECT_THAT(after.err, HasSubstr("operator alice of cluster test was removed"));
}

TEST_F(SecurityTest, APlaintextNodeSaysSoLoudly) {
  Daemon& a = Add({.id = "a", .plaintext = true});
  a.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(a.address(), "status").has_value(); }, kSettle));
  EXPECT_EQ((*Ctl(a.address(), "status"))["security"]["transport"], "plaintext");
  EXPECT_THAT(a.Log(), HasSubstr("PLAINTEXT"));
  const CommandResult shown = RunCommand(DomianctlPath(), {"--plaintext", "--node", a.address(), "status"});
  EXPECT_THAT(shown.out, HasSubstr("PLAINTEXT"));
}

TEST_F(SecurityTest, SudoEnrolmentLeavesEveryFileToTheDaemonsUser) {
  // As `sudo domianctl cluster init` before the daemon ever ran, with
  // node.id unset (the package's default): the generated id and the
  // credentials must belong to the state folder's owner, the daemon's
  // user, or the daemon cannot read them.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run domianctl as root for another user";
  constexpr uid_t kDaemonUser = 65534;  // nobody
  const std::filesystem::path state = dir_.path() / "anon" / "state";
  std::filesystem::create_directories(state);
  ASSERT_EQ(::chown(state.c_str(), kDaemonUser, kDaemonUser), 0);
  const std::filesystem::path config = dir_.path() / "anon" / "node.yaml";
  std::ofstream(config) << "node:\n  cluster: test\n  listen: \"127.0.0.1:0\"\n  state_dir: "
                        << state.string() << "\n";
  const CommandResult init =
      RunCommand(DomianctlPath(), {"cluster", "init", "--config", config.string()}, 30s);
  ASSERT_EQ(init.exit_code, 0) << init.err;
  for (const auto& path : {state / "node-id", state / "tls", state / "tls" / "key.pem",
                           state / "tls" / "ca.key", state / "tls" / "cert.pem"}) {
    struct stat info {};
    ASSERT_EQ(::stat(path.c_str(), &info), 0) << path;
    EXPECT_EQ(info.st_uid, kDaemonUser) << path;
  }
}

TEST_F(SecurityTest, CheckConfigSaysHowThePortIsGuarded) {
  Daemon& fresh = Add({.id = "fresh", .enrolled = false});
  auto check = [](const Daemon& daemon) {
    return RunCommand(DomiandPath(), {"--check-config", daemon.config_path().string()});
  };
  CommandResult checked = check(fresh);
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_THAT(checked.out, HasSubstr("no credentials in"));
  EXPECT_FALSE(std::filesystem::exists(fresh.state_dir())) << "a check creates nothing";

  Daemon& enrolled = Add({.id = "enrolled"});
  checked = check(enrolled);
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_THAT(checked.out, HasSubstr("mutual TLS as node enrolled of cluster test"));

  // Credentials of another node: the file is valid, but the daemon would
  // refuse to start, and the check says so first.
  Daemon& mismatched = Add({.id = "mismatched", .enrolled = false});
  WriteNodeCredentials(mismatched.state_dir() / "tls", "test", "someone-else");
  checked = check(mismatched);
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_THAT(checked.err, HasSubstr("warning: security:"));
  EXPECT_THAT(checked.err, HasSubstr("is the certificate of node someone-else"));

  Daemon& plaintext = Add({.id = "plain", .plaintext = true});
  checked = check(plaintext);
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_THAT(checked.out, HasSubstr("PLAINTEXT"));
}

TEST_F(SecurityTest, RotatingTheCaSwitchesEveryMemberWithoutARestartThenDropsTheOldCa) {
  // How long members may take to switch, and a sleeping member to catch
  // up (the bound is generous: a loaded 2-core machine).
  constexpr auto kSwitch = 30s;
  Daemon& a = Add({.id = "a"});
  Daemon& b = Add({.id = "b", .seeds = {a.address()}});
  Daemon& c = Add({.id = "c", .seeds = {a.address()}});
  Daemon& d = Add({.id = "d", .seeds = {a.address()}});
  Daemon& r = Add({.id = "r", .seeds = {a.address()}});
  const std::vector<Daemon*> members = {&a, &b, &c, &d};
  for (Daemon* daemon : daemons_) daemon->Start();
  ASSERT_TRUE(AllSeeEachOtherAlive({&a, &b, &c, &d, &r}, kSettle));
  std::map<std::string, int> pids;
  for (Daemon* daemon : members) pids[daemon->id()] = daemon->Pid();

  // r is removed before the change, and a code is made before it.
  const trust::Credentials stolen = *trust::LoadCredentials(r.state_dir() / "tls");
  const trust::Credentials b_before = *trust::LoadCredentials(b.state_dir() / "tls");
  ASSERT_EQ(Local(a, {"node", "remove", "r"}).exit_code, 0);
  ASSERT_TRUE(Eventually(
      [&] {
        return CallStatus(AcceptAnyNode(stolen), b.address()).error_code() ==
               grpc::StatusCode::PERMISSION_DENIED;
      },
      kSettle));
  const std::string old_code = Invite(a);

  // d sleeps through the start (SIGSTOP): it cannot take the change.
  d.Signal(SIGSTOP);
  const CommandResult started = Local(a, {"cluster", "rotate-ca", "--json"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  const nlohmann::json start = nlohmann::json::parse(started.out);
  EXPECT_FALSE(start["finished"].get<bool>());
  const std::string new_ca_pem =
      *trust::SplitBundle(*ReadBoundedFile(a.state_dir() / "tls" / trust::kRootsFile, 65536))
           .value()
           .begin();
  ASSERT_EQ(*trust::Fingerprint(new_ca_pem), start["ca_fingerprint"].get<std::string>());

  // Every awake member presents a certificate of the new CA, without a
  // restart; the old CA's operator keeps calling services all along.
  // Each of `group` sees the others alive (r, removed, is dead to them).
  const auto alive = [&](const std::vector<Daemon*>& group) {
    return Eventually(
        [&] {
          for (Daemon* observer : group) {
            for (Daemon* other : group) {
              if (other != observer && PeerState(*observer, other->id()) != "alive") return false;
            }
          }
          return true;
        },
        kSettle);
  };
  const auto switched = [&](const Daemon& daemon) {
    return IsOf(PresentedCertificate(daemon.address()), new_ca_pem);
  };
  const auto begun = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually(
      [&] {
        const CommandResult call = CallService(b, "echo-c", "echo", R"({"x":1})");
        EXPECT_EQ(call.exit_code, 0) << call.err;
        return switched(a) && switched(b) && switched(c);
      },
      kSwitch));
  std::cout << "members switched to the new CA "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - begun)
                   .count()
            << " ms after rotate-ca\n";
  // The switched members keep their heartbeats going between them.
  EXPECT_TRUE(alive({&a, &b, &c}));
  const auto status = Ctl(c.address(), "status");
  ASSERT_TRUE(status);
  EXPECT_TRUE((*status)["security"]["rotating"].get<bool>());
  EXPECT_EQ((*status)["security"]["roots"].size(), 2u);
  EXPECT_EQ((*status)["security"]["certificate_ca"], start["ca_fingerprint"]);

  // The finish is refused while d has not switched, naming it.
  const CommandResult early = Local(a, {"cluster", "rotate-ca", "--finish"});
  EXPECT_NE(early.exit_code, 0);
  EXPECT_THAT(early.err, HasSubstr("do not present a certificate of the new CA yet: d ("));

  // d wakes up with the old CA alone, and catches up over the cross
  // certificate the others present.
  d.Signal(SIGCONT);
  ASSERT_TRUE(Eventually([&] { return switched(d); }, kSwitch)) << d.Log();
  ASSERT_TRUE(alive(members));
  const CommandResult finished = Local(a, {"cluster", "rotate-ca", "--finish", "--json"});
  ASSERT_EQ(finished.exit_code, 0) << finished.err;
  EXPECT_TRUE(nlohmann::json::parse(finished.out)["finished"].get<bool>());

  // Every member drops the old CA: b's certificate from before the change
  // (shown to a server it can check) is turned away at the TLS door while
  // the member still answers, and the door says why; so is the old
  // operator's.
  trust::Credentials b_old = b_before;
  b_old.roots_pem = new_ca_pem;
  ASSERT_TRUE(Eventually(
      [&] {
        for (Daemon* daemon : members) {
          const grpc::Status refused = CallStatus(AcceptAnyNode(b_old), daemon->address());
          if (refused.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
          if (Local(*daemon, {"status"}).exit_code != 0) return false;
        }
        return true;
      },
      kSwitch));
  // The door logs at most once per interval: knocking until its line says
  // this refusal.
  EXPECT_TRUE(Eventually(
      [&] {
        CallStatus(AcceptAnyNode(b_old), a.address());
        return a.Log().find("in the TLS handshake; the last: the certificate is not signed by") !=
               std::string::npos;
      },
      kSwitch))
      << a.Log();
  const CommandResult old_operator = CallService(b, "echo-c", "echo");
  EXPECT_NE(old_operator.exit_code, 0);

  // The members still talk to each other (asked as a local operator: the
  // old operator's certificate is refused now), and a new operator calls.
  EXPECT_TRUE(Eventually(
      [&] {
        for (Daemon* observer : members) {
          for (Daemon* other : members) {
            if (other == observer) continue;
            const CommandResult peers = Local(*observer, {"peers", "--json"});
            if (peers.exit_code != 0) return false;
            for (const auto& peer : nlohmann::json::parse(peers.out)) {
              if (peer["id"] == other->id() && peer["state"] != "alive") return false;
            }
          }
        }
        return true;
      },
      kSettle));
  const std::string operator_code = Invite(a, {"--operator"});
  const std::filesystem::path bob = dir_.path() / "bob";
  const CommandResult joined = RunCommandWithInput(
      DomianctlPath(), {"cluster", "join", "--operator", "bob", "--credentials", bob.string()},
      operator_code + "\n", 60s);
  ASSERT_EQ(joined.exit_code, 0) << joined.err;
  const CommandResult call = RunCommand(DomianctlPath(),
                                        {"--node", c.address(), "--credentials", bob.string(),
                                         "call", "echo-c", "echo", "{}"},
                                        60s);
  EXPECT_EQ(call.exit_code, 0) << call.err;

  // r stays removed: even a certificate of the new CA naming it is refused.
  const trust::Credentials a_now = *trust::LoadCredentials(a.state_dir() / "tls");
  trust::Credentials r_new = stolen;
  r_new.roots_pem = new_ca_pem;
  r_new.cert_pem = *trust::Issue(*a_now.authority, *trust::NewCsr(stolen.key_pem, stolen.self),
                                 stolen.self);
  r_new.authority.reset();
  for (Daemon* daemon : members) {
    const grpc::Status refused = CallStatus(AcceptAnyNode(r_new), daemon->address());
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << daemon->id();
    EXPECT_THAT(refused.error_message(), HasSubstr("node r of cluster test was removed"));
  }

  // A code made before the change pins the old CA: refused by the joiner.
  Daemon& e = Add({.id = "e", .enrolled = false});
  const CommandResult stale = Join(e, old_code);
  EXPECT_NE(stale.exit_code, 0);
  EXPECT_THAT(stale.err, HasSubstr("not sending the code"));

  // No member was restarted.
  for (Daemon* daemon : members) EXPECT_EQ(daemon->Pid(), pids[daemon->id()]) << daemon->id();
  const auto after = Ctl(a.address(), "status");
  EXPECT_FALSE(after) << "the old operator's certificate is refused";
  const CommandResult shown = Local(b, {"status", "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const nlohmann::json security = nlohmann::json::parse(shown.out)["security"];
  EXPECT_FALSE(security["rotating"].get<bool>());
  EXPECT_EQ(security["roots"].size(), 1u);
  EXPECT_EQ(security["revoked"], 1);
}

}  // namespace
}  // namespace domian::testing
