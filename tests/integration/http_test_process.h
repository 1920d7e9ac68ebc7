#pragma once
// Child processes for black-box tests: a server binary that is started, waited for, stopped,
// killed with SIGKILL and restarted on the same pool; and short-lived tools (curl, pastelctl) run
// to completion with a time limit. Output goes to files in the test's directory, never to a pipe
// that could fill up and block the child.
//
// Single-threaded use: the test's main thread owns a Server.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pastel::integration {

struct RunResult {
  bool started = false;
  bool exited = false;  // false: killed by a signal, or by the time limit
  int exit_code = -1;
  std::string out;
  std::string err;
  std::string Describe() const;
};

// Runs argv[0] with argv (stdin /dev/null, stdout and stderr to files in `dir`), waits at most
// `timeout_s` seconds, then kills it.
RunResult RunProgram(const std::vector<std::string>& argv, const std::string& dir, int timeout_s);

// A server process in its own process group. Lifecycle: Start, then any number of Kill9 or Stop
// each followed by Restart; the destructor stops a running server. Each incarnation writes its
// stdout and stderr to "<dir>/<name>-<n>.stdout|stderr".
class Server {
 public:
  static constexpr int kStartTimeoutS = 20;
  static constexpr int kStopTimeoutS = 5;

  Server(std::string name, std::vector<std::string> argv, std::string dir);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Spawns the server and waits until its stdout holds "listening on 127.0.0.1:PORT\n".
  ::testing::AssertionResult Start();
  // SIGTERM to the process group; SIGKILL after kStopTimeoutS. Succeeds when the server exited by
  // itself with status 0 in time.
  ::testing::AssertionResult Stop();
  // SIGKILL to the process group; waits for the process.
  void Kill9();
  // Start again with the same arguments (same pool); a running server is stopped first.
  ::testing::AssertionResult Restart();

  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  // The last bytes of this incarnation's stderr, for failure messages.
  std::string StderrTail() const;

 private:
  std::string name_;
  std::vector<std::string> argv_;
  std::string dir_;
  int incarnation_ = 0;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string stdout_path_;
  std::string stderr_path_;
};

std::string ReadFile(const std::string& path);
bool WriteFile(const std::string& path, const std::string& bytes);

}  // namespace pastel::integration
