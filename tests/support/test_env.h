#pragma once
// What a test reads from its environment: scale knobs (PASTEL_KILL_ROUNDS, ...) and the seed of
// its random choices, so that a failing run can be repeated.

#include <cstdint>
#include <cstdlib>
#include <random>

namespace pastel::testing {

// The unsigned number in environment variable `name`, or `dflt` when it is unset or empty.
inline uint64_t EnvU64(const char* name, uint64_t dflt) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : dflt;
}

// PASTEL_TEST_SEED when set, else a fresh random seed (the test prints it).
inline uint64_t TestSeed() {
  if (const char* s = std::getenv("PASTEL_TEST_SEED"); s != nullptr && *s != '\0') {
    return std::strtoull(s, nullptr, 10);
  }
  return std::random_device{}();
}

}  // namespace pastel::testing
