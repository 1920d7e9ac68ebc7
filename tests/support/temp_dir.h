#pragma once
// A unique temporary directory for one test, removed (with its files) when the object dies.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace pastel::testing {

class TempDir {
 public:
  // `parent`: /dev/shm for emulated PM, /var/tmp for a regular file system.
  explicit TempDir(const std::string& parent = "/dev/shm") {
    std::string tmpl = parent + "/pastel-test-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    path_ = p != nullptr ? tmpl : std::string();
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace pastel::testing
