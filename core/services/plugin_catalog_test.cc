// The catalog over real folders holding the test plugins.
#include "core/services/plugin_catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

namespace domian::services {
namespace {

using ::testing::HasSubstr;
using Kind = PluginCatalog::Change::Kind;

const std::filesystem::path kPlugins = DOMIAN_TEST_PLUGIN_DIR;

class PluginCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "domian-catalog-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    std::filesystem::permissions(root_, std::filesystem::perms(0755));
    for (const char* name : {"system", "local"}) {
      std::filesystem::create_directory(root_ / name);
      std::filesystem::permissions(root_ / name, std::filesystem::perms(0755));
    }
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Installs like a package manager: a new file renamed into place, so
  // the old one (maybe mapped) is never written over.
  void Install(const std::string& plugin, const std::string& dir, const std::string& as = "") {
    const auto target = root_ / dir / (as.empty() ? plugin + ".so" : as);
    const auto temporary = target.string() + ".new";
    std::filesystem::copy_file(kPlugins / (plugin + ".so"), temporary,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(temporary, std::filesystem::perms(0644));
    std::filesystem::rename(temporary, target);
  }

  static bool Has(const std::vector<PluginCatalog::Change>& changes, Kind kind,
                  const std::string& text) {
    return std::any_of(changes.begin(), changes.end(), [&](const auto& change) {
      return change.kind == kind && change.message.find(text) != std::string::npos;
    });
  }

  std::filesystem::path root_;
};

TEST_F(PluginCatalogTest, FindsPluginsInEveryFolder) {
  Install("echo-c", "system");
  Install("counter-cpp", "local");
  PluginCatalog catalog({root_ / "system", root_ / "local"});
  const auto changes = catalog.Scan();
  // The test plugins are built against the current header.
  EXPECT_TRUE(Has(changes, Kind::kAdded,
                  "plugin echo-c 1.0.0 (ABI " + std::to_string(DOMIAN_PLUGIN_ABI_MAJOR) + "." +
                      std::to_string(DOMIAN_PLUGIN_ABI_MINOR) + ")"));
  EXPECT_TRUE(Has(changes, Kind::kAdded, "plugin counter-cpp 2.1.0"));
  ASSERT_TRUE(catalog.Find("echo-c"));
  EXPECT_EQ(catalog.Find("echo-c")->description().path, root_ / "system" / "echo-c.so");
  EXPECT_TRUE(catalog.Find("counter-cpp"));
  EXPECT_FALSE(catalog.Find("lights"));
  EXPECT_TRUE(catalog.Scan().empty());  // nothing changed, nothing said again
}

TEST_F(PluginCatalogTest, TheSameServiceTwiceIsRefusedFromTheLaterFolder) {
  Install("echo-c", "system");
  Install("echo-c", "local");
  PluginCatalog catalog({root_ / "system", root_ / "local"});
  const auto changes = catalog.Scan();
  EXPECT_TRUE(Has(changes, Kind::kRefused,
                  (root_ / "local" / "echo-c.so").string() +
                      ": service echo-c is already provided by " +
                      (root_ / "system" / "echo-c.so").string()));
  EXPECT_EQ(catalog.Find("echo-c")->description().path, root_ / "system" / "echo-c.so");
  const auto entries = catalog.Entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_TRUE(entries[0].library);
  EXPECT_FALSE(entries[1].library);
  EXPECT_THAT(entries[1].refusal, HasSubstr("already provided"));
  EXPECT_TRUE(catalog.Scan().empty());  // refused once, not at every scan
}

TEST_F(PluginCatalogTest, RefusedFilesAreListedWithTheirReason) {
  std::ofstream(root_ / "system" / "junk.so") << "text";
  Install("echo-c", "system", "lights.so");  // a plugin under another service's name
  PluginCatalog catalog({root_ / "system"});
  const auto changes = catalog.Scan();
  EXPECT_TRUE(Has(changes, Kind::kRefused, "junk.so: not a loadable shared object"));
  EXPECT_TRUE(Has(changes, Kind::kRefused,
                  "lights.so: the plugin calls itself 'echo-c' but the file is lights.so"));
  EXPECT_FALSE(catalog.Find("echo-c"));
  EXPECT_FALSE(catalog.Find("lights"));
  EXPECT_EQ(catalog.Entries().size(), 2u);
}

TEST_F(PluginCatalogTest, DropInReplaceAndRemoveAreSeenByTheNextScan) {
  PluginCatalog catalog({root_ / "system"});
  EXPECT_TRUE(catalog.Scan().empty());
  Install("echo-c", "system");
  EXPECT_TRUE(Has(catalog.Scan(), Kind::kAdded, "plugin echo-c"));
  const auto first = catalog.Find("echo-c");
  Install("echo-c", "system");  // a new version of the file
  EXPECT_TRUE(Has(catalog.Scan(), Kind::kReplaced, "replaced by plugin echo-c"));
  const auto second = catalog.Find("echo-c");
  EXPECT_NE(first, second);  // new instances use the new library
  EXPECT_EQ(first->description().name, "echo-c");  // the old one stays usable
  std::filesystem::remove(root_ / "system" / "echo-c.so");
  EXPECT_TRUE(Has(catalog.Scan(), Kind::kRemoved, "echo-c.so: removed"));
  EXPECT_FALSE(catalog.Find("echo-c"));
}

}  // namespace
}  // namespace domian::services
