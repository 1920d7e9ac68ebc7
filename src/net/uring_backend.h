#pragma once

#include <memory>
#include <string>

#include "pastel/net.h"

namespace pastel::net {

Result<std::unique_ptr<Backend>> MakeUringBackend(Pool& pool, uint32_t partition,
                                                  const NetOptions& o);
// OK when this kernel has what the uring backend needs; else kUnsupported saying what is missing.
Status ProbeUring();

}  // namespace pastel::net
