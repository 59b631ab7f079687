#pragma once

// A fresh directory under the system temp directory, removed (recursively) on destruction
// unless APISIX_TEST_KEEP_PREFIX is set.

#include <filesystem>
#include <string>
#include <string_view>

namespace apisix::test {

class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "apisix-itest-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes `contents` to `path` through a temporary file and rename(), so readers see either
// the old or the new file.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);
void write_file(const std::filesystem::path& path, std::string_view contents);
// The whole file, or "" when it cannot be read.
std::string read_file(const std::filesystem::path& path);
// The last `lines` lines of a file.
std::string tail_file(const std::filesystem::path& path, size_t lines);

}  // namespace apisix::test
