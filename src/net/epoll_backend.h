#pragma once

#include <memory>

#include "pastel/net.h"

namespace pastel::net {

Result<std::unique_ptr<Backend>> MakeEpollBackend(Pool& pool, uint32_t partition,
                                                  const NetOptions& o);

}  // namespace pastel::net
