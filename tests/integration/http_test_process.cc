#include "tests/integration/http_test_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "tests/integration/http_test_client.h"

extern char** environ;

namespace pastel::integration {
namespace {

using Clock = std::chrono::steady_clock;

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  }
  return "ended with wait status " + std::to_string(status);
}

// Spawns argv in its own process group with stdin from /dev/null and stdout/stderr to the files.
// Returns the pid, or -1 with `error` set.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const std::string& err_path, std::string* error) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: signals reach it and its children only
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (std::string& a : args) {
    cargv.push_back(a.data());
  }
  cargv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0].c_str(), &fa, &attr, cargv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    *error = "posix_spawn " + args[0] + ": " + std::strerror(rc);
    return -1;
  }
  return pid;
}

// Waits for `pid` at most `timeout`; true with `*status` set when it ended.
bool WaitFor(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    const pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) {
      return true;
    }
    if (r < 0 && errno != EINTR) {
      *status = 0;
      return true;  // not our child any more: nothing to wait for
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void WaitBlocking(pid_t pid, int* status) {
  while (::waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
}

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f);
}

std::string RunResult::Describe() const {
  std::string s = !started ? "not started"
                  : exited ? "exit code " + std::to_string(exit_code)
                           : "killed (crash or time limit)";
  return s + "\n--- stdout:\n" + Tail(out, 4000) + "\n--- stderr:\n" + Tail(err, 4000);
}

RunResult RunProgram(const std::vector<std::string>& argv, const std::string& dir, int timeout_s) {
  RunResult r;
  const std::string out_path = dir + "/run.stdout";
  const std::string err_path = dir + "/run.stderr";
  std::string error;
  const pid_t pid = Spawn(argv, out_path, err_path, &error);
  if (pid < 0) {
    r.err = error;
    return r;
  }
  r.started = true;
  int status = 0;
  if (!WaitFor(pid, std::chrono::seconds(timeout_s), &status)) {
    ::kill(-pid, SIGKILL);
    WaitBlocking(pid, &status);
  }
  r.exited = WIFEXITED(status);
  r.exit_code = r.exited ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return r;
}

Server::Server(std::string name, std::vector<std::string> argv, std::string dir)
    : name_(std::move(name)), argv_(std::move(argv)), dir_(std::move(dir)) {}

Server::~Server() {
  if (pid_ > 0) {
    (void)Stop();
  }
}

std::string Server::StderrTail() const {
  return stderr_path_.empty() ? "" : Tail(ReadFile(stderr_path_), 3000);
}

::testing::AssertionResult Server::Start() {
  if (pid_ > 0) {
    return ::testing::AssertionFailure() << name_ << " is already running";
  }
  ++incarnation_;
  const std::string base = dir_ + "/" + name_ + "-" + std::to_string(incarnation_);
  stdout_path_ = base + ".stdout";
  stderr_path_ = base + ".stderr";
  std::string command;
  for (const std::string& a : argv_) {
    command += (command.empty() ? "" : " ") + a;
  }
  std::string error;
  pid_ = Spawn(argv_, stdout_path_, stderr_path_, &error);
  if (pid_ < 0) {
    return ::testing::AssertionFailure() << error;
  }
  static constexpr std::string_view kPrefix = "listening on 127.0.0.1:";
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(kStartTimeoutS);
  for (;;) {
    const std::string out = ReadFile(stdout_path_);
    const size_t at = out.find(kPrefix);
    if (at != std::string::npos) {
      const size_t end = out.find('\n', at);
      if (end != std::string::npos) {
        const std::string digits = out.substr(at + kPrefix.size(), end - at - kPrefix.size());
        const bool numeric = !digits.empty() && digits.size() <= 5 &&
                             digits.find_first_not_of("0123456789") == std::string::npos;
        const unsigned long port = numeric ? std::stoul(digits) : 0;
        if (port == 0 || port > 65535) {
          Kill9();
          return ::testing::AssertionFailure()
                 << command << ": bad listening line '" << Escape(out.substr(at, end - at)) << "'";
        }
        port_ = static_cast<uint16_t>(port);
        return ::testing::AssertionSuccess();
      }
    }
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return ::testing::AssertionFailure()
             << command << ": " << DescribeStatus(status) << " before printing 'listening on "
             << "127.0.0.1:PORT'\n--- stdout:\n"
             << Tail(out, 2000) << "\n--- stderr:\n"
             << StderrTail();
    }
    if (Clock::now() >= deadline) {
      Kill9();
      return ::testing::AssertionFailure()
             << command << ": no line 'listening on 127.0.0.1:PORT' on stdout within "
             << kStartTimeoutS << " s (is stdout flushed?)\n--- stdout:\n"
             << Tail(out, 2000) << "\n--- stderr:\n"
             << StderrTail();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

::testing::AssertionResult Server::Stop() {
  if (pid_ <= 0) {
    return ::testing::AssertionSuccess();
  }
  ::kill(-pid_, SIGTERM);
  int status = 0;
  const bool ended = WaitFor(pid_, std::chrono::seconds(kStopTimeoutS), &status);
  if (!ended) {
    ::kill(-pid_, SIGKILL);
    WaitBlocking(pid_, &status);
  }
  pid_ = -1;
  if (!ended) {
    return ::testing::AssertionFailure() << name_ << " did not stop within " << kStopTimeoutS
                                         << " s of SIGTERM (killed)\n--- stderr:\n"
                                         << StderrTail();
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return ::testing::AssertionFailure()
           << name_ << " on SIGTERM: " << DescribeStatus(status) << "\n--- stderr:\n"
           << StderrTail();
  }
  return ::testing::AssertionSuccess();
}

void Server::Kill9() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(-pid_, SIGKILL);
  int status = 0;
  WaitBlocking(pid_, &status);
  pid_ = -1;
}

::testing::AssertionResult Server::Restart() {
  if (pid_ > 0) {
    ::testing::AssertionResult stopped = Stop();
    if (!stopped) {
      return stopped;
    }
  }
  return Start();
}

}  // namespace pastel::integration
