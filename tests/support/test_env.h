#pragma once
// What a test reads from its environment: scale knobs (PASTEL_KILL_ROUNDS, ...) and the seed of
// its random choices, so that a failing run can be repeated.

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string_view>

namespace pastel::testing {

// The unsigned number in environment variable `name`, or `dflt` when it is unset or empty.
inline uint64_t EnvU64(const char* name, uint64_t dflt) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : dflt;
}

// The seed of a test's random choices. Unset PASTEL_TEST_SEED: 1, so that every run of the test
// command draws the same cases and a test's outcome never rests on a draw. A number: that seed
// (to repeat a run); "random": a fresh one per run (to explore; the test prints it).
inline uint64_t TestSeed() {
  const char* s = std::getenv("PASTEL_TEST_SEED");
  if (s == nullptr || *s == '\0') {
    return 1;
  }
  if (std::string_view(s) == "random") {
    return std::random_device{}();
  }
  return std::strtoull(s, nullptr, 10);
}

}  // namespace pastel::testing
